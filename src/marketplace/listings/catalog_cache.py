"""Browse results remembered per process, and checked against the database on every read.

Browsing is the hot path and most requests ask for the same few pages. Each answer is kept with
the catalog version (``CatalogVersion``) it was computed at; a request reads the current version
first (one primary-key lookup) and reuses an answer only if the version is unchanged. Triggers
bump the version in the same transaction as any change that can alter a page, so a remembered
answer is never staler than the database: a write is visible to the very next read.

The version is read before an answer is computed, so an answer is stored under a version no
newer than the data it holds; a later request can only find it fresh or compute it again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from markupsafe import Markup
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from marketplace.listings.models import CatalogVersion

T = TypeVar("T")
_VERSION = select(CatalogVersion.version).where(CatalogVersion.id == 1)
VERSION_SQL = "SELECT version FROM catalog_version WHERE id = 1"


def catalog_version(db: Session) -> int:
    """The version as seen by ``db``'s transaction."""
    return int(db.scalar(_VERSION) or 0)


class CatalogVersionReader:
    """Reads the latest committed version on one connection of its own, kept open.

    The hot path calls it from the event loop (on SQLite), so it must not wait for a pooled connection
    (the pool may be busy with slow requests); one dedicated connection, used under a lock,
    costs a primary-key lookup and nothing more. A broken connection is replaced once.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None
        self._lock = threading.Lock()
        # A local SQLite file answers in microseconds; a database server is a network round trip,
        # which must not stall the event loop (callers run ``read`` in the thread pool then).
        self.is_local = engine.dialect.name == "sqlite"

    def read(self) -> int:
        with self._lock:
            try:
                return self._read_once()
            except self._engine.dialect.loaded_dbapi.Error:
                self.close_locked()
                return self._read_once()

    def _read_once(self) -> int:
        if self._connection is None:
            self._connection = self._engine.raw_connection()
        cursor = self._connection.cursor()
        try:
            cursor.execute(VERSION_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
        # End the read's transaction (PostgreSQL opens one), so the next read sees newer commits.
        self._connection.rollback()
        return int(row[0]) if row else 0

    def close_locked(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
            finally:
                self._connection = None

    def close(self) -> None:
        """Close the reader's connection and its engine (the reader is given an engine of its own)."""
        with self._lock:
            self.close_locked()
        self._engine.dispose()


class CatalogCache(Generic[T]):
    """A bounded, thread-safe map from a query's key to its answer at one catalog version."""

    def __init__(self, max_entries: int = 512) -> None:
        self._entries: OrderedDict[Hashable, tuple[int, T]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int) -> T | None:
        """The answer remembered for ``key`` if it was computed at ``version``, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, version: int, value: T) -> None:
        with self._lock:
            self._entries[key] = (version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


# Totals are a few bytes each and shared by every sort, page and page size of a filter: keep many.
COUNT_ENTRIES = 4096


@dataclass
class Catalog:
    """What one process remembers of the catalogue, and the version reader.

    ``pages``: browse and vendor pages (cards); ``browse_html``: the results part of the browse
    page, rendered; ``json_bodies``: list API answers (bytes); ``counts``: the total of each
    filter (category, vendor, search words), which every sort, page and page size of that
    filter shares.
    """

    version: CatalogVersionReader
    pages: CatalogCache[Any] = field(default_factory=CatalogCache)
    browse_html: CatalogCache[Markup] = field(default_factory=CatalogCache)
    json_bodies: CatalogCache[bytes] = field(default_factory=CatalogCache)
    counts: CatalogCache[int] = field(default_factory=lambda: CatalogCache(max_entries=COUNT_ENTRIES))

    def close(self) -> None:
        self.version.close()
