"""How guarded state changes are written, the same way on SQLite and PostgreSQL.

A guarded change is one whose rule depends on the current state: "suspend if active", "add an
image if the listing has room", "use this recovery code if unused", later "release if funded".
Two requests checking the state and then writing can both pass the check; so every guarded
change is made in one of two ways:

1. **Compare-and-set** (``compare_and_set``): one conditional ``UPDATE ... WHERE <expected
   state>`` whose row count is checked. The database evaluates the condition and the write as one
   step (SQLite has one writer at a time; PostgreSQL re-checks the condition on the newest row
   version after waiting for a concurrent writer), so of two racing requests exactly one wins.
2. **Write lock before the read** (``lock_for_write`` / ``select_for_update``), where a whole
   read-check-write must be atomic (a rule over several rows, such as counting images). On
   PostgreSQL the rows are read ``FOR UPDATE``; on SQLite the transaction takes the database's
   write lock with ``BEGIN IMMEDIATE`` before reading (SQLite ignores ``FOR UPDATE``, and Python's
   driver starts no transaction before the first write, so a plain read would see a state another
   writer is about to change).

Either way the history row and the job row of the change go in the same transaction.

A rule over rows that may not exist yet ("at most five attempts for this name in the window")
has no row to lock: ``lock_names`` serializes the transactions that name the same thing
(PostgreSQL: a transaction-scoped advisory lock per name; SQLite: the write lock).

``keep_records`` is the other half of a refusal: work that must be committed although the refused
change is rolled back (a throttle reservation released because the refusal was no failed guess). Refusals carry it
(``MarketplaceError.records_to_keep``); whoever rolls back a transaction calls ``keep_records``
right after, on the same session, in a short transaction of its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import CursorResult, Delete, Select, Update, func, select
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session

from marketplace.errors import MarketplaceError


def compare_and_set(
    db: Session, statement: Update | Delete, *, refused: Callable[[], Exception], expected_rows: int = 1
) -> None:
    """Run the conditional UPDATE or DELETE ``statement``; raise ``refused()`` unless it hit ``expected_rows`` rows.

    ``statement`` must carry the expected state in its WHERE clause. ORM objects already loaded
    in ``db`` are not updated in memory (``synchronize_session=False``): refresh what you show.
    ``refused`` builds the domain error (a ``Conflict`` naming the current state, usually); it is
    called only when the change did not happen, so it may read the current state.
    """
    result = db.execute(statement.execution_options(synchronize_session=False))
    if not isinstance(result, CursorResult) or result.rowcount != expected_rows:
        raise refused()


def lock_for_write(db: Session) -> None:
    """Take the database's write lock for the rest of ``db``'s transaction (SQLite); no-op on PostgreSQL.

    Call it before reading what a read-check-write depends on. On SQLite it waits up to the busy
    timeout for another writer, then every later read in the transaction sees the latest state
    and no one else can write until the commit. If the transaction has already written, it holds
    the lock already. On PostgreSQL lock the rows themselves with ``select_for_update``.
    """
    connection = db.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi_connection: Any = connection.connection.dbapi_connection
    if not dbapi_connection.in_transaction:
        started = time.perf_counter()
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        _record_lock_wait(time.perf_counter() - started)


def select_for_update(db: Session, statement: Select[Any]) -> Result[Any]:
    """Run ``statement`` with its rows locked until the end of the transaction.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite: the whole database's write lock
    (``lock_for_write``), then a plain read. Objects already loaded in ``db`` are refreshed from
    the locked read (``populate_existing``), so no check uses state read before the lock.
    """
    lock_for_write(db)
    if db.get_bind().dialect.name == "sqlite":
        return db.execute(statement.execution_options(populate_existing=True))
    started = time.perf_counter()
    result = db.execute(statement.with_for_update().execution_options(populate_existing=True))
    _record_lock_wait(time.perf_counter() - started)
    return result


def lock_names(db: Session, names: Iterable[str]) -> None:
    """Hold a lock on each of ``names`` until the end of ``db``'s transaction.

    Two transactions naming a common name run their locked parts one after the other, though the
    rows they count may not exist yet. PostgreSQL: ``pg_advisory_xact_lock`` on a 64-bit key per
    name, taken in one sorted order so that two transactions naming the same set cannot deadlock
    (distinct names may share a key: that only serializes a little more). SQLite: the whole
    database's write lock (``lock_for_write``). Waits like any lock (busy or lock timeout).
    """
    lock_for_write(db)
    if db.get_bind().dialect.name == "sqlite":
        return
    keys = sorted({int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True) for name in names})
    started = time.perf_counter()
    for key in keys:
        db.execute(select(func.pg_advisory_xact_lock(key)))
    _record_lock_wait(time.perf_counter() - started)


def _record_lock_wait(seconds: float) -> None:
    """``names.DB_LOCK_WAIT``; imported here, not at the top, so that prometheus-client is imported only once
    a process records something (``observability.registry``: ``marketplace serve`` sets it up first)."""
    from marketplace.observability.metrics import record_lock_wait

    record_lock_wait(seconds)


def keep_records(db: Session, error: BaseException) -> None:
    """Commit ``error``'s records to keep in a short transaction of their own (``db`` was just rolled back)."""
    if not isinstance(error, MarketplaceError) or not error.records_to_keep:
        return
    records, error.records_to_keep = error.records_to_keep, []
    with db.begin():
        for record in records:
            record(db)


def end_reads(db: Session) -> None:
    """End ``db``'s transaction before slow work that needs no database (decoding images).

    The connection goes back to the pool instead of being held while the work (or its wait for a
    free slot) lasts; the next statement takes one again and starts a new transaction, so
    whatever was checked before must be checked again under the write (the guarded writes do).
    Call it only before the unit of work has written anything: it raises ``RuntimeError`` if
    changes are pending, and what was flushed would be committed.
    """
    if db.new or db.dirty or db.deleted:
        raise RuntimeError("end_reads() called with unwritten changes in the session")
    db.commit()
