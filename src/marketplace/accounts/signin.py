"""Checking who someone is: username, password and (when on) a two-factor code, throttled.

One path serves the sign-in page, ``POST /api/v1/tokens``, the two-factor reset page and the
account pages that ask for the password again, so every one of them is throttled alike and
answers alike whether or not a username exists.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from marketplace.accounts import totp
from marketplace.accounts.models import User
from marketplace.accounts.passwords import hash_password, needs_rehash, verify_password
from marketplace.accounts.services import find_user_by_username
from marketplace.accounts.throttle import SignInScopes, ensure_not_throttled, record_failure
from marketplace.db.engine import Database
from marketplace.errors import InvalidInput, NotAuthenticated
from marketplace.settings import Settings

log = logging.getLogger("marketplace.accounts.signin")

WRONG_CREDENTIALS = "Wrong username or password."
_CODE_REJECTED = "That two-factor code is wrong or was already used; wait for the next one."
_MAX_USERNAME_LOOKUP = 64  # longer input cannot be a username; do not send it to the database


class TwoFactorCodeRejected(NotAuthenticated):
    """The password was right but the account's two-factor code is missing, wrong or already used."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = "totp_code"


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


def authenticate(
    db: Session,
    database: Database,
    settings: Settings,
    *,
    username: str,
    password: str,
    totp_code: str | None,
    client_address: str,
) -> User:
    """The active account these credentials prove, or an error; failures are counted.

    Raises ``RateLimited`` (throttled; checked before the password), ``NotAuthenticated`` with
    the same message for an unknown username, a wrong password and an account that is not
    active, and ``TwoFactorCodeRejected`` (field ``totp_code``) when the account has two-factor
    on and the code is missing, wrong or replayed. Each failure is recorded in its own committed
    transaction on ``database``, because the caller's transaction rolls back with the error.
    ``db`` must not hold uncommitted writes (SQLite would make the failure's write wait for them).
    """
    scopes = SignInScopes.of(username, client_address)
    ensure_not_throttled(db, settings, scopes)
    user = lookup_user(db, username)
    # verify_password does the same work for a missing account, so timing tells nothing either.
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        _fail(database, settings, scopes)
        raise NotAuthenticated(WRONG_CREDENTIALS)
    if user.totp_enabled:
        if not totp_code or not totp_code.strip():
            _fail(database, settings, scopes)
            raise TwoFactorCodeRejected("Enter the six-digit code from your authenticator app.")
        step = matching_totp_step(user, totp_code)
        if step is None:
            _fail(database, settings, scopes)
            raise TwoFactorCodeRejected(_CODE_REJECTED)
        if not claim_totp_step(db, user, step):
            # Lost a race with a request carrying the same code: refused, but not an attacker's
            # guess, and this transaction now holds a write (SQLite would block the failure's).
            raise TwoFactorCodeRejected(_CODE_REJECTED)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    log.info("signed_in", extra={"user_id": user.id})
    return user


def _fail(database: Database, settings: Settings, scopes: SignInScopes) -> None:
    with database.session() as own:
        record_failure(own, settings, scopes)


def confirm_password(
    db: Session, settings: Settings, user: User, password: str, *, client_address: str, field: str = "password"
) -> None:
    """Check a signed-in user's password again before a sensitive change (throttled like sign-in).

    Raises ``RateLimited`` or ``InvalidInput`` naming ``field``. A failure is recorded in ``db``
    itself: account pages answer a wrong password by showing the form again, which commits.
    """
    scopes = SignInScopes.of(user.username_key, client_address)
    ensure_not_throttled(db, settings, scopes)
    if not verify_password(user.password_hash, password):
        record_failure(db, settings, scopes)
        raise InvalidInput("This is not your current password.", field=field)


def confirm_totp_code(
    db: Session, settings: Settings, user: User, code: str, *, client_address: str, field: str = "totp_code"
) -> None:
    """Check a signed-in user's two-factor code before a sensitive change (throttled like sign-in)."""
    scopes = SignInScopes.of(user.username_key, client_address)
    ensure_not_throttled(db, settings, scopes)
    if not accept_totp_code(db, user, code):
        record_failure(db, settings, scopes)
        raise InvalidInput("That two-factor code is wrong or was already used.", field=field)
