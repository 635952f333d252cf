"""Engines and sessions for SQLite and PostgreSQL.

SQLite is opened with WAL (readers do not block the writer), foreign keys on, a busy timeout
(a writer waits for the lock instead of failing at once) and ``synchronous=FULL`` (a committed
money state survives power loss; DESIGN.md §5 asks for proof before anything cheaper).

Python's sqlite3 driver starts a transaction only before the first INSERT, UPDATE or DELETE;
reads before it see the latest commit each. ``marketplace.db.writes`` builds on that: a guarded
change is one conditional UPDATE, or takes the write lock (``BEGIN IMMEDIATE``) before it reads.

Statement parameters are never put in error messages (``hide_parameters``): they can hold
personal data and secrets, and error messages end up in logs.

Every statement error is counted (``names.DB_ERRORS``) by SQLAlchemy's class for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

from marketplace.db.writes import keep_records
from marketplace.settings import Settings


@dataclass(frozen=True)
class PoolLimits:
    """How many connections a process holds (``size`` + ``overflow``) and how long a request waits for one.

    ``lock_timeout_ms``: how long a statement waits for a lock another transaction holds before
    it fails (SQLite's busy timeout, PostgreSQL's ``lock_timeout``), so that no request waits
    for ever behind a stuck one.
    """

    size: int = 8
    overflow: int = 8
    timeout_seconds: float = 30.0
    lock_timeout_ms: int = 5000


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


def _count_error(context: ExceptionContext) -> None:
    """``names.DB_ERRORS``, by SQLAlchemy's class for the error (imported late: see ``observability.registry``)."""
    from marketplace.observability.metrics import record_db_error

    record_db_error(context.sqlalchemy_exception or context.original_exception)


def make_engine(url: str | URL, *, sqlite_busy_timeout_ms: int = 5000, pool: PoolLimits | None = None) -> Engine:
    """Create an engine for ``url``; SQLite files get the pragmas above, their directory created."""
    limits = pool or PoolLimits()
    parsed = make_url(url)
    pool_args: dict[str, Any] = {
        "pool_size": limits.size,
        "max_overflow": limits.overflow,
        "pool_timeout": limits.timeout_seconds,
    }
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            pool_args = {}  # one shared in-memory database: SQLAlchemy's default pool for it
        else:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_ms / 1000},
            hide_parameters=True,
            **pool_args,
        )
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_busy_timeout_ms))
        event.listen(engine, "handle_error", _count_error)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"options": f"-c lock_timeout={int(limits.lock_timeout_ms)}"},
        **pool_args,
    )
    event.listen(engine, "handle_error", _count_error)
    return engine


class Database:
    """An engine and its session factory; one per process."""

    def __init__(self, engine: Engine, *, sqlite_busy_timeout_ms: int = 5000) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self._sqlite_busy_timeout_ms = sqlite_busy_timeout_ms

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        limits = PoolLimits(
            size=settings.database_pool_size,
            overflow=settings.database_pool_overflow,
            timeout_seconds=settings.database_pool_timeout_seconds,
            lock_timeout_ms=settings.postgres_lock_timeout_ms,
        )
        engine = make_engine(
            settings.resolved_database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms, pool=limits
        )
        return cls(engine, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any exception.

        When the exception is a refusal carrying records to keep (a throttle reservation to
        release because the refusal was no failed guess), they are committed in a short transaction of their own
        after the rollback, on the same connection slot: never two connections at once.
        """
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException as exc:
            session.rollback()
            keep_records(session, exc)
            raise
        finally:
            session.close()

    def side_engine(self) -> Engine:
        """A second, one-connection engine on the same database, for a reader that must never wait on the pool."""
        return make_engine(
            self.engine.url,
            sqlite_busy_timeout_ms=self._sqlite_busy_timeout_ms,
            pool=PoolLimits(size=1, overflow=0, timeout_seconds=30.0),
        )

    def dispose(self) -> None:
        self.engine.dispose()
