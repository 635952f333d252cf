"""Escrow wallet files are encrypted with real gpg to the operator's key, atomically, and restore."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from marketplace.escrow.key_backup import BackupFailed, GpgBackup
from marketplace.escrow.signer import EscrowWallet, SignerRole


def make_gpg_key(home: Path) -> str:
    """A throwaway operator key with no passphrase in a fresh GnuPG home → its fingerprint."""
    gpg = shutil.which("gpg")
    assert gpg is not None, "gpg is missing: apt-get install gpg"
    home.mkdir(mode=0o700)
    subprocess.run(
        [
            gpg,
            "--batch",
            "--homedir",
            str(home),
            "--passphrase",
            "",
            "--quick-gen-key",
            "backup@test",
            "ed25519",
            "cert",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        [gpg, "--batch", "--homedir", str(home), "--with-colons", "--list-keys", "backup@test"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    subprocess.run(
        [
            gpg,
            "--batch",
            "--homedir",
            str(home),
            "--passphrase",
            "",
            "--quick-add-key",
            fingerprint,
            "cv25519",
            "encr",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    stop_gpg_agent(home)
    return fingerprint


def stop_gpg_agent(home: Path) -> None:
    """Stop the gpg-agent that generating (or decrypting) started for ``home``: no leftover process."""
    gpgconf = shutil.which("gpgconf")
    assert gpgconf is not None, "gpgconf is missing: apt-get install gpg"
    subprocess.run([gpgconf, "--homedir", str(home), "--kill", "gpg-agent"], check=True, capture_output=True)


class FilesSigner:
    """A signer whose wallet files are plain files in a directory (the real one is proven on regtest)."""

    def __init__(self, role: SignerRole, wallet_dir: Path) -> None:
        self.role = role
        self.wallet_dir = wallet_dir
        self.stored: list[str] = []

    def copy_files(self, escrow: EscrowWallet, directory: Path) -> list[Path]:
        self.stored.append(escrow.wallet_name)
        names = (escrow.wallet_name, f"{escrow.wallet_name}.keys")
        return [Path(shutil.copyfile(self.wallet_dir / name, directory / name)) for name in names]


def test_each_wallet_file_is_stored_encrypted_to_the_operator_and_restores_elsewhere(tmp_path: Path) -> None:
    fingerprint = make_gpg_key(tmp_path / "gnupg")
    escrow = EscrowWallet.for_attempt("backup1", 1)
    signers = []
    for role in SignerRole:
        wallet_dir = tmp_path / "wallets" / role
        wallet_dir.mkdir(parents=True)
        (wallet_dir / escrow.wallet_name).write_bytes(b"cache of " + role.encode() * 1000)
        (wallet_dir / f"{escrow.wallet_name}.keys").write_bytes(b"keys of " + role.encode())
        signers.append(FilesSigner(role, wallet_dir))
    backup = GpgBackup(tmp_path / "backups", fingerprint, tmp_path / "gnupg")

    written = backup.back_up(escrow, signers)

    assert [signer.stored for signer in signers] == [[escrow.wallet_name]] * 3
    assert sorted(path.relative_to(tmp_path / "backups").as_posix() for path in written) == sorted(
        f"{role}/{escrow.wallet_name}{suffix}.gpg" for role in SignerRole for suffix in ("", ".keys")
    )
    for path in written:
        content = path.read_bytes()
        assert content
        assert b"cache of" not in content
        assert b"keys of" not in content
    # Nothing half-written or temporary is left next to the backups.
    assert sorted(path.name for path in (tmp_path / "backups").rglob("*") if path.is_file()) == sorted(
        path.name for path in written
    )

    elsewhere = tmp_path / "restored"
    elsewhere.mkdir()
    restored = backup.restore(escrow, "vendor", elsewhere)
    stop_gpg_agent(tmp_path / "gnupg")
    assert [path.read_bytes() for path in restored] == [b"cache of " + b"vendor" * 1000, b"keys of vendor"]
    assert sorted(path.name for path in elsewhere.iterdir()) == [escrow.wallet_name, f"{escrow.wallet_name}.keys"]


def test_a_backup_to_an_unknown_key_fails_and_leaves_no_file(tmp_path: Path) -> None:
    make_gpg_key(tmp_path / "gnupg")
    escrow = EscrowWallet.for_attempt("backup2", 1)
    wallet_dir = tmp_path / "wallets"
    wallet_dir.mkdir()
    (wallet_dir / escrow.wallet_name).write_bytes(b"cache")
    (wallet_dir / f"{escrow.wallet_name}.keys").write_bytes(b"keys")
    backup = GpgBackup(tmp_path / "backups", "nobody@example.invalid", tmp_path / "gnupg")

    with pytest.raises(BackupFailed, match="gpg failed encrypting"):
        backup.back_up(escrow, [FilesSigner(SignerRole.ARBITER, wallet_dir)])
    assert [path for path in (tmp_path / "backups").rglob("*") if path.is_file()] == []
