"""Engines and sessions for SQLite and PostgreSQL.

SQLite is opened with WAL (readers do not block the writer), foreign keys on, a busy timeout
(a writer waits for the lock instead of failing at once) and ``synchronous=FULL`` (a committed
money state survives power loss; DESIGN.md §5 asks for proof before anything cheaper).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from marketplace.settings import Settings


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    return on_connect


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = 5000) -> Engine:
    """Create an engine for ``url``; SQLite files get the pragmas above, their directory created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool_args: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            pool_args = {"pool_size": 8, "max_overflow": 8}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_ms / 1000},
            **pool_args,
        )
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_busy_timeout_ms))
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, pool_size=8, max_overflow=8)


def engine_from_settings(settings: Settings) -> Engine:
    return make_engine(settings.resolved_database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)


class Database:
    """An engine and its session factory; one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(engine_from_settings(settings))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
