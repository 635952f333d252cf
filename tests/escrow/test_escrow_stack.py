"""The ``escrow_settings`` overrides turn escrow on against the regtest cluster, and the session's
backup key encrypts what the marketplace backs up and decrypts it again."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from marketplace.escrow.key_backup import GpgBackup
from marketplace.monero.regtest import RegtestCluster
from marketplace.monero.rpc import DaemonRpc, WalletRpc
from marketplace.settings import MoneroNetwork, SignerRole, load_settings
from tests.conftest import TEST_SECRET_KEY
from tests.support.escrow_stack import BackupKey


def test_production_settings_with_the_overrides_have_escrow_on_and_reach_every_endpoint(
    escrow_settings: dict[str, Any], regtest: RegtestCluster, tmp_path: Path
) -> None:
    settings = load_settings(env="production", secret_key=TEST_SECRET_KEY, data_dir=tmp_path, **escrow_settings)

    assert (settings.escrow_configured, settings.escrow_missing) == (True, [])
    assert (settings.network, settings.confirmations) == (MoneroNetwork.REGTEST, 2)
    assert settings.monerod_url is not None
    with DaemonRpc(settings.monerod_url, timeout=30) as daemon:
        assert daemon.get_info().height == regtest.daemon.get_height()
    for role in SignerRole:
        assert settings.signer_urls(role) == regtest.signer_urls[role]
        assert len(settings.signer_urls(role)) == 2
        assert getattr(settings, f"signer_{role}_wallet_dir") == regtest.wallet_dir[role]
        for url in settings.signer_urls(role):
            with WalletRpc(url, login=settings.signer_login(role), timeout=30) as wallet:
                assert wallet.get_version() > 0  # the login is accepted by both endpoints


def test_the_backup_key_decrypts_what_the_marketplace_encrypts_to_it(
    escrow_settings: dict[str, Any], backup_gpg_key: BackupKey, tmp_path: Path
) -> None:
    settings = load_settings(env="production", secret_key=TEST_SECRET_KEY, data_dir=tmp_path, **escrow_settings)
    assert settings.backup_gpg_recipient is not None
    backup = GpgBackup(settings.resolved_backup_dir, settings.backup_gpg_recipient, settings.backup_gpg_home)
    plaintext = secrets.token_bytes(4096)
    source = tmp_path / "escrow-x-1.keys"
    source.write_bytes(plaintext)

    encrypted = backup.encrypt_file(source, backup.path_of("buyer", source.name))

    assert encrypted == settings.resolved_backup_dir / "buyer" / "escrow-x-1.keys.gpg"
    assert encrypted.parent.parent == escrow_settings["backup_dir"]
    assert plaintext[:64] not in encrypted.read_bytes()
    assert backup_gpg_key.decrypt(encrypted) == plaintext
