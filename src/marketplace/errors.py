"""Domain errors raised by services and mapped to user text at the edge.

Every error carries a stable machine code, a message a person can read, and optionally the
input field at fault (``field``) or, for a conflict, the current state of the thing (``state``).
The web layer turns them into the one API error shape ``{"error", "message", "field"?, "state"?}``
or into the form again with the message; the CLI turns them into an exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class MarketplaceError(Exception):
    """Base of every error a user can cause; never a bug.

    ``records_to_keep`` holds work that must survive the refusal's rollback, such as releasing
    a throttled attempt that was no failed guess. Whoever rolls the transaction back commits
    them right after, in a short transaction of their own (``marketplace.db.writes.keep_records``).
    """

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, state: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.state = state
        self.records_to_keep: list[Callable[[Session], None]] = []

    def keeping(self, record: Callable[[Session], None]) -> Self:
        """Add ``record`` (a function writing with the session it is given) to the records to keep."""
        self.records_to_keep.append(record)
        return self

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.state is not None:
            body["state"] = self.state
        return body


class InvalidInput(MarketplaceError):
    status_code = 422
    code = "invalid"


class NotAuthenticated(MarketplaceError):
    status_code = 401
    code = "not_authenticated"

    def __init__(self, message: str = "Sign in to do this.") -> None:
        super().__init__(message)


class Forbidden(MarketplaceError):
    status_code = 403
    code = "forbidden"

    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class NotFound(MarketplaceError):
    status_code = 404
    code = "not_found"


class Conflict(MarketplaceError):
    status_code = 409
    code = "conflict"


class EscrowUnavailable(MarketplaceError):
    """503: escrow is not configured (no monerod or signer URLs), so nothing can be ordered."""

    status_code = 503
    code = "escrow_unavailable"


class RateLimited(MarketplaceError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
