"""Key material is never in one place only: each escrow wallet's files, encrypted to the operator.

Monero 0.18.0.0 cannot restore a multisig wallet from its seed over RPC, so these copies are the
restore path. After an escrow's setup, and before its address is shown to anyone, ``back_up``:

1. has each role's signer store its wallet and copy its two files, ``<name>`` (cache) and
   ``<name>.keys`` (keys, encrypted by the wallet password), out of the role's wallet directory
   (``copy_files``: under the endpoint's lock, so no save by the wallet-rpc tears the copy);
3. encrypts each with GnuPG to the operator's backup key (``MARKETPLACE_BACKUP_GPG_RECIPIENT``)
   into ``<backup dir>/<role>/<name>[.keys].gpg``: written to a temporary name in the same
   directory, checked to exist and be non-empty, then renamed into place (a crash leaves either
   the previous file or none, never half of one).

``gpg`` runs as a subprocess with ``--batch --yes --trust-model always --homedir <gpg home>``; no
secret is ever on its command line (encrypting needs only the public key; ``restore`` passes a
passphrase, when there is one, on a pipe). The wallet password is not in the backup: it is derived
from the master key (``wallet_passwords``), which the operator backs up separately.

``restore`` does the reverse into any wallet directory (a different wallet-rpc's): decrypt both
files, atomically; then open the wallet there, refresh, and make a fresh exchange before signing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from marketplace.escrow.signer import EscrowWallet, SignerRole

GPG_TIMEOUT = 60.0  # seconds per file


class BackupFailed(Exception):
    """A backup or restore step failed; the message says which file and why (no secret in it)."""


class BackedUpSigner(Protocol):
    """A signer whose wallet files this process can read (the marketplace's own ``WalletSigner``)."""

    @property
    def role(self) -> SignerRole: ...

    def copy_files(self, escrow: EscrowWallet, directory: Path) -> list[Path]:
        """Store the wallet and copy ``<name>`` and ``<name>.keys`` into ``directory``."""
        ...


@dataclass(frozen=True)
class GpgBackup:
    """Where backups go and to whom they are encrypted.

    ``recipient``: the operator's key (fingerprint or user id); ``gpg_home``: the GnuPG home that
    holds its public key (``None``: gpg's default).
    """

    backup_dir: Path
    recipient: str
    gpg_home: Path | None = None

    def _gpg(self) -> list[str]:
        gpg = shutil.which("gpg")
        if gpg is None:
            raise BackupFailed("gpg is not installed (Debian: apt-get install gpg).")
        command = [gpg, "--batch", "--yes", "--trust-model", "always", "--no-tty"]
        if self.gpg_home is not None:
            command += ["--homedir", str(self.gpg_home)]
        return command

    def path_of(self, role: str, file_name: str) -> Path:
        return self.backup_dir / role / f"{file_name}.gpg"

    def back_up(self, escrow: EscrowWallet, signers: Sequence[BackedUpSigner]) -> list[Path]:
        """Store, copy and encrypt every signer's wallet files for ``escrow`` → the backup files."""
        written: list[Path] = []
        self.backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for signer in signers:
            with tempfile.TemporaryDirectory(prefix=".copy-", dir=self.backup_dir) as scratch:
                copies = signer.copy_files(escrow, Path(scratch))
                names = sorted(copy.name for copy in copies)
                if names != sorted((escrow.wallet_name, f"{escrow.wallet_name}.keys")):
                    raise BackupFailed(f"The {signer.role} signer copied {names}, not the wallet's two files.")
                written.extend(self.encrypt_file(copy, self.path_of(signer.role, copy.name)) for copy in copies)
        return written

    def encrypt_file(self, source: Path, target: Path) -> Path:
        """Encrypt ``source`` to the recipient into ``target``, atomically; checked non-empty."""
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        command = [*self._gpg(), "--recipient", self.recipient, "--encrypt", "--output"]
        self._run_atomically(command, source, target, what=f"encrypting {source.name}")
        return target

    def restore(
        self, escrow: EscrowWallet, role: str, wallet_dir: Path, *, passphrase: str | None = None
    ) -> list[Path]:
        """Decrypt ``role``'s backed-up files of ``escrow`` into ``wallet_dir`` (both files) →
        their paths. ``passphrase`` unlocks the operator's secret key, given on a pipe."""
        restored = []
        for file_name in (escrow.wallet_name, f"{escrow.wallet_name}.keys"):
            source = self.path_of(role, file_name)
            if not source.is_file():
                raise BackupFailed(f"No backup of the {role} wallet file {file_name}.")
            command = [*self._gpg()]
            if passphrase is not None:
                command += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
            command += ["--decrypt", "--output"]
            target = wallet_dir / file_name
            self._run_atomically(command, source, target, what=f"decrypting {file_name}", stdin=passphrase)
            restored.append(target)
        return restored

    def _run_atomically(
        self, command: list[str], source: Path, target: Path, *, what: str, stdin: str | None = None
    ) -> None:
        descriptor, temporary_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(descriptor)
        temporary = Path(temporary_name)
        try:
            result = subprocess.run(  # noqa: S603 - a fixed command, no shell, no secret in it
                [*command, str(temporary), str(source)],
                input=(stdin + "\n").encode() if stdin is not None else None,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                timeout=GPG_TIMEOUT,
                check=False,
            )
            if result.returncode != 0:
                detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no detail"]
                raise BackupFailed(f"gpg failed {what} (exit {result.returncode}): {detail[0]}")
            if temporary.stat().st_size == 0:
                raise BackupFailed(f"gpg wrote nothing {what}.")
            with temporary.open("rb") as file:
                os.fsync(file.fileno())
            temporary.replace(target)
            _fsync_directory(target.parent)
        finally:
            temporary.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_throwaway_key(gpg_home: Path, user_id: str) -> str:
    """Make a fresh GnuPG home with one key pair WITHOUT a passphrase (ed25519 to certify and
    sign, cv25519 to encrypt) → its fingerprint.

    For regtest only: the test suite and the bench encrypt to it and decrypt with it. Never for
    real funds (an operator's backup key is made and kept offline by the operator). Stop the
    GnuPG agent it starts with ``stop_gpg_agent`` when done.
    """
    gpg = shutil.which("gpg")
    if gpg is None:
        raise BackupFailed("gpg is not installed (Debian: apt-get install gpg).")
    gpg_home.mkdir(mode=0o700, parents=True)
    base = [gpg, "--batch", "--no-tty", "--homedir", str(gpg_home)]
    generate = [*base, "--passphrase", "", "--quick-gen-key", user_id, "future-default", "default", "never"]
    created = subprocess.run(generate, capture_output=True, timeout=GPG_TIMEOUT, check=False)  # noqa: S603
    if created.returncode != 0:
        raise BackupFailed(f"gpg could not make a key: {created.stderr.decode(errors='replace').strip()}")
    listing = subprocess.run(  # noqa: S603
        [*base, "--with-colons", "--list-keys", user_id],
        capture_output=True,
        text=True,
        timeout=GPG_TIMEOUT,
        check=True,
    ).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def stop_gpg_agent(gpg_home: Path) -> None:
    """Stop the GnuPG agent (and any other daemon) that gpg started for ``gpg_home``."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf is not None:
        subprocess.run(  # noqa: S603
            [gpgconf, "--homedir", str(gpg_home), "--kill", "all"],
            capture_output=True,
            timeout=GPG_TIMEOUT,
            check=False,
        )
