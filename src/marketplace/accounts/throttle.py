"""Sign-in throttling per account and per client address, kept in the database.

Several worker processes (and hosts) serve sign-ins, so the count lives in ``login_failures``
rather than in memory. Each failed attempt adds one row for ``account:<username key>`` and one
for ``address:<client address>``; when either scope has reached its limit within
``login_failure_window_seconds``, further attempts are refused with ``RateLimited`` *before* the
password is checked, so a correct guess does not help a throttled attacker. Unknown usernames
are counted like known ones, so throttling reveals nothing about which accounts exist. A
successful sign-in does not clear the count: an attacker who also knows one password must not
be able to reset the budget for another guess.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import LoginFailure
from marketplace.db.base import utcnow
from marketplace.errors import RateLimited
from marketplace.settings import Settings

log = logging.getLogger("marketplace.accounts.throttle")

_SCOPE_VALUE_LENGTH = 100  # the column holds 128 characters, prefix included


@dataclass(frozen=True)
class SignInScopes:
    """The two counters one sign-in attempt is charged to."""

    account: str
    address: str

    @classmethod
    def of(cls, username: str, client_address: str) -> SignInScopes:
        # NUL cannot be stored in PostgreSQL text; it is never part of a real username anyway.
        key = username.replace("\x00", "").strip().lower()[:_SCOPE_VALUE_LENGTH]
        address = client_address.replace("\x00", "")[:_SCOPE_VALUE_LENGTH]
        return cls(account=f"account:{key}", address=f"address:{address}")


def _seconds_until_allowed(db: Session, scope: str, limit: int, window: timedelta, now: datetime) -> int | None:
    """None if ``scope`` may try again now, else the seconds until it may.

    The scope is throttled while it has ``limit`` or more failures in the window; it is free
    again when the ``limit``-th most recent of them leaves the window.
    """
    recent = db.scalars(
        select(LoginFailure.created_at)
        .where(LoginFailure.scope == scope, LoginFailure.created_at > now - window)
        .order_by(LoginFailure.created_at.desc())
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    free_at = recent[-1] + window
    return max(1, math.ceil((free_at - now).total_seconds()))


def ensure_not_throttled(db: Session, settings: Settings, scopes: SignInScopes) -> None:
    """Raise ``RateLimited`` (with Retry-After seconds) if either scope has used up its attempts."""
    now = utcnow()
    window = timedelta(seconds=settings.login_failure_window_seconds)
    waits = [
        wait
        for scope, limit in (
            (scopes.account, settings.login_max_failures_per_account),
            (scopes.address, settings.login_max_failures_per_address),
        )
        if (wait := _seconds_until_allowed(db, scope, limit, window, now)) is not None
    ]
    if waits:
        log.warning("sign_in_throttled", extra={"retry_after_seconds": max(waits)})
        minutes = math.ceil(max(waits) / 60)
        raise RateLimited(
            f"Too many failed sign-ins. Wait about {minutes} minute{'s' if minutes != 1 else ''} and try again.",
            retry_after_seconds=max(waits),
        )


def record_failure(db: Session, settings: Settings, scopes: SignInScopes) -> None:
    """Count one failed attempt against both scopes, and forget their failures that left the window.

    A refused sign-in rolls its transaction back, so this runs as one of the refusal's records to
    keep (``signin.counted_failure``), in a short transaction of its own after the rollback.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.login_failure_window_seconds)
    db.execute(
        delete(LoginFailure).where(
            LoginFailure.scope.in_([scopes.account, scopes.address]), LoginFailure.created_at < cutoff
        )
    )
    db.add_all([LoginFailure(scope=scopes.account, created_at=now), LoginFailure(scope=scopes.address, created_at=now)])
    db.flush()
    log.info("sign_in_failed")
