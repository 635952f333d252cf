"""Two-factor sign-in: enrol (secret + QR), confirm with a code, recovery codes, turn off, reset.

While enrolment is pending the secret is stored but ``totp_enabled_at`` is empty, so sign-in
does not ask for a code until the user has proved their app produces the right ones. Recovery
codes are shown once, when two-factor is turned on; only their hashes are stored.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from marketplace.accounts import totp
from marketplace.accounts.models import RecoveryCode, User
from marketplace.accounts.passwords import verify_password
from marketplace.accounts.signin import accept_totp_code, confirm_password, confirm_totp_code, lookup_user
from marketplace.accounts.throttle import SignInScopes, ensure_not_throttled, record_failure
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.errors import Conflict, InvalidInput, NotAuthenticated
from marketplace.settings import Settings

log = logging.getLogger("marketplace.accounts.twofactor")

WRONG_RESET_CREDENTIALS = "Wrong username, password or recovery code."


def start_enrolment(user: User) -> str:
    """Give ``user`` a new pending secret (replacing any earlier pending one) and return it."""
    if user.totp_enabled:
        raise Conflict("Two-factor sign-in is already on.", state="enabled")
    user.totp_secret = totp.new_secret()
    user.totp_last_step = None
    return user.totp_secret


def confirm_enrolment(db: Session, user: User, code: str) -> list[str]:
    """Turn two-factor on if ``code`` matches the pending secret; return the new recovery codes.

    Raises ``Conflict`` when nothing is pending (or it is already on) and ``InvalidInput``
    (field ``totp_code``) for a wrong code, changing nothing.
    """
    if user.totp_enabled:
        raise Conflict("Two-factor sign-in is already on.", state="enabled")
    if user.totp_secret is None:
        raise Conflict("Start the set-up first: there is no secret to confirm.", state="not_started")
    if not accept_totp_code(db, user, code):
        raise InvalidInput(
            "That code does not match. Check the app shows this account and that your clock is right.",
            field="totp_code",
        )
    user.totp_enabled_at = utcnow()
    codes = totp.new_recovery_codes()
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.add_all(RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(code)) for code in codes)
    db.flush()
    log.info("two_factor_enabled", extra={"user_id": user.id})
    return codes


def _turn_off(db: Session, user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def disable(db: Session, settings: Settings, user: User, *, totp_code: str, password: str, client_address: str) -> None:
    """Turn two-factor off for a signed-in user who gives a current code or their password.

    Raises ``Conflict`` if it is not on, ``InvalidInput`` (field ``totp_code`` or ``password``)
    or ``RateLimited``; a wrong code or password counts as a failed sign-in.
    """
    if not user.totp_enabled:
        raise Conflict("Two-factor sign-in is not on.", state="disabled")
    if totp_code.strip():
        confirm_totp_code(db, settings, user, totp_code, client_address=client_address)
    elif password:
        confirm_password(db, settings, user, password, client_address=client_address)
    else:
        raise InvalidInput("Enter a current code from your app, or your password.", field="totp_code")
    _turn_off(db, user)
    log.info("two_factor_disabled", extra={"user_id": user.id})


def cancel_enrolment(user: User) -> None:
    """Forget a pending (not yet confirmed) secret."""
    if not user.totp_enabled:
        user.totp_secret = None
        user.totp_last_step = None


def reset_with_recovery_code(
    db: Session,
    database: Database,
    settings: Settings,
    *,
    username: str,
    password: str,
    recovery_code: str,
    client_address: str,
) -> User:
    """Turn two-factor off for someone who lost their device: username, password and a recovery code.

    The code is used up. Throttled and counted like a sign-in; one message for every failure
    (unknown user, wrong password, wrong or used code, two-factor not on), so it reveals nothing.
    """
    scopes = SignInScopes.of(username, client_address)
    ensure_not_throttled(db, settings, scopes)
    user = lookup_user(db, username)
    password_ok = verify_password(user.password_hash if user else None, password)
    code_row = None
    if user is not None and password_ok and user.is_active and user.totp_enabled:
        code_row = db.scalar(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == totp.hash_recovery_code(recovery_code),
                RecoveryCode.used_at.is_(None),
            )
        )
    if user is None or code_row is None:
        with database.session() as own:
            record_failure(own, settings, scopes)
        raise NotAuthenticated(WRONG_RESET_CREDENTIALS)
    claimed = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == code_row.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        # A concurrent request used this code first: refused, though not a guess worth counting.
        raise NotAuthenticated(WRONG_RESET_CREDENTIALS)
    _turn_off(db, user)
    log.info("two_factor_reset_with_recovery_code", extra={"user_id": user.id})
    return user
