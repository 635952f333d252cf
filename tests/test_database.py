"""The connection settings a user's data relies on (WAL, foreign keys, FULL sync, lock timeouts)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError

from marketplace.accounts.models import User
from marketplace.db.engine import Database
from marketplace.settings import load_settings


def test_sqlite_connections_are_durable_and_wait_for_locks(tmp_path: Path) -> None:
    settings = load_settings(env="development", data_dir=tmp_path, sqlite_busy_timeout_ms=1234)
    database = Database.from_settings(settings)
    try:
        with database.engine.connect() as connection:
            pragmas = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
            }
    finally:
        database.dispose()

    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 2, "busy_timeout": 1234}
    assert (tmp_path / "marketplace.sqlite3").is_file()


@pytest.mark.parametrize("settings_overrides", [{"sqlite_busy_timeout_ms": 200, "postgres_lock_timeout_ms": 200}])
def test_no_statement_waits_for_ever_behind_a_stuck_transaction(
    database: Database, make_user: Callable[..., User]
) -> None:
    """A transaction that holds a lock and never ends makes the others fail after the lock timeout, not hang."""
    user = make_user()
    stuck = database.sessions()
    try:
        stuck.execute(update(User).where(User.id == user.id).values(pgp_key=None))  # holds the row (and SQLite's) lock
        with pytest.raises(OperationalError, match="lock"), database.session() as other:
            other.execute(update(User).where(User.id == user.id).values(payout_address=None))
    finally:
        stuck.rollback()
        stuck.close()
