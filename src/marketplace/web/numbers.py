"""Numbers from outside (path ids, page numbers, page sizes, counts): parsed and bounded in one place.

A number from a URL, a form or a JSON body reaches the database only inside its column's range,
so no request can make the driver overflow (SQLite's ``OverflowError`` past 2^63, PostgreSQL's
"out of range" past 2^31) and answer 500. The rules:

- An id in a path is ASCII digits making 1 to ``MAX_ID`` (every primary key is a 32-bit integer
  on both databases). Anything else (letters, a sign, 0, 10^30) cannot name a row: ``NotFound``
  (404 ``not_found``), the same answer as for an id that does not exist.
- A page number is ASCII digits making 1 to ``MAX_PAGE``; empty or absent is 1. Anything else is
  ``InvalidInput`` (422, field ``page``). A page within the range but past the list's end is an
  empty page that gives the true total (a list may shrink while someone pages through it).
- An API page size is ASCII digits making 1 to ``MAX_API_PAGE_SIZE``, else 422 (``page_size``).
- A count typed in a form (``parse_count``: the stock) is ASCII digits within its range, else 422.
- Integers in JSON bodies (price, stock) are JSON integers (strict models) checked against their
  ranges by the services, which the pages share.

Pages call ``parse_id`` and ``parse_page``. The API declares ``ListingId``, ``ImageId``,
``AccountId``, ``PageNumber`` and ``PageSize``, which run the same functions before FastAPI's own
checks, so the OpenAPI document still states an integer with its minimum and maximum; a value
outside them is answered as the document says (404 for an id, 422 for a page).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator

from marketplace.api_schema import enforced
from marketplace.db.base import MAX_ID
from marketplace.errors import InvalidInput, NotFound
from marketplace.pagination import MAX_PAGE

MAX_API_PAGE_SIZE = 100
_MAX_ID_DIGITS = len(str(MAX_ID))


def parse_id(text: str, what: str) -> int:
    """A path id: ASCII digits making 1 to ``MAX_ID``; anything else is ``NotFound`` ("There is no such <what>.")."""
    if not text.isascii() or not text.isdigit() or len(text.lstrip("0")) > _MAX_ID_DIGITS:
        raise NotFound(f"There is no such {what}.")
    number = int(text)
    if not 1 <= number <= MAX_ID:
        raise NotFound(f"There is no such {what}.")
    return number


def parse_count(text: str | None, *, field: str, minimum: int, maximum: int, message: str) -> int:
    """A whole number typed in a form or URL: ASCII digits (spaces around) making ``minimum`` to ``maximum``.

    Raises ``InvalidInput(message, field=field)`` for anything else: a sign, a point, other
    scripts' digits, or a number out of the range (however many digits; none is converted first).
    """
    cleaned = (text or "").strip()
    digits = cleaned.lstrip("0") or "0"
    if not cleaned.isascii() or not cleaned.isdigit() or len(digits) > len(str(maximum)):
        raise InvalidInput(message, field=field)
    number = int(digits)
    if not minimum <= number <= maximum:
        raise InvalidInput(message, field=field)
    return number


PAGE_MESSAGE = f"The page is a whole number from 1 to {MAX_PAGE:,}."


def parse_page(text: str | None) -> int:
    """A page number from a URL or form: empty is 1; raises ``InvalidInput`` (field ``page``) outside 1..MAX_PAGE."""
    if not (text or "").strip():
        return 1
    return parse_count(text, field="page", minimum=1, maximum=MAX_PAGE, message=PAGE_MESSAGE)


def parse_page_size(text: str) -> int:
    """An API page size; raises ``InvalidInput`` (field ``page_size``) outside 1..MAX_API_PAGE_SIZE."""
    message = f"The page size is a whole number from 1 to {MAX_API_PAGE_SIZE}."
    return parse_count(text, field="page_size", minimum=1, maximum=MAX_API_PAGE_SIZE, message=message)


def _raw(parse: Callable[[str], int]) -> BeforeValidator:
    """Run ``parse`` on the text from the URL; its domain error goes out as is (404 or 422 in the one shape)."""

    def validate(value: Any) -> int:
        return parse(value if isinstance(value, str) else str(value))

    return BeforeValidator(validate)


def _range(minimum: int, maximum: int) -> dict[str, Any]:
    # Stated for the document only: the parser above has already applied it (pydantic's ge/le
    # would not reach the document through a BeforeValidator).
    return enforced(minimum=minimum, maximum=maximum)


def _path_id(what: str, description: str) -> tuple[BeforeValidator, Any]:
    rule = (
        f"{description} Anything but a whole number from 1 to {MAX_ID} is answered 404, as an id that does not exist."
    )
    return _raw(functools.partial(parse_id, what=what)), Path(description=rule, json_schema_extra=_range(1, MAX_ID))


_LISTING = _path_id("listing", "The listing's id.")
_IMAGE = _path_id("image", "The image's id.")
_ACCOUNT = _path_id("account", "The account's id.")
_REVIEW = _path_id("review", "The review's id.")
ListingId = Annotated[int, _LISTING[0], _LISTING[1]]
ImageId = Annotated[int, _IMAGE[0], _IMAGE[1]]
AccountId = Annotated[int, _ACCOUNT[0], _ACCOUNT[1]]
ReviewId = Annotated[int, _REVIEW[0], _REVIEW[1]]
PageNumber = Annotated[
    int,
    _raw(parse_page),
    Query(
        description="The page, from 1; past the list's last page the page is empty (its total is still true).",
        json_schema_extra=_range(1, MAX_PAGE),
    ),
]
PageSize = Annotated[
    int | None,
    _raw(parse_page_size),
    Query(
        description="Items per page (the site's setting when left out).", json_schema_extra=_range(1, MAX_API_PAGE_SIZE)
    ),
]
