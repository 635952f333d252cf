"""Checking who someone is: username, password and (when on) a two-factor code, throttled.

One path serves the sign-in page, ``POST /api/v1/tokens`` and the two-factor reset page, and one
more the account pages that ask for the password again, so every one of them is throttled alike
and answers alike whether or not a username exists.

Every attempt is reserved against the throttle before the password is checked
(``throttle.reserve_sign_in``, committed at once): a failure leaves the reservation as its record,
a success releases it in the transaction that acts on it, and a refusal that is no guess (a code
used at the same moment by a concurrent request, a token cap reached) releases it as one of the
error's records to keep (``MarketplaceError.keeping``), which whoever rolls back commits.

A sign-in is done in three steps so that no connection is held during the slow password hash:
reserve and look the account up (and end that transaction), verify the password in the hashing
threads, then conclude in a new transaction, which re-reads the account (it may have changed
meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from marketplace.accounts import totp
from marketplace.accounts.models import User
from marketplace.accounts.passwords import (
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from marketplace.accounts.services import find_user_by_username
from marketplace.accounts.throttle import Reservation, SignInScopes, release, reserve_sign_in
from marketplace.db.writes import select_for_update
from marketplace.errors import MarketplaceError, NotAuthenticated
from marketplace.settings import Settings

log = logging.getLogger("marketplace.accounts.signin")
T = TypeVar("T")

WRONG_CREDENTIALS = "Wrong username or password."
_CODE_REJECTED = "That two-factor code is wrong or was already used; wait for the next one."
_MAX_USERNAME_LOOKUP = 64  # longer input cannot be a username; do not send it to the database


class TwoFactorCodeRejected(NotAuthenticated):
    """The password was right but the account's two-factor code is missing, wrong or already used."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = "totp_code"


E = TypeVar("E", bound=MarketplaceError)


def uncounted(error: E, reservation: Reservation) -> E:
    """``error``, carrying the release of ``reservation`` to be kept after the rollback: not a failed guess."""
    return error.keeping(lambda db: release(db, reservation))


def lookup_user(db: Session, username: str) -> User | None:
    """The account named ``username`` (any case), or None; absurdly long input is not looked up."""
    # NUL cannot be stored in PostgreSQL text and is never part of a username.
    if not username.strip() or len(username) > _MAX_USERNAME_LOOKUP or "\x00" in username:
        return None
    return find_user_by_username(db, username)


def matching_totp_step(user: User, code: str) -> int | None:
    """The new time step ``code`` proves for ``user``, or None (wrong, stale, replayed, or no secret)."""
    if user.totp_secret is None:
        return None
    return totp.matching_step(user.totp_secret, code, last_step=user.totp_last_step)


def claim_totp_step(db: Session, user: User, step: int) -> bool:
    """Record ``step`` as used; False if a concurrent request used it (or a later one) first.

    A conditional UPDATE, so two requests racing with one code cannot both succeed.
    """
    result = db.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    user.totp_last_step = step
    return True


def accept_totp_code(db: Session, user: User, code: str) -> bool:
    """Accept ``code`` for ``user``'s two-factor secret once; False if wrong, stale or replayed."""
    step = matching_totp_step(user, code)
    return step is not None and claim_totp_step(db, user, step)


@dataclass(frozen=True)
class Candidate:
    """What the first step of a sign-in read: whom the username names, the hash to check, and the
    attempt reserved against the throttle."""

    user_id: int | None
    password_hash: str | None
    reservation: Reservation


def find_candidate(db: Session, settings: Settings, scopes: SignInScopes, username: str) -> Candidate:
    """Step one: reserve the attempt (or raise ``RateLimited``), then look the account up; ends ``db``'s transaction.

    The caller's transaction must hold nothing to keep: it is committed here so that the
    reservation counts at once and the connection goes back to the pool before the slow hash.
    """
    reservation = reserve_sign_in(db, settings, scopes)
    user = lookup_user(db, username)
    candidate = Candidate(user.id if user else None, user.password_hash if user else None, reservation)
    db.commit()
    return candidate


def locked_account(db: Session, user_id: int | None) -> User | None:
    """The account ``user_id`` read afresh under its row's write lock, or None.

    A sign-in holds the lock from checking the password's hash to issuing the credential, and a
    password change, a suspension or a closure takes it to change the row: so either the change
    comes first and the sign-in sees it, or the credential is committed first and the change's
    revocation of every credential includes it.
    """
    if user_id is None:
        return None
    return select_for_update(db, select(User).where(User.id == user_id)).scalar_one_or_none()


def conclude_sign_in(
    db: Session,
    candidate: Candidate,
    *,
    password_ok: bool,
    totp_code: str | None,
    new_hash: str | None,
) -> User:
    """Step three: the account, if still active with the hash that was checked and a valid code.

    The account's row stays locked until the caller's transaction ends: issue the credential in
    it. The attempt's reservation is released in the same transaction. Raises
    ``NotAuthenticated`` or ``TwoFactorCodeRejected``, both counted (the reservation stays),
    except a code that lost a race with a request carrying the same code, which is no
    attacker's guess.
    """
    if not password_ok:  # refused without a write lock: a storm of wrong guesses does not queue for it
        raise NotAuthenticated(WRONG_CREDENTIALS)
    user = locked_account(db, candidate.user_id)
    if user is None or not user.is_active or user.password_hash != candidate.password_hash:
        raise NotAuthenticated(WRONG_CREDENTIALS)
    if user.totp_enabled:
        if not totp_code or not totp_code.strip():
            raise TwoFactorCodeRejected("Enter the six-digit code from your authenticator app.")
        step = matching_totp_step(user, totp_code)
        if step is None:
            raise TwoFactorCodeRejected(_CODE_REJECTED)
        if not claim_totp_step(db, user, step):
            raise uncounted(TwoFactorCodeRejected(_CODE_REJECTED), candidate.reservation)
    if new_hash is not None:
        # Only if nobody changed the password meanwhile.
        db.execute(
            update(User)
            .where(User.id == user.id, User.password_hash == candidate.password_hash)
            .values(password_hash=new_hash)
            .execution_options(synchronize_session="fetch")
        )
    release(db, candidate.reservation)
    log.info("signed_in", extra={"user_id": user.id})
    return user


async def authenticate(
    db: Session,
    settings: Settings,
    *,
    username: str,
    password: str,
    totp_code: str | None,
    client_address: str,
    then: Callable[[User], T],
) -> T:
    """``then(account)`` for the active account these credentials prove, or an error; failures are counted.

    ``then`` issues the credential (a token, a session): it runs in the same trip through the
    thread pool and the same transaction as the last check, with the account's row locked, so
    that a password changed or an account suspended at the same moment cannot leave a credential
    issued for the old state; a refusal of ``then`` (a token cap) does not count as a failed
    attempt. Raises ``RateLimited`` (throttled; reserved before the password is checked),
    ``NotAuthenticated`` with the same message for an unknown username, a wrong password and an
    account that is not active, and ``TwoFactorCodeRejected`` (field ``totp_code``) when the
    account has two-factor on and the code is missing, wrong or replayed, and whatever ``then``
    raises. The caller must have written nothing yet in ``db``'s transaction (it is committed
    before the hash) and must let a refusal roll back (``DbSession`` or ``attempt``), which keeps
    the failure's record.
    """
    scopes = SignInScopes.of(username, client_address)
    candidate = await run_in_threadpool(find_candidate, db, settings, scopes, username)
    # An unknown username is checked against a dummy hash: the timing tells nothing either.
    password_ok = await verify_password_async(candidate.password_hash, password)
    new_hash = None
    if password_ok and candidate.password_hash is not None and needs_rehash(candidate.password_hash):
        new_hash = await hash_password_async(password)

    def conclude() -> T:
        user = conclude_sign_in(db, candidate, password_ok=password_ok, totp_code=totp_code, new_hash=new_hash)
        try:
            return then(user)
        except MarketplaceError as exc:
            uncounted(exc, candidate.reservation)
            raise

    return await run_in_threadpool(conclude)
