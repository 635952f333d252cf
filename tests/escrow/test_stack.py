"""``EscrowStack.from_settings``: off without its settings, refused at start-up when it cannot work,
a development backup key made once (and said so), and health records for what does not answer."""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from marketplace.escrow.key_backup import DEVELOPMENT_GPG_HOME
from marketplace.escrow.stack import EscrowConfigurationError, EscrowStack, SignerFilesBackup
from marketplace.escrow.wallet_signer import WalletSigner
from marketplace.settings import SignerRole, load_settings


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}"


def escrow_settings(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"env": "development", "data_dir": tmp_path / "data", "monerod_url": closed_port_url()}
    for role in SignerRole:
        wallet_dir = tmp_path / f"wallets-{role}"
        wallet_dir.mkdir(exist_ok=True)
        values[f"signer_{role}_urls"] = f"{closed_port_url()},{closed_port_url()}"
        values[f"signer_{role}_login"] = f"{role}:not-a-real-password"
        values[f"signer_{role}_wallet_dir"] = wallet_dir
    return {**values, **overrides}


def test_escrow_is_off_without_monerod_and_signers(tmp_path: Path) -> None:
    assert EscrowStack.from_settings(load_settings(env="development", data_dir=tmp_path)) is None


def test_a_role_without_a_wallet_directory_stops_the_start_naming_the_setting(tmp_path: Path) -> None:
    unset = load_settings(**escrow_settings(tmp_path, signer_vendor_wallet_dir=None))
    with pytest.raises(EscrowConfigurationError, match="MARKETPLACE_SIGNER_VENDOR_WALLET_DIR is not set"):
        EscrowStack.from_settings(unset)

    missing = load_settings(**escrow_settings(tmp_path, signer_arbiter_wallet_dir=tmp_path / "nowhere"))
    with pytest.raises(EscrowConfigurationError, match=r"ARBITER_WALLET_DIR names .*nowhere, which is not a directory"):
        EscrowStack.from_settings(missing)


def test_a_backup_key_gpg_does_not_hold_stops_the_start(tmp_path: Path) -> None:
    home = tmp_path / "empty-gnupg"
    home.mkdir(mode=0o700)
    settings = load_settings(
        **escrow_settings(tmp_path, backup_gpg_recipient="operator@example.invalid", backup_gpg_home=home)
    )

    with pytest.raises(EscrowConfigurationError, match=re.escape("holds no public key 'operator@example.invalid'")):
        EscrowStack.from_settings(settings)


def test_development_makes_a_backup_key_once_says_so_and_encrypts_to_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(**escrow_settings(tmp_path))
    with caplog.at_level(logging.WARNING, logger="marketplace.escrow"):
        first = EscrowStack.from_settings(settings)
        second = EscrowStack.from_settings(settings)
    assert first is not None
    assert second is not None
    stacks = (first, second)

    generated = [record for record in caplog.records if getattr(record, "event", "") == "escrow.backup_key_generated"]
    assert len(generated) == 1  # the second start reuses the key
    assert isinstance(first.backup, SignerFilesBackup)
    assert isinstance(second.backup, SignerFilesBackup)
    assert first.backup.gpg.recipient == second.backup.gpg.recipient
    home = tmp_path / "data" / DEVELOPMENT_GPG_HOME
    assert first.backup.gpg.gpg_home == home
    assert first.backup.gpg.backup_dir == tmp_path / "data" / "backups"

    secret = tmp_path / "wallet.keys"
    secret.write_bytes(b"multisig key share")
    encrypted = first.backup.gpg.encrypt_file(secret, tmp_path / "out" / "wallet.keys.gpg")
    gpg = shutil.which("gpg")
    assert gpg is not None
    decrypted = subprocess.run(
        [gpg, "--batch", "--homedir", str(home), "--decrypt", str(encrypted)], capture_output=True, check=True
    ).stdout
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)
    assert decrypted == b"multisig key share"
    assert b"multisig key share" not in encrypted.read_bytes()

    signer = first.signer("buyer")
    assert isinstance(signer, WalletSigner)
    assert signer.wallet_dir == tmp_path / "wallets-buyer"
    assert [item.role for item in first.signers_for(["arbiter", SignerRole.VENDOR])] == ["arbiter", "vendor"]
    for stack in stacks:
        stack.close()


def test_probe_records_every_endpoint_that_does_not_answer(tmp_path: Path) -> None:
    settings = load_settings(**escrow_settings(tmp_path))
    stack = EscrowStack.from_settings(settings)
    assert stack is not None
    try:
        checks = stack.probe()
    finally:
        stack.close()

    expected = ["monerod"] + [f"signer:{role}:{url}" for role in SignerRole for url in settings.signer_urls(role)]
    assert [check.name for check in checks] == expected
    assert [check.ok for check in checks] == [False] * 7
    assert all(check.detail and "not-a-real-password" not in check.detail for check in checks)
