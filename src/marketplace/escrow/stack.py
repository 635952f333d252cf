"""The escrow's moving parts, built once from the settings: ``EscrowStack``.

What the worker's job handlers use (through ``marketplace.escrow.services``): monerod's RPC
(``daemon``), the three roles' signers (``signers``, ``WalletSigner`` over each role's wallet-rpc
endpoints), the encrypted backup of every escrow's wallet files (``backup``, GnuPG to the
operator's key) and payment detection (``detector``, through the arbiter's copy of the escrow
wallet). Nothing here touches the database.

``EscrowStack.from_settings`` answers ``None`` when escrow is off (no monerod or signer URLs). When
it is on, what cannot work is refused at start-up with a message naming the setting
(``EscrowConfigurationError``): a role without a wallet directory (the worker copies wallet files
from it for backups), a backup key gpg does not hold. It contacts no service: a monerod or a
wallet-rpc that is down is a health record (``probe``), not a start-up failure.

In development without ``MARKETPLACE_BACKUP_GPG_RECIPIENT`` a backup key is generated once in
``<data dir>/gnupg`` (``key_backup.development_backup_key``; the log says so), as the master key is
(``master_key.load_master_key``).

Fast tests build the same stack over ``FakeSigner``s: ``fake_signer.fake_stack()``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from marketplace.escrow.key_backup import BackedUpSigner, BackupFailed, GpgBackup, development_backup_key
from marketplace.escrow.master_key import load_master_key
from marketplace.escrow.payments import PaymentDetector, WalletPaymentDetector
from marketplace.escrow.signer import EscrowWallet, Signer, SignerRole
from marketplace.escrow.wallet_passwords import WalletPasswords
from marketplace.escrow.wallet_signer import EndpointHealth, WalletSigner
from marketplace.monero.rpc import DaemonInfo, DaemonRpc, DaemonTransaction
from marketplace.monero.rpc_errors import RpcError
from marketplace.settings import ENV_PREFIX, MoneroNetwork, Settings

# Whose copy of an escrow's wallet payment detection reads (any role would do; one keeps the
# number of wallet opens down).
DETECTOR_ROLE = SignerRole.ARBITER

# monerod's ``get_info`` nettype for each network the marketplace can be set to.
NETTYPES = {
    MoneroNetwork.MAINNET: "mainnet",
    MoneroNetwork.STAGENET: "stagenet",
    MoneroNetwork.TESTNET: "testnet",
    MoneroNetwork.REGTEST: "fakechain",
}


class EscrowConfigurationError(RuntimeError):
    """Escrow is on but cannot work as configured; the message names the setting (never a secret)."""


class Daemon(Protocol):
    """What the escrow asks monerod (``DaemonRpc``; ``fake_signer.FakeDaemon`` in fast tests)."""

    @property
    def url(self) -> str: ...

    def get_info(self) -> DaemonInfo: ...

    def get_height(self) -> int: ...

    def is_key_image_spent(self, key_images: Sequence[str]) -> list[int]: ...

    def get_transactions(self, txids: Sequence[str], *, decode: bool = False) -> list[DaemonTransaction]: ...

    def close(self) -> None: ...


class StackSigner(Signer, Protocol):
    """A ``Signer`` the stack owns: it can be probed and closed."""

    def probe(self) -> list[EndpointHealth]:
        """Ask each endpoint whether it answers (opening nothing) → one health record each."""
        ...

    def close(self) -> None: ...


class EscrowBackup(Protocol):
    """Backs up the three wallet files of an escrow (before its address is shown)."""

    def back_up(self, escrow: EscrowWallet) -> Sequence[Path]: ...


@dataclass(frozen=True)
class SignerFilesBackup:
    """``GpgBackup`` of the wallet files of the marketplace's own signers."""

    gpg: GpgBackup
    signers: tuple[BackedUpSigner, ...]

    def back_up(self, escrow: EscrowWallet) -> Sequence[Path]:
        return self.gpg.back_up(escrow, self.signers)


@dataclass(frozen=True)
class HealthCheck:
    """One dependency's state as a probe found it; the shape of a ``service_health`` row.

    ``name``: ``monerod`` or ``signer:<role>:<url>``; ``detail``: what an operator needs (an error
    message, the chain height), never a secret.
    """

    name: str
    ok: bool
    checked_at: datetime
    detail: str
    latency_ms: float | None = None
    height: int | None = None  # monerod's chain height; a signer endpoint's open wallet's height
    role: str | None = None  # a signer endpoint's role and URL
    url: str | None = None


@dataclass
class EscrowStack:
    """See the module docstring. Build it with ``from_settings`` (or ``fake_signer.fake_stack``),
    share it between the worker's threads, ``close`` it at the end."""

    daemon: Daemon
    signers: Mapping[SignerRole, StackSigner]
    backup: EscrowBackup
    detector: PaymentDetector
    nettype: str | None = None  # what monerod's get_info must say; None: not checked

    @classmethod
    def from_settings(cls, settings: Settings) -> EscrowStack | None:
        """The real stack, or ``None`` when escrow is off; ``EscrowConfigurationError`` when it is
        on but cannot work (see the module docstring)."""
        if not settings.escrow_configured or settings.monerod_url is None:
            return None
        wallet_dirs = {role: _wallet_dir(settings, role) for role in SignerRole}
        try:
            passwords = WalletPasswords(load_master_key(settings))
        except (RuntimeError, ValueError) as error:
            raise EscrowConfigurationError(f"{ENV_PREFIX}WALLET_MASTER_KEY: {error}") from error
        gpg = _gpg_backup(settings)
        timeout = settings.monero_rpc_timeout_seconds
        signers = {
            role: WalletSigner(
                role,
                settings.signer_urls(role),
                login=settings.signer_login(role),
                wallet_dir=wallet_dirs[role],
                passwords=passwords,
                timeout=timeout,
            )
            for role in SignerRole
        }
        daemon = DaemonRpc(settings.monerod_url, timeout=timeout)
        return cls(
            daemon=daemon,
            signers=signers,
            backup=SignerFilesBackup(gpg, tuple(signers.values())),
            detector=WalletPaymentDetector(signers[DETECTOR_ROLE], daemon.get_height),
            nettype=NETTYPES[settings.network],
        )

    def signer(self, role: SignerRole | str) -> StackSigner:
        return self.signers[SignerRole(role)]

    def signers_for(self, roles: Iterable[SignerRole | str]) -> list[StackSigner]:
        """The signers of ``roles``, in that order."""
        return [self.signer(role) for role in roles]

    def probe(self) -> list[HealthCheck]:
        """monerod's ``get_info`` and each signer endpoint's ``get_version`` (and ``get_height`` of
        the wallet this process left open there, for the sync-lag metric): one record each, the
        daemon first, then each role's endpoints in order (opens no wallet; errors are records,
        never raised). The daemon and the three roles are asked at once."""
        with ThreadPoolExecutor(max_workers=1 + len(SignerRole)) as pool:
            daemon = pool.submit(self._probe_daemon)
            roles = [(role, pool.submit(self.signers[role].probe)) for role in SignerRole]
            checks = [daemon.result()]
            checks.extend(
                HealthCheck(
                    name=f"signer:{role}:{health.url}",
                    ok=health.ok,
                    checked_at=_now(),
                    detail=_signer_detail(health),
                    latency_ms=health.latency_ms,
                    height=health.wallet_height,
                    role=str(role),
                    url=health.url,
                )
                for role, future in roles
                for health in future.result()
            )
        return checks

    def _probe_daemon(self) -> HealthCheck:
        started = time.monotonic()
        try:
            info = self.daemon.get_info()
        except RpcError as error:
            ok, detail, height = False, error.message, None
        else:
            height = info.height
            ok, detail = True, f"height {info.height}, {info.nettype}"
            if self.nettype is not None and info.nettype != self.nettype:
                ok, detail = False, f"monerod runs {info.nettype}, the marketplace expects {self.nettype}"
            elif not info.synchronized:
                detail += ", not synchronized"
        latency = (time.monotonic() - started) * 1000
        return HealthCheck(name="monerod", ok=ok, checked_at=_now(), detail=detail, latency_ms=latency, height=height)

    def close(self) -> None:
        """Close every connection (the wallets stay open in their wallet-rpcs)."""
        for signer in self.signers.values():
            signer.close()
        self.daemon.close()


def _now() -> datetime:
    return datetime.now(UTC)


def _signer_detail(health: EndpointHealth) -> str:
    if not health.ok:
        return health.last_error or "no answer"
    return f"restarts detected: {health.restarts_detected}" if health.restarts_detected else ""


def _wallet_dir(settings: Settings, role: SignerRole) -> Path:
    variable = f"{ENV_PREFIX}SIGNER_{role.upper()}_WALLET_DIR"
    directory: Path | None = getattr(settings, f"signer_{role}_wallet_dir")
    if directory is None:
        raise EscrowConfigurationError(
            f"escrow is on but {variable} is not set: the worker backs up each {role} wallet from the "
            f"{role} wallet-rpcs' --wallet-dir"
        )
    if not directory.is_dir():
        raise EscrowConfigurationError(f"{variable} names {directory}, which is not a directory")
    return directory


def _gpg_backup(settings: Settings) -> GpgBackup:
    recipient, home = settings.backup_gpg_recipient, settings.backup_gpg_home
    try:
        if recipient is None:
            if not settings.is_development:
                raise EscrowConfigurationError(f"escrow is on but {ENV_PREFIX}BACKUP_GPG_RECIPIENT is not set")
            home, recipient = development_backup_key(settings.data_dir)
        backup = GpgBackup(settings.resolved_backup_dir, recipient, home)
        backup.check()
    except BackupFailed as error:
        raise EscrowConfigurationError(f"{ENV_PREFIX}BACKUP_GPG_RECIPIENT: {error}") from error
    return backup
