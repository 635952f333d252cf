"""The master key: configured in production, generated once (and kept) in development."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from marketplace.escrow.master_key import DEVELOPMENT_KEY_FILE, derive_key, load_master_key
from marketplace.settings import load_settings

GOOD_KEY = "a1908d16aa6deb3880f1267d39d2ac353ee33899225b931ad8a621f9c5b84a22"


def test_development_generates_a_private_key_file_once_and_keeps_it(tmp_path: Path) -> None:
    settings = load_settings(env="development", data_dir=tmp_path)

    first = load_master_key(settings)
    second = load_master_key(load_settings(env="development", data_dir=tmp_path))

    assert first == second
    assert len(first) == 64
    key_file = tmp_path / DEVELOPMENT_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_configured_key_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = load_settings(env="development", data_dir=tmp_path, wallet_master_key=GOOD_KEY)

    assert load_master_key(settings) == GOOD_KEY.encode()
    assert not (tmp_path / DEVELOPMENT_KEY_FILE).exists()


def test_production_without_a_key_is_refused(tmp_path: Path) -> None:
    settings = load_settings(env="production", data_dir=tmp_path, secret_key=GOOD_KEY[::-1])

    with pytest.raises(RuntimeError, match="MARKETPLACE_WALLET_MASTER_KEY"):
        load_master_key(settings)


def test_derived_keys_differ_by_purpose_and_master_key() -> None:
    shipping = derive_key(b"master-one", "shipping-info")

    assert len(shipping) == 32
    assert shipping != derive_key(b"master-one", "wallet-password")
    assert shipping != derive_key(b"master-two", "shipping-info")
    assert shipping == derive_key(b"master-one", "shipping-info")


def test_processes_starting_together_all_read_the_one_whole_key(tmp_path: Path) -> None:
    """The web process and the worker start at once in development: none may read an empty key."""
    settings = load_settings(env="development", data_dir=tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda _: load_master_key(settings), range(64)))

    assert len(set(keys)) == 1
    assert len(keys[0]) == 64
    assert sorted(path.name for path in tmp_path.iterdir()) == [DEVELOPMENT_KEY_FILE]  # no temporary left
