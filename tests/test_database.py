"""The SQLite connection settings a user's data relies on (WAL, foreign keys, FULL sync, busy timeout)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

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
