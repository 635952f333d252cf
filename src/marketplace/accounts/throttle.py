"""Throttling by reservation: sign-ins (and every check of a password or code) and registrations.

Several worker processes (and hosts) serve requests, so the counts live in the database table
``login_failures``: one row per attempt and per scope it is charged to. An attempt is *reserved*
before its password is checked: in a short transaction of its own, under a lock on its scopes
(``db.writes.lock_names``), every scope is counted and, only if each has room, the attempt's rows
are written and committed. So attempts sent at the same moment are checked at most ``limit``
times, and the rest are refused with ``RateLimited`` before any password is looked at (a correct
guess does not help a throttled attacker). A success then releases its reservation (deletes its
rows, in the transaction that acts on the success); a failure leaves them as its record, so a
failure survives the refusal's rollback (and a crash in the middle of the hash) without more work.

A sign-in attempt is charged to three scopes (``SignInScopes``):

- the username *at* the client address (``login_max_failures_per_account_address``, small): what
  stops guessing, without letting a stranger's failures lock the owner out from elsewhere;
- the client address (``login_max_failures_per_address``): one address guessing many usernames;
- the username from anywhere (``login_max_failures_per_account``): a ceiling against guessing from
  many addresses, high enough that a stranger cannot reach it casually (reaching it does lock the
  owner out, as it must, for the window).

Unknown usernames are counted like known ones, so throttling reveals nothing about which accounts
exist. Registrations are charged to ``registration:<address>`` the same way; there a refused
registration releases its reservation, so the count is of accounts made.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import LoginFailure
from marketplace.db.base import utcnow
from marketplace.db.writes import lock_names
from marketplace.errors import RateLimited
from marketplace.settings import Settings

log = logging.getLogger("marketplace.accounts.throttle")

# The scope column holds 128 characters: each part is cut so that any scope fits.
_ACCOUNT_KEY_LENGTH = 56
_ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` attempts charged to ``scope`` within the window."""

    scope: str
    limit: int


@dataclass(frozen=True)
class Reservation:
    """The rows one attempt wrote (``login_failures`` ids); releasing it deletes them."""

    row_ids: tuple[int, ...]


def _clean(text: str, length: int) -> str:
    # NUL cannot be stored in PostgreSQL text; it is never part of a username or an address anyway.
    return text.replace("\x00", "").strip()[:length]


@dataclass(frozen=True)
class SignInScopes:
    """The three counters one attempt to prove who someone is (password, code) is charged to."""

    account: str
    address: str
    account_at_address: str

    @classmethod
    def of(cls, username: str, client_address: str) -> SignInScopes:
        key = _clean(username, _ACCOUNT_KEY_LENGTH).lower()
        address = _clean(client_address, _ADDRESS_LENGTH)
        return cls(account=f"account:{key}", address=f"address:{address}", account_at_address=f"pair:{key}@{address}")

    def quotas(self, settings: Settings) -> list[Quota]:
        return [
            Quota(self.account_at_address, settings.login_max_failures_per_account_address),
            Quota(self.address, settings.login_max_failures_per_address),
            Quota(self.account, settings.login_max_failures_per_account),
        ]


def registration_quota(settings: Settings, client_address: str) -> Quota:
    return Quota(f"registration:{_clean(client_address, _ADDRESS_LENGTH)}", settings.registration_max_per_address)


def _seconds_until_room(db: Session, quota: Quota, window: timedelta, now: datetime) -> int | None:
    """None if ``quota.scope`` has room for one more attempt now, else the seconds until it has.

    The scope is full while it has ``limit`` or more rows in the window; it has room again when
    the ``limit``-th most recent of them leaves the window.
    """
    recent = db.scalars(
        select(LoginFailure.created_at)
        .where(LoginFailure.scope == quota.scope, LoginFailure.created_at > now - window)
        .order_by(LoginFailure.created_at.desc())
        .limit(quota.limit)
    ).all()
    if len(recent) < quota.limit:
        return None
    return max(1, math.ceil((recent[-1] + window - now).total_seconds()))


def reserve(db: Session, quotas: Sequence[Quota], *, window_seconds: int, refusal: str) -> Reservation:
    """Charge one attempt to every quota's scope, or raise ``RateLimited`` if any has no room.

    Runs in (and commits) a short transaction of its own: the caller must have written nothing
    yet in ``db``'s transaction. Forgets the scopes' rows that left the window. ``refusal`` is the
    message's first sentence; the error carries the seconds to wait (``Retry-After``).
    """
    window = timedelta(seconds=window_seconds)
    lock_names(db, [quota.scope for quota in quotas])
    now = utcnow()  # read once the lock is held: no row counted can be newer than it
    waits = [wait for quota in quotas if (wait := _seconds_until_room(db, quota, window, now)) is not None]
    if waits:
        wait = max(waits)
        log.warning("throttled", extra={"retry_after_seconds": wait})
        minutes = math.ceil(wait / 60)
        raise RateLimited(
            f"{refusal} Wait about {minutes} minute{'s' if minutes != 1 else ''} and try again.",
            retry_after_seconds=wait,
        )
    scopes = [quota.scope for quota in quotas]
    db.execute(delete(LoginFailure).where(LoginFailure.scope.in_(scopes), LoginFailure.created_at <= now - window))
    rows = [LoginFailure(scope=scope, created_at=now) for scope in scopes]
    db.add_all(rows)
    db.flush()
    reservation = Reservation(tuple(row.id for row in rows))
    db.commit()
    return reservation


def release(db: Session, reservation: Reservation) -> None:
    """Take back a reserved attempt (it succeeded, or was refused for a reason that is no guess)."""
    db.execute(delete(LoginFailure).where(LoginFailure.id.in_(reservation.row_ids)))


TOO_MANY_SIGN_INS = "Too many failed sign-ins."


def reserve_sign_in(db: Session, settings: Settings, scopes: SignInScopes) -> Reservation:
    """Reserve one attempt to prove who someone is (``reserve`` with the sign-in quotas)."""
    return reserve(
        db, scopes.quotas(settings), window_seconds=settings.login_failure_window_seconds, refusal=TOO_MANY_SIGN_INS
    )
