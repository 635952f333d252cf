"""Pages of results: one type for every list the site shows, and the bounds on page numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Far beyond any real list; keeps OFFSET inside every database's integer range.
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, the list's total, the page number (from 1) and the page size."""

    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.page_count

    @property
    def out_of_range(self) -> bool:
        """Past the last page (an empty page with the true total, never an error)."""
        return self.page > self.page_count


def page_offset(page: int, page_size: int) -> int:
    """The OFFSET of ``page`` (clamped to 1..MAX_PAGE) for ``page_size`` rows per page."""
    return (min(max(page, 1), MAX_PAGE) - 1) * page_size
