"""Fixtures shared by the whole suite.

Every test that touches the database runs twice, on SQLite and on PostgreSQL (``database_url``
is parametrized). Each test gets a fresh database cloned from one migrated once per session:
a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for PostgreSQL.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from marketplace.accounts.models import Role, User
from marketplace.db.engine import Database, make_engine
from marketplace.db.migrate import upgrade
from marketplace.escrow.key_backup import stop_gpg_agent
from marketplace.listings.models import Listing
from marketplace.monero.regtest import RegtestCluster, start_regtest
from marketplace.observability.process import process_name, set_process_name
from marketplace.settings import Settings, load_settings
from marketplace.web.app import create_app
from tests.support.client import SiteClient
from tests.support.escrow_stack import BackupKey, escrow_overrides, make_backup_key
from tests.support.factories import DEFAULT_PASSWORD, Person, create_user, insert_listing, sign_in_directly
from tests.support.live_server import serve
from tests.support.postgres import PostgresServer, start_postgres

# From secrets.token_hex(32): production settings refuse anything less random.
TEST_SECRET_KEY = "e90ebc3bb54e30ddb0b15d5cb9e501a69bea8a71958ec2a656461a0d626ad99d"
_counter = itertools.count()


def pytest_itemcollected(item: pytest.Item) -> None:
    """Every test using the regtest chain is marked ``regtest``: ``make test`` runs them in one
    process of their own (one chain per session) beside the others, which run with xdist."""
    if "regtest" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.regtest)


@pytest.fixture(autouse=True)
def _process_name_restored() -> Iterator[None]:
    """A command run in-process (``marketplace worker`` under CliRunner) names the process
    ``worker`` for its metrics; the next test in this process is the web again."""
    before = process_name()
    yield
    set_process_name(before)


@pytest.fixture(scope="session")
def regtest() -> Iterator[RegtestCluster]:
    """A real Monero regtest cluster, started once per session: see marketplace/monero/regtest.py."""
    cluster = start_regtest()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def backup_gpg_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackupKey]:
    """The operator's backup key of the session: ``(home, fingerprint)``, with ``.decrypt(path)``."""
    key = make_backup_key(tmp_path_factory.mktemp("backup-gpg") / "gnupg")
    try:
        yield key
    finally:
        stop_gpg_agent(key.home)


@pytest.fixture(scope="session")
def wallet_master_key() -> str:
    """The escrow wallets' master key of the session (random, as production demands)."""
    return secrets.token_hex(32)


@pytest.fixture
def escrow_settings(
    regtest: RegtestCluster, backup_gpg_key: BackupKey, wallet_master_key: str, tmp_path: Path
) -> dict[str, Any]:
    """Settings overrides that turn escrow on against the regtest cluster (tests/support/escrow_stack.py);
    use them as ``settings_overrides``, adding the windows the test needs."""
    return escrow_overrides(
        regtest, backup_key=backup_gpg_key, backup_dir=tmp_path / "backups", master_key=wallet_master_key
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        engine = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("CREATE DATABASE marketplace_template"))
        engine.dispose()
        template = make_engine(server.url("marketplace_template"))
        upgrade(template)
        template.dispose()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "marketplace.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{next(_counter)}"
    admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE marketplace_template"))
    try:
        yield server.url(name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test changes: ``@pytest.mark.parametrize("settings_overrides", [{...}])``."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    """Production settings (secure cookies and all), pointed at the test database."""
    values: dict[str, Any] = {
        "env": "production",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "network": "mainnet",
    }
    return load_settings(**{**values, **settings_overrides})


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database.from_settings(settings)
    yield db
    db.dispose()


@pytest.fixture
def app(settings: Settings, database: Database) -> Iterator[FastAPI]:
    application = create_app(settings, database)
    yield application
    # The live server runs without lifespan: release the catalogue's own connection here too.
    application.state.runtime.catalog.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[SiteClient]:
    with SiteClient(app) as site:
        yield site


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served over real HTTP on a loopback port (uvicorn in a thread); yields its base URL."""
    with serve(app) as base_url:
        yield base_url


@pytest.fixture
def make_client(app: FastAPI) -> Iterator[Callable[[], SiteClient]]:
    """A second (third, ...) browser or API client on the same app."""
    made: list[SiteClient] = []

    def make() -> SiteClient:
        site = SiteClient(app)
        site.__enter__()
        made.append(site)
        return site

    yield make
    for site in made:
        site.__exit__(None, None, None)


@pytest.fixture
def make_user(database: Database) -> Callable[..., User]:
    """Create an account directly (any role); its password is ``DEFAULT_PASSWORD``."""

    def make(role: Role | str = Role.BUYER, username: str | None = None, password: str = DEFAULT_PASSWORD) -> User:
        return create_user(database, role, username=username, password=password)

    return make


@pytest.fixture
def sign_in_as(
    database: Database, settings: Settings, make_client: Callable[[], SiteClient]
) -> Callable[[User], Person]:
    """A client of its own signed in as an existing account: session cookie and API token."""

    def sign_in(user: User) -> Person:
        return sign_in_directly(database, settings, user, make_client())

    return sign_in


@pytest.fixture
def sign_up(make_user: Callable[..., User], sign_in_as: Callable[[User], Person]) -> Callable[..., Person]:
    """A new account of ``role`` (vendor by default), signed in on a client of its own."""

    def make(role: Role | str = Role.VENDOR, username: str | None = None) -> Person:
        return sign_in_as(make_user(role=role, username=username))

    return make


@pytest.fixture
def make_listing(database: Database, make_user: Callable[..., User]) -> Callable[..., Listing]:
    """Insert a listing directly (a new vendor's unless ``vendor`` is given); see ``insert_listing``."""

    def make(vendor: User | None = None, **fields: Any) -> Listing:
        return insert_listing(database, vendor or make_user(Role.VENDOR), **fields)

    return make
