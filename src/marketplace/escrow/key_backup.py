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

In development without ``MARKETPLACE_BACKUP_GPG_RECIPIENT``, ``development_backup_key`` generates
a backup key once in ``<data dir>/gnupg`` (no passphrase: development only) and the log says so.
"""

from __future__ import annotations

import fcntl
import logging
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
DEVELOPMENT_GPG_HOME = "gnupg"  # under the data directory
DEVELOPMENT_USER_ID = "marketplace-backup@development.invalid"

log = logging.getLogger("marketplace.escrow")


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

    def check(self) -> None:
        """Raise ``BackupFailed`` unless gpg is installed and holds a usable encryption key for the
        recipient (so a missing key stops the start, not the first escrow's setup)."""
        result = subprocess.run(  # noqa: S603 - a fixed command, no shell, no secret in it
            [*self._gpg(), "--with-colons", "--list-keys", self.recipient],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GPG_TIMEOUT,
            check=False,
        )
        where = f"the GnuPG home {self.gpg_home}" if self.gpg_home is not None else "gpg's default home"
        if result.returncode != 0:
            raise BackupFailed(f"{where} holds no public key {self.recipient!r}.")
        records = [line.split(":") for line in result.stdout.splitlines()]
        usable = any(fields[0] == "pub" and len(fields) > 11 and "E" in fields[11] for fields in records)
        if not usable:
            raise BackupFailed(f"The key {self.recipient!r} in {where} cannot encrypt (no usable encryption subkey).")

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


def development_backup_key(data_dir: Path) -> tuple[Path, str]:
    """The development backup key: ``(gpg home, fingerprint)``, generated once in
    ``<data_dir>/gnupg`` (ed25519 to certify, cv25519 to encrypt, no passphrase), with a warning
    in the log when it is made. Safe against two processes starting at once (a file lock)."""
    gpg = shutil.which("gpg")
    if gpg is None:
        raise BackupFailed("gpg is not installed (Debian: apt-get install gpg).")
    home = data_dir / DEVELOPMENT_GPG_HOME
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / f"{DEVELOPMENT_GPG_HOME}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fingerprint, can_encrypt = _existing_key(gpg, home)
        if fingerprint is not None and can_encrypt:
            return home, fingerprint
        home.mkdir(mode=0o700, exist_ok=True)
        if fingerprint is None:
            _gpg_run(gpg, home, "--quick-gen-key", DEVELOPMENT_USER_ID, "ed25519", "cert", "never")
            fingerprint, _ = _existing_key(gpg, home)
            if fingerprint is None:
                raise BackupFailed(f"gpg made no key in {home}.")
        # A crash between the two steps left a key that cannot encrypt: give it its subkey.
        _gpg_run(gpg, home, "--quick-add-key", fingerprint, "cv25519", "encr", "never")
        _stop_agent(home)
    log.warning(
        "development: generated a GnuPG backup key (no passphrase) for escrow wallet backups",
        extra={"event": "escrow.backup_key_generated", "path": str(home), "fingerprint": fingerprint},
    )
    return home, fingerprint


def _gpg_run(gpg: str, home: Path, *arguments: str) -> str:
    result = subprocess.run(  # noqa: S603 - a fixed command, no shell, no secret in it
        [gpg, "--batch", "--no-tty", "--homedir", str(home), "--passphrase", "", *arguments],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=GPG_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1:] or ["no detail"]
        raise BackupFailed(f"gpg {arguments[0]} failed in {home} (exit {result.returncode}): {detail[0]}")
    return result.stdout


def _existing_key(gpg: str, home: Path) -> tuple[str | None, bool]:
    """The development key's fingerprint in ``home`` (None: there is none) and whether it has an
    encryption subkey."""
    if not (home / "pubring.kbx").is_file():
        return None, False
    try:
        output = _gpg_run(gpg, home, "--with-colons", "--list-keys", DEVELOPMENT_USER_ID)
    except BackupFailed:
        return None, False  # no such key: gpg exits 2
    records = [line.split(":") for line in output.splitlines()]
    primary = next((fields[9] for fields in records if fields[0] == "fpr" and len(fields) > 9), None)
    can_encrypt = any(fields[0] == "sub" and len(fields) > 11 and "e" in fields[11] for fields in records)
    return primary, can_encrypt


def _stop_agent(home: Path) -> None:
    """Key generation started a gpg-agent for ``home``; encrypting needs none, so stop it."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf is not None:
        subprocess.run(  # noqa: S603 - a fixed command, no shell
            [gpgconf, "--homedir", str(home), "--kill", "gpg-agent"],
            capture_output=True,
            timeout=GPG_TIMEOUT,
            check=False,
        )


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
