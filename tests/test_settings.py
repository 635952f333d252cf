"""Settings as an operator meets them: environment, *_FILE secrets, a TOML file, refusals."""

from __future__ import annotations

import base64
import os
import secrets
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import SecretBytes, SecretStr, ValidationError

from marketplace.docs_reference import has_file_variant
from marketplace.settings import InsecureSettings, Settings, SignerRole, load_settings

# Real outputs of `openssl rand -hex 32` (two), secrets.token_hex(32) (two), secrets.token_urlsafe(32)
# (two) and `openssl rand -base64 32`, made once for these tests.
GOOD_SECRET = "96eb8edcae651a042cc2112f5296dae9730c4ac4df0421b183e2e7d880899038"
REAL_SECRETS = [
    GOOD_SECRET,
    "a1908d16aa6deb3880f1267d39d2ac353ee33899225b931ad8a621f9c5b84a22",
    "37184ae762de8aefe17c365190fcf42242e6be038973ac7f263d77b69f29a883",
    "3abb7a8f45f1b3f023faf7338b0deb497ee23a623639774c3b4ae5f4c355e8ca",
    "z7jyXGEGS-u_juwUsxhsTTVGoc-qbkzRHxDo4t71oSQ",
    "PeO0scUm5HnP2-Hl7MWFt1oJJ_Evp3zcggsDXYrnylc",
    "unF6NcTZ4PYtQqvdNmg06iwxCHzZSucULUB/cxBYutE=",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MARKETPLACE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(tmp_path / "data"))


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [
        (None, "missing or a placeholder"),
        ("", "missing or a placeholder"),
        ("changeme", "missing or a placeholder"),
        ("  CHANGEME ", "missing or a placeholder"),
        ("development-only-secret-key-do-not-use-in-production", "missing or a placeholder"),
        ("short-but-not-a-placeholder", "too short"),
        ("x" * 31, "too short"),
        ("changeme-" * 5, "repeats a pattern"),
        ("a" * 40, "repeats a pattern"),
        ("0123456789abcdef0123456789abcdef-good", "repeats a pattern"),
        ("my-marketplace-production-key-2024", "contains the word"),
        ("Secret-Key-For-The-Market-Place!", "contains the word"),
        ("0123456789abcdefghijklmnopqrstuvwxyz", "not random enough"),
        ("zyxwvutsrqponmlkjihgfedcba9876543210ZYX", "not random enough"),
        ("correct-horse-battery-staple-rocks", "not random enough"),
        ("1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", "not random enough"),
    ],
)
def test_production_refuses_a_missing_placeholder_or_short_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None, complaint: str
) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    if secret is not None:
        monkeypatch.setenv("MARKETPLACE_SECRET_KEY", secret)

    with pytest.raises((InsecureSettings, ValidationError), match=complaint):
        load_settings()


@pytest.mark.parametrize("secret", REAL_SECRETS)
def test_production_is_the_default_and_accepts_a_real_random_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY", secret)

    settings = load_settings()

    assert not settings.is_development
    assert settings.secret_key_bytes == secret.encode()


def test_every_secret_fresh_from_the_generators_the_message_recommends_is_accepted() -> None:
    for _ in range(200):
        for secret in (secrets.token_hex(32), secrets.token_urlsafe(32), base64.b64encode(os.urandom(32)).decode()):
            load_settings(env="production", secret_key=secret)


def test_the_refusal_never_shows_the_secret() -> None:
    with pytest.raises((InsecureSettings, ValidationError)) as refused:
        load_settings(env="production", secret_key="my-marketplace-production-key-2024")
    assert "production-key" not in str(refused.value)
    assert "MARKETPLACE_SECRET_KEY" in str(refused.value)


def test_every_secret_typed_setting_must_be_random() -> None:
    """A secret setting added later is checked for entropy too: it is declared with ``_secret``."""
    typed_secrets = [
        name
        for name, field in Settings.model_fields.items()
        if _leaf_types(field.annotation) & {SecretStr, SecretBytes}
    ]
    assert "secret_key" in typed_secrets
    for name in typed_secrets:
        extra = Settings.model_fields[name].json_schema_extra
        assert isinstance(extra, dict), f"declare {name} with settings._secret"
        assert extra.get("random") is True, f"declare {name} with settings._secret"


def test_development_needs_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "development")

    settings = load_settings()

    assert settings.is_development
    assert settings.secret_key is None
    assert len(settings.secret_key_bytes) >= 32


def test_the_secret_is_read_from_the_file_named_by_secret_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(GOOD_SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY_FILE", str(secret_file))

    settings = load_settings()

    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == GOOD_SECRET


def test_a_placeholder_in_the_secret_file_is_refused_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("changeme\n", encoding="utf-8")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY_FILE", str(secret_file))

    with pytest.raises((InsecureSettings, ValidationError), match="placeholder"):
        load_settings()


def test_an_unreadable_secret_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY_FILE", str(tmp_path / "absent"))

    with pytest.raises(InsecureSettings, match="cannot read MARKETPLACE_SECRET_KEY_FILE"):
        load_settings()


def test_the_environment_variable_beats_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(GOOD_SECRET, encoding="utf-8")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY_FILE", str(secret_file))
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY", REAL_SECRETS[1])

    assert load_settings().secret_key_bytes == REAL_SECRETS[1].encode()


def test_a_toml_file_is_read_and_the_environment_overrides_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "marketplace.toml"
    config.write_text(
        f'env = "production"\nsecret_key = "{GOOD_SECRET}"\nnetwork = "stagenet"\n'
        'log_level = "DEBUG"\nlistings_page_size = 10\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MARKETPLACE_CONFIG_FILE", str(config))
    monkeypatch.setenv("MARKETPLACE_LISTINGS_PAGE_SIZE", "12")
    monkeypatch.setenv("MARKETPLACE_NETWORK", "testnet")

    settings = load_settings()

    assert settings.log_level == "DEBUG"
    assert settings.secret_key_bytes == GOOD_SECRET.encode()
    assert settings.listings_page_size == 12
    assert settings.network.value == "testnet"


def test_unknown_keys_in_the_toml_file_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "marketplace.toml"
    config.write_text('env = "development"\nlisting_page_size = 10\n', encoding="utf-8")
    monkeypatch.setenv("MARKETPLACE_CONFIG_FILE", str(config))

    with pytest.raises(ValidationError, match="listing_page_size"):
        load_settings()


def test_a_missing_toml_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MARKETPLACE_CONFIG_FILE", str(tmp_path / "nowhere.toml"))

    with pytest.raises(InsecureSettings, match=r"nowhere\.toml"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [("MARKETPLACE_NETWORK", "moonnet"), ("MARKETPLACE_ENV", "staging"), ("MARKETPLACE_LISTINGS_PAGE_SIZE", "0")],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        load_settings()


def test_the_default_database_is_an_sqlite_file_in_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(tmp_path / "state"))

    settings = load_settings()

    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'state' / 'marketplace.sqlite3').resolve()}"


def test_a_database_url_setting_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", "postgresql://market@db.internal/market")

    assert load_settings().resolved_database_url == "postgresql://market@db.internal/market"


_SECRET_NAME_WORDS = ("key", "password", "secret", "login", "token")


def _leaf_types(annotation: Any) -> set[Any]:
    """``str | SecretStr | None`` → {str, SecretStr, NoneType}; ``list[SecretStr]`` → {list, SecretStr}."""
    origin = get_origin(annotation)
    if origin is None:
        return {annotation}
    leaves = set() if origin in (Union, types.UnionType) else {origin}
    for argument in get_args(annotation):
        leaves |= _leaf_types(argument)
    return leaves


def _holds_a_secret(name: str, annotation: Any) -> bool:
    """A secret type, or a name like a secret on a setting that can hold text.

    Numbers, booleans and choices cannot carry a credential: ``login_max_failures_per_account``
    is a count, not a login.
    """
    leaves = _leaf_types(annotation)
    if leaves & {SecretStr, SecretBytes}:
        return True
    return any(word in name for word in _SECRET_NAME_WORDS) and bool(leaves & {str, bytes})


def test_every_secret_setting_can_be_read_from_a_file() -> None:
    """Secrets never have to be in the environment: each has its MARKETPLACE_<NAME>_FILE variant."""
    secrets = [name for name, field in Settings.model_fields.items() if _holds_a_secret(name, field.annotation)]
    without_file = [name for name in secrets if not has_file_variant(Settings.model_fields[name])]

    assert "secret_key" in secrets  # the rule sees the secret we know of
    assert without_file == [], f"mark these with json_schema_extra={{'file_variant': True}}: {without_file}"


@pytest.mark.parametrize(
    ("name", "annotation", "secret"),
    [
        ("wallet_rpc_password", str | None, True),
        ("wallet_rpc_login", str, True),
        ("smtp_credentials", SecretStr | None, True),
        ("api_tokens", list[SecretStr], True),
        ("login_max_failures_per_account", int, False),
        ("listings_page_size", int, False),
        ("data_dir", Path, False),
    ],
)
def test_the_secret_rule_sees_secrets_by_type_or_name(name: str, annotation: Any, secret: bool) -> None:
    assert _holds_a_secret(name, annotation) is secret


def test_a_config_file_that_is_not_toml_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "marketplace.toml"
    config.write_text("env = [broken", encoding="utf-8")
    monkeypatch.setenv("MARKETPLACE_CONFIG_FILE", str(config))
    with pytest.raises(InsecureSettings, match="not valid TOML"):
        load_settings()


def test_a_secret_file_that_is_not_text_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret-key"
    secret.write_bytes(b"\xff\xfe not text")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY_FILE", str(secret))
    with pytest.raises(InsecureSettings, match="not UTF-8"):
        load_settings(env="production")


_ESCROW = {
    "monerod_url": "http://127.0.0.1:18081",
    "signer_buyer_urls": "http://127.0.0.1:18082, http://127.0.0.1:18083",
    "signer_vendor_urls": "http://127.0.0.1:18084",
    "signer_arbiter_urls": "http://127.0.0.1:18085",
}


def test_escrow_is_off_until_monerod_and_every_role_has_a_signer() -> None:
    settings = load_settings(env="development", signer_buyer_urls=_ESCROW["signer_buyer_urls"])

    assert not settings.escrow_configured
    assert settings.escrow_missing == [
        "MARKETPLACE_MONEROD_URL",
        "MARKETPLACE_SIGNER_VENDOR_URLS",
        "MARKETPLACE_SIGNER_ARBITER_URLS",
    ]
    on = load_settings(env="development", **_ESCROW)
    assert on.escrow_configured
    assert on.signer_urls(SignerRole.BUYER) == ["http://127.0.0.1:18082", "http://127.0.0.1:18083"]


def test_production_escrow_refuses_to_start_without_master_key_or_backup_key() -> None:
    with pytest.raises(ValidationError, match="MARKETPLACE_WALLET_MASTER_KEY is missing"):
        load_settings(env="production", secret_key=GOOD_SECRET, **_ESCROW)
    with pytest.raises(ValidationError, match="MARKETPLACE_BACKUP_GPG_RECIPIENT is missing"):
        load_settings(env="production", secret_key=GOOD_SECRET, wallet_master_key=REAL_SECRETS[1], **_ESCROW)
    with pytest.raises(ValidationError, match="MARKETPLACE_WALLET_MASTER_KEY is not a random secret"):
        load_settings(env="production", secret_key=GOOD_SECRET, wallet_master_key="changeme-" * 5, **_ESCROW)

    settings = load_settings(
        env="production",
        secret_key=GOOD_SECRET,
        wallet_master_key=REAL_SECRETS[1],
        backup_gpg_recipient="ops@example.org",
        **_ESCROW,
    )
    assert settings.escrow_configured
    # Without escrow, production runs without either.
    assert not load_settings(env="production", secret_key=GOOD_SECRET).escrow_configured


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"signer_vendor_urls": "127.0.0.1:18084"}, "SIGNER_VENDOR_URLS: '127.0.0.1:18084' is not an http"),
        ({"signer_arbiter_login": "no-colon-here"}, "SIGNER_ARBITER_LOGIN must be user:password"),
        ({"fee_basis_points": 150}, "FEE_ADDRESS is missing"),
        ({"fee_basis_points": 150, "fee_address": "4AdUndXHHZ6cf"}, "FEE_ADDRESS"),
        ({"fee_basis_points": 10_001}, "fee_basis_points"),
        ({"confirmations": 0}, "confirmations"),
    ],
)
def test_bad_escrow_settings_are_refused_with_the_setting_named(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        load_settings(env="development", **overrides)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"signer_buyer_urls": "http://127.0.0.1:1, http://signer:hunter2-secret@127.0.0.1:2"}, "SIGNER_BUYER_URLS"),
        ({"signer_arbiter_urls": "signer:hunter2-secret@127.0.0.1:2"}, "SIGNER_ARBITER_URLS"),
        ({"monerod_url": "http://node:hunter2-secret@127.0.0.1:18081"}, "MONEROD_URL"),
    ],
)
def test_a_url_with_a_login_in_it_is_refused_without_echoing_it(overrides: dict[str, Any], setting: str) -> None:
    # The URLs are published by /ready (signer names) and logged with every RPC error.
    with pytest.raises(ValidationError, match=f"{setting}.*user name or password") as refused:
        load_settings(env="development", **overrides)
    assert "hunter2-secret" not in str(refused.value)


def test_a_signer_login_splits_into_user_and_password_once() -> None:
    settings = load_settings(env="development", signer_buyer_login="signer:pa:ss")

    assert settings.signer_login(SignerRole.BUYER) == ("signer", "pa:ss")
    assert settings.signer_login(SignerRole.VENDOR) is None
