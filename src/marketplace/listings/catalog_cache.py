"""Pages of browse results remembered per process, and checked against the database every time.

Browsing is the hot path and most requests ask for the same few pages. Each answer is kept with
the catalog version (``CatalogVersion``) it was computed at; a request reads the current version
first (one primary-key lookup) and reuses an answer only if the version is unchanged. Triggers
bump the version in the same transaction as any change that can alter a page, so a remembered
answer is never staler than the database: a write is visible to the very next read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.listings.models import CatalogVersion

T = TypeVar("T")
_VERSION = select(CatalogVersion.version).where(CatalogVersion.id == 1)


def catalog_version(db: Session) -> int:
    return int(db.scalar(_VERSION) or 0)


class CatalogCache(Generic[T]):
    """A bounded, thread-safe map from a query's key to its answer at one catalog version."""

    def __init__(self, max_entries: int = 512) -> None:
        self._entries: OrderedDict[Hashable, tuple[int, T]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get_or_compute(self, db: Session, key: Hashable, compute: Callable[[], T]) -> T:
        """The answer for ``key``: remembered if the catalog has not changed since, else ``compute()``.

        The version is read before computing, so an answer is stored under a version no newer
        than the data it holds; a later request can only find it fresh or recompute.
        """
        version = catalog_version(db)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                return entry[1]
        value = compute()
        with self._lock:
            self._entries[key] = (version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return value
