"""The one typed settings object.

Sources, highest priority first: keyword arguments (tests), environment variables
``MARKETPLACE_<NAME>``, files named by ``MARKETPLACE_<NAME>_FILE`` (for secrets: the file's
content, trailing newline stripped), the TOML file named by ``MARKETPLACE_CONFIG_FILE`` (keys are
the setting names in lower case), then the defaults. Every setting is documented in
``docs/configuration.md``; a test fails when one is not.
"""

from __future__ import annotations

import os
import tomllib
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from marketplace.secret_strength import MIN_LENGTH as MIN_SECRET_LENGTH
from marketplace.secret_strength import weakness

ENV_PREFIX = "MARKETPLACE_"
CONFIG_FILE_VARIABLE = "MARKETPLACE_CONFIG_FILE"
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105  (refused outside development)
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "placeholder", "xxx", DEVELOPMENT_SECRET_KEY}
)
MIN_SECRET_KEY_LENGTH = MIN_SECRET_LENGTH


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class MoneroNetwork(StrEnum):
    MAINNET = "mainnet"
    STAGENET = "stagenet"
    TESTNET = "testnet"
    REGTEST = "regtest"


class InsecureSettings(ValueError):
    """Raised when production settings would run with a missing or placeholder secret."""


def _secret(description: str, *, optional: bool = False) -> Any:
    """A secret setting: it has a ``_FILE`` variant, and outside development it must be random.

    An ``optional`` secret may be absent (the feature it serves is then off, or another rule
    requires it); when it is given, it must be random all the same.
    """
    return Field(
        default=None,
        description=description,
        json_schema_extra={"file_variant": True, "random": True, "optional": optional},
    )


def _is_random_secret(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("random") is True


def _is_optional_secret(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("optional") is True


class SignerRole(StrEnum):
    """The three parties of a 2-of-3 escrow; each is served by its own wallet-rpc endpoints."""

    BUYER = "buyer"
    VENDOR = "vendor"
    ARBITER = "arbiter"


class SecretFileSource(PydanticBaseSettingsSource):
    """Reads ``MARKETPLACE_<NAME>_FILE`` for settings marked ``file_variant``."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        extra = field.json_schema_extra
        if not isinstance(extra, dict) or not extra.get("file_variant"):
            return None, field_name, False
        path = os.environ.get(f"{ENV_PREFIX}{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        try:
            content = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            msg = f"cannot read {ENV_PREFIX}{field_name.upper()}_FILE: {exc.strerror}"
            raise InsecureSettings(msg) from exc
        except UnicodeDecodeError as exc:
            msg = f"{ENV_PREFIX}{field_name.upper()}_FILE is not UTF-8 text"
            raise InsecureSettings(msg) from exc
        return content, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class Settings(BaseSettings):
    """Everything the marketplace can be told, validated once at start-up."""

    # hide_input_in_errors: a refused secret must not appear in the error (nor in a log of it).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True, hide_input_in_errors=True
    )

    env: Environment = Field(
        default=Environment.PRODUCTION,
        description="`development` relaxes secret and cookie checks; `production` refuses insecure settings.",
    )
    data_dir: Path = Field(default=Path("data"), description="Directory for the SQLite database and other state.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default `sqlite:///<data_dir>/marketplace.sqlite3`.",
        json_schema_extra={"file_variant": True},
    )
    secret_key: SecretStr | None = _secret(
        "Signs CSRF tokens. Outside development, a random value: at least 32 characters and 128 bits of "
        "estimated entropy, no repeated pattern or dictionary word (`openssl rand -hex 32` gives one)."
    )
    network: MoneroNetwork = Field(
        default=MoneroNetwork.MAINNET,
        description="Monero network for address validation; regtest uses mainnet-style addresses.",
    )
    log_level: str = Field(
        default="INFO",
        pattern=r"(?i)^(debug|info|warning|error)$",
        description="Lowest level logged: DEBUG, INFO, WARNING or ERROR.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long an SQLite connection waits for a lock before failing."
    )
    postgres_lock_timeout_ms: int = Field(
        default=5000,
        ge=0,
        le=3_600_000,
        description="How long a PostgreSQL statement waits for a lock before failing (0 waits for ever).",
    )
    database_pool_size: int = Field(
        default=8, ge=1, le=1000, description="Database connections each process keeps open."
    )
    database_pool_overflow: int = Field(
        default=8, ge=0, le=1000, description="Connections a process may open beyond the pool size under load."
    )
    database_pool_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How long a request waits for a free database connection before it fails with a 500.",
    )
    session_max_age_seconds: int = Field(
        default=14 * 24 * 3600, ge=60, description="A sign-in lasts at most this long."
    )
    session_idle_seconds: int = Field(
        default=2 * 24 * 3600, ge=60, description="A sign-in unused for this long expires."
    )
    login_failure_window_seconds: int = Field(
        default=900, ge=1, description="Window over which failed sign-ins are counted."
    )
    login_max_failures_per_account_address: int = Field(
        default=5,
        ge=1,
        description=(
            "Failed sign-ins (and password or code confirmations) for one username from one client address "
            "within the window before that username is throttled at that address."
        ),
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description=(
            "Failed sign-ins from one client address, for any usernames, within the window before it is throttled."
        ),
    )
    login_max_failures_per_account: int = Field(
        default=100,
        ge=1,
        description=(
            "Ceiling of failed sign-ins for one username from all addresses together within the window; reaching it "
            "throttles that username everywhere, its owner included, so keep it well above the per-address limits."
        ),
    )
    registration_window_seconds: int = Field(
        default=3600, ge=1, description="Window over which registrations from one client address are counted."
    )
    registration_max_per_address: int = Field(
        default=10, ge=1, description="Accounts one client address may register within the window (429 beyond)."
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        description=(
            "Reverse proxies in front of the app; with 1, the client address is the last X-Forwarded-For entry."
        ),
    )
    listings_page_size: int = Field(default=24, ge=1, le=200, description="Listings per page when browsing.")
    listing_max_images: int = Field(default=8, ge=0, le=8, description="Images a listing may have.")
    image_max_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest image upload accepted, in bytes."
    )
    image_max_pixels: int = Field(
        default=40_000_000, ge=1, description="Largest image accepted, in pixels (width × height), before decoding."
    )
    image_max_dimension: int = Field(
        default=1600, ge=64, description="Images are scaled down to fit this many pixels on their longer side."
    )
    image_memory_budget_bytes: int = Field(
        default=96 * 1024 * 1024,
        ge=16 * 1024 * 1024,
        description=(
            "Memory one image may take for its pixels while it is processed (decoded and its working copies), "
            "in bytes; an image that would take more is refused before it is decoded. Keep it above 8 bytes "
            "× image_max_dimension² (20 MB at 1600), what the scaled image itself takes."
        ),
    )
    image_processing_slots: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="Images a process decodes at once (others wait their turn); 0 means one per CPU core.",
    )

    # Escrow on Monero. Without monerod and the three roles' signer URLs, escrow is off: the site
    # runs, ordering answers 503 `escrow_unavailable`, and /ready names what is missing.
    monerod_url: str | None = Field(
        default=None,
        description="monerod's RPC address, e.g. `http://127.0.0.1:18081` (the worker's only daemon); no login in it.",
    )
    signer_buyer_urls: str = Field(
        default="",
        description="The buyer signer's monero-wallet-rpc endpoints, comma-separated URLs; no login in them (the "
        "login is `MARKETPLACE_SIGNER_BUYER_LOGIN`: URLs are shown in /ready and the logs).",
    )
    signer_vendor_urls: str = Field(
        default="", description="The vendor signer's monero-wallet-rpc endpoints, comma-separated URLs."
    )
    signer_arbiter_urls: str = Field(
        default="", description="The arbiter signer's monero-wallet-rpc endpoints, comma-separated URLs."
    )
    signer_buyer_login: SecretStr | None = _secret(
        "`user:password` of the buyer signer's wallet-rpcs (their `rpc-login`, given to each in its "
        "`--config-file`); absent for wallet-rpcs started with `--disable-rpc-login` on loopback.",
        optional=True,
    )
    signer_vendor_login: SecretStr | None = _secret(
        "`user:password` of the vendor signer's wallet-rpcs; see the buyer's.", optional=True
    )
    signer_arbiter_login: SecretStr | None = _secret(
        "`user:password` of the arbiter signer's wallet-rpcs; see the buyer's.", optional=True
    )
    signer_buyer_wallet_dir: Path | None = Field(
        default=None,
        description=(
            "The buyer signer's wallet directory (the `--wallet-dir` of its wallet-rpcs); the worker backs up "
            "key material from it."
        ),
    )
    signer_vendor_wallet_dir: Path | None = Field(
        default=None, description="The vendor signer's wallet directory (`--wallet-dir` of its wallet-rpcs)."
    )
    signer_arbiter_wallet_dir: Path | None = Field(
        default=None, description="The arbiter signer's wallet directory (`--wallet-dir` of its wallet-rpcs)."
    )
    monero_rpc_timeout_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="How long one call to monerod or a wallet-rpc may take."
    )
    wallet_master_key: SecretStr | None = _secret(
        "The master secret every escrow wallet's password is derived from; never stored in the database. "
        "Required outside development when escrow is on; in development a missing one is generated in the "
        "data directory. Losing it loses every escrow wallet: see docs/escrow.md.",
        optional=True,
    )
    backup_gpg_recipient: str | None = Field(
        default=None,
        description="The operator's GnuPG backup key (fingerprint or user id) every escrow's wallet files are "
        "encrypted to before its payment address is shown. Required outside development when escrow is on.",
    )
    backup_gpg_home: Path | None = Field(
        default=None, description="GnuPG home holding the backup key's public part; default gpg's own (`~/.gnupg`)."
    )
    backup_dir: Path | None = Field(
        default=None, description="Where encrypted key material and backups are written; default `<data_dir>/backups`."
    )
    confirmations: int = Field(
        default=10, ge=1, le=1000, description="Confirmations a payment (and a payout) needs before it counts."
    )
    payment_window_seconds: int = Field(
        default=24 * 3600, ge=1, description="How long a placed order waits for its payment before it expires."
    )
    ship_window_seconds: int = Field(
        default=5 * 24 * 3600,
        ge=1,
        description="After funding, the vendor ships within this; later, the buyer may cancel alone (refund).",
    )
    finalize_window_seconds: int = Field(
        default=14 * 24 * 3600,
        ge=1,
        description="After shipping, a buyer silent this long lets the payment go to the vendor (release).",
    )
    finalize_extension_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=1,
        description="How much later the finalize deadline falls when the buyer extends it (once, while shipped).",
    )
    dispute_sla_seconds: int = Field(
        default=48 * 3600, ge=1, description="A dispute untouched this long is marked overdue in the arbiters' list."
    )
    payment_poll_seconds: float = Field(
        default=20.0,
        ge=0,
        le=3600,
        description=(
            "How often the worker looks at an escrow waiting for a payment or a payout's confirmations; "
            "a wallet is opened only when the chain height moved since the last look."
        ),
    )
    late_payment_watch_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        description="How long a cancelled or finished escrow is still watched for payments to return to the buyer.",
    )
    fee_basis_points: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="The marketplace fee on the vendor's part, in basis points (150 = 1.5%), rounded down.",
    )
    fee_address: str | None = Field(
        default=None, description="Where the marketplace fee goes; required when the fee is above 0."
    )
    max_network_fee_atomic: int = Field(
        default=10_000_000_000,
        ge=1,
        description="The largest network fee a payout may pay, in piconero; a co-signer refuses a proposal above it.",
    )
    min_order_atomic: int = Field(
        default=10_000_000_000, ge=1, description="The smallest order total accepted, in piconero (0.01 XMR)."
    )
    max_unpaid_orders: int = Field(
        default=3, ge=1, le=1000, description="Orders a buyer may have placed and not yet paid at once."
    )
    dev_wallet_url: str | None = Field(
        default=None,
        description=(
            "Development only (refused otherwise): the demo buyer's monero-wallet-rpc on regtest, which the "
            '"Pay from demo wallet" button pays from; `marketplace dev` sets it.'
        ),
    )

    # The worker (`marketplace worker`) and what /ready makes of its health record.
    worker_lease_seconds: int = Field(
        default=120,
        ge=3,
        le=24 * 3600,
        description=(
            "How long a worker holds a job without renewing its lease (it renews it every third of this while "
            "the job runs); a job whose worker stopped without finishing is claimed again once the lease expires."
        ),
    )
    worker_poll_seconds: float = Field(
        default=2.0, gt=0, le=3600, description="How long an idle worker waits before it looks for due jobs again."
    )
    worker_stop_grace_seconds: float = Field(
        default=20.0,
        ge=0,
        le=3600,
        description=(
            "On SIGTERM or SIGINT the worker lets the job it is running finish its step for this long, then gives "
            "it back to the queue (no attempt counted) and exits."
        ),
    )
    worker_probe_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How often the worker checks monerod and every signer endpoint."
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1",
        description=(
            "Address the worker's Prometheus endpoint (`/metrics`) listens on; keep it on a private network "
            "(it shows order counts and amounts held in escrow)."
        ),
    )
    worker_metrics_port: int = Field(
        default=9465,
        ge=0,
        le=65535,
        description="Port of the worker's Prometheus endpoint (`marketplace worker`, not with `--once`); 0: none.",
    )
    tls_certificate_files: str = Field(
        default="",
        description=(
            "PEM certificate files whose expiry the worker exports (`marketplace_tls_certificate_expiry_timestamp_"
            "seconds`, labelled with the file name), comma-separated paths; a file it cannot read is logged."
        ),
    )
    health_stale_seconds: int = Field(
        default=120,
        ge=1,
        le=7 * 24 * 3600,
        description=(
            "With escrow on, /ready is not ready when the worker's last check of a dependency is older than this "
            "(keep it a few times worker_probe_seconds)."
        ),
    )

    ready_job_backlog_seconds: int = Field(
        default=600,
        ge=1,
        le=7 * 24 * 3600,
        description=(
            "/ready is not ready when the oldest due job has waited longer than this for a worker "
            "(the worker is stopped, stuck or too slow)."
        ),
    )

    # Metrics (docs/observability.md).
    metrics_enabled: bool = Field(
        default=True,
        description=(
            "The web process counts its requests and serves them at /metrics (keep nginx from exposing it: "
            "docs/security.md); off, /metrics answers 404 and requests are not counted (the benchmark's comparison)."
        ),
    )
    metrics_dir: Path | None = Field(
        default=None,
        description=(
            "Where `marketplace serve`'s worker processes keep their metrics (prometheus-client's multiprocess "
            "mode); emptied at each start. Default `<data_dir>/metrics`."
        ),
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, SecretFileSource(settings_cls)]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            if not Path(config_file).is_file():
                msg = f"{CONFIG_FILE_VARIABLE} names {config_file}, which is not a file"
                raise InsecureSettings(msg)
            try:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                msg = f"{CONFIG_FILE_VARIABLE} names {config_file}, which is not valid TOML: {exc}"
                raise InsecureSettings(msg) from exc
        return tuple(sources)

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        """Outside development, every secret setting (``_secret``) must be random (``secret_strength``)."""
        if self.env is Environment.DEVELOPMENT:
            return self
        for name, field in type(self).model_fields.items():
            if _is_random_secret(field):
                value = getattr(self, name)
                if value is None and _is_optional_secret(field):
                    continue
                _refuse_weak_secret(name, value.get_secret_value() if value is not None else "")
        if self.escrow_configured:
            for name in ("wallet_master_key", "backup_gpg_recipient"):
                if getattr(self, name) is None:
                    msg = (
                        f"escrow is on (monerod and signer URLs are set) but {ENV_PREFIX}{name.upper()} is missing; "
                        "see docs/escrow.md"
                    )
                    raise InsecureSettings(msg)
        return self

    @model_validator(mode="after")
    def _check_escrow_settings(self) -> Settings:
        """URLs are http(s) with no login in them, logins ``user:password``, the fee has an address of the network."""
        if self.monerod_url is not None and "@" in self.monerod_url:
            msg = (
                f"{ENV_PREFIX}MONEROD_URL holds a user name or password (before an @): URLs are shown in /ready "
                "and in the logs, so they must hold no secret"
            )
            raise ValueError(msg)
        for role in SignerRole:
            for url in self.signer_urls(role):
                if "@" in url:  # not echoed: it may be a password
                    msg = (
                        f"{ENV_PREFIX}SIGNER_{role.upper()}_URLS: a URL holds a user name or password (before an @); "
                        f"URLs are shown in /ready and in the logs: give the login in "
                        f"{ENV_PREFIX}SIGNER_{role.upper()}_LOGIN (or its _FILE) instead"
                    )
                    raise ValueError(msg)
                if not url.startswith(("http://", "https://")):
                    msg = f"{ENV_PREFIX}SIGNER_{role.upper()}_URLS: {url!r} is not an http(s) URL"
                    raise ValueError(msg)
            login = getattr(self, f"signer_{role}_login")
            if login is not None and ":" not in login.get_secret_value():
                msg = f"{ENV_PREFIX}SIGNER_{role.upper()}_LOGIN must be user:password"
                raise ValueError(msg)
        if self.dev_wallet_url is not None and self.env is not Environment.DEVELOPMENT:
            msg = f"{ENV_PREFIX}DEV_WALLET_URL is for development only (MARKETPLACE_ENV=development)"
            raise ValueError(msg)
        if self.fee_basis_points > 0 and not self.fee_address:
            msg = f"{ENV_PREFIX}FEE_BASIS_POINTS is above 0 but {ENV_PREFIX}FEE_ADDRESS is missing"
            raise ValueError(msg)
        if self.fee_address:
            from marketplace.errors import InvalidInput  # the addresses module imports this one
            from marketplace.monero.addresses import validate_address

            try:
                validate_address(self.fee_address, self.network, field="fee_address")
            except InvalidInput as exc:
                msg = f"{ENV_PREFIX}FEE_ADDRESS: {exc.message}"
                raise ValueError(msg) from exc
        return self

    def signer_urls(self, role: SignerRole) -> list[str]:
        """The endpoints of ``role``'s signer, in the order given (empty when not configured)."""
        text: str = getattr(self, f"signer_{role}_urls")
        return [part.strip() for part in text.split(",") if part.strip()]

    def tls_certificate_paths(self) -> list[Path]:
        """The certificate files of ``tls_certificate_files``, in the order given."""
        return [Path(part.strip()) for part in self.tls_certificate_files.split(",") if part.strip()]

    def signer_login(self, role: SignerRole) -> tuple[str, str] | None:
        """``(user, password)`` of ``role``'s wallet-rpcs, or None when they take no login."""
        login: SecretStr | None = getattr(self, f"signer_{role}_login")
        if login is None:
            return None
        user, _, password = login.get_secret_value().partition(":")
        return user, password

    @property
    def escrow_missing(self) -> list[str]:
        """The settings escrow still needs (variable names), empty when it is on."""
        missing = [f"{ENV_PREFIX}MONEROD_URL"] if not self.monerod_url else []
        missing += [f"{ENV_PREFIX}SIGNER_{role.upper()}_URLS" for role in SignerRole if not self.signer_urls(role)]
        return missing

    @property
    def escrow_configured(self) -> bool:
        return not self.escrow_missing

    @property
    def resolved_backup_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def resolved_metrics_dir(self) -> Path:
        return self.metrics_dir if self.metrics_dir is not None else self.data_dir / "metrics"

    @property
    def is_development(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    @cached_property
    def secret_key_bytes(self) -> bytes:
        if self.secret_key is None:
            return DEVELOPMENT_SECRET_KEY.encode()
        return self.secret_key.get_secret_value().encode()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'marketplace.sqlite3').resolve()}"


def _refuse_weak_secret(name: str, value: str) -> None:
    """Raise ``InsecureSettings`` naming the setting (never its value) unless ``value`` is random."""
    variable = f"{ENV_PREFIX}{name.upper()}"
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        msg = (
            f"{variable} (or {variable}_FILE) is missing or a placeholder; "
            "set a random value, e.g. from `openssl rand -hex 32`"
        )
        raise InsecureSettings(msg)
    reason = weakness(value)
    if reason is not None:
        msg = f"{variable} is not a random secret: {reason}; make one with `openssl rand -hex 32`"
        raise InsecureSettings(msg)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and overrides); raises on invalid or insecure input."""
    return Settings(**overrides)
