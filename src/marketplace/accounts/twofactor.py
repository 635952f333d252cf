"""Two-factor sign-in: enrol (secret + QR), confirm with a code, recovery codes, turn off, reset.

While enrolment is pending the secret is stored but ``totp_enabled_at`` is empty, so sign-in
does not ask for a code until the user has proved their app produces the right ones. Recovery
codes are shown once, when two-factor is turned on; only their hashes are stored.

Every change of state is a compare-and-set on the account row (``... WHERE totp_enabled_at IS
NULL`` and so on), so two tabs or two requests racing cannot, say, turn it on twice with two sets
of recovery codes, or use one recovery code twice.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from marketplace.accounts import totp
from marketplace.accounts.confirmation import confirm_identity
from marketplace.accounts.models import RecoveryCode, User
from marketplace.accounts.passwords import verify_password_async
from marketplace.accounts.signin import Candidate, accept_totp_code, find_candidate, locked_account, uncounted
from marketplace.accounts.throttle import SignInScopes, release
from marketplace.db.base import utcnow
from marketplace.db.writes import compare_and_set
from marketplace.errors import Conflict, InvalidInput, NotAuthenticated
from marketplace.settings import Settings

log = logging.getLogger("marketplace.accounts.twofactor")

WRONG_RESET_CREDENTIALS = "Wrong username, password or recovery code."


def _already_on() -> Conflict:
    return Conflict("Two-factor sign-in is already on.", state="enabled")


def _not_on() -> Conflict:
    return Conflict("Two-factor sign-in is not on.", state="disabled")


def start_enrolment(db: Session, user: User) -> str:
    """Give ``user`` a new pending secret (replacing any earlier pending one) and return it.

    Raises ``Conflict`` (state ``enabled``) if two-factor is already on.
    """
    secret = totp.new_secret()
    compare_and_set(
        db,
        update(User)
        .where(User.id == user.id, User.totp_enabled_at.is_(None))
        .values(totp_secret=secret, totp_last_step=None),
        refused=_already_on,
    )
    user.totp_secret, user.totp_last_step = secret, None
    return secret


def confirm_enrolment(db: Session, user: User, code: str) -> list[str]:
    """Turn two-factor on if ``code`` matches the pending secret; return the new recovery codes.

    Raises ``Conflict`` when nothing is pending (or it is already on, or the secret was replaced
    meanwhile) and ``InvalidInput`` (field ``totp_code``) for a wrong code, changing nothing.
    The caller has confirmed who is asking (``turn_on``).
    """
    if user.totp_enabled:
        raise _already_on()
    pending = user.totp_secret
    if pending is None:
        raise Conflict("Start the set-up first: there is no secret to confirm.", state="not_started")
    if not accept_totp_code(db, user, code):
        raise InvalidInput(
            "That code does not match. Check the app shows this account and that your clock is right.",
            field="totp_code",
        )
    now = utcnow()
    compare_and_set(
        db,
        update(User)
        .where(User.id == user.id, User.totp_enabled_at.is_(None), User.totp_secret == pending)
        .values(totp_enabled_at=now),
        refused=lambda: Conflict("Two-factor set-up changed in another window; reload the page.", state="changed"),
    )
    user.totp_enabled_at = now
    codes = totp.new_recovery_codes()
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.add_all(RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(code)) for code in codes)
    db.flush()
    log.info("two_factor_enabled", extra={"user_id": user.id})
    return codes


def _turn_off(db: Session, user: User) -> None:
    compare_and_set(
        db,
        update(User)
        .where(User.id == user.id, User.totp_enabled_at.is_not(None))
        .values(totp_secret=None, totp_enabled_at=None, totp_last_step=None),
        refused=_not_on,
    )
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = None, None, None
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def turn_on(
    db: Session, settings: Settings, user: User, *, password: str, totp_code: str, client_address: str
) -> list[str]:
    """``confirm_enrolment`` for a signed-in user who also gives their password (``confirm_identity``).

    Raises what both raise; a wrong password counts as a failed sign-in, a wrong code from the
    new app does not (it is no guess at anything the account holds).
    """
    return confirm_identity(
        db,
        settings,
        user,
        password=password,
        totp_code=None,  # two-factor is not on yet: ``totp_code`` proves the new app, not the user
        client_address=client_address,
        then=lambda: confirm_enrolment(db, user, totp_code),
    )


def disable(db: Session, settings: Settings, user: User, *, totp_code: str, password: str, client_address: str) -> None:
    """Turn two-factor off for a signed-in user who gives their password and a current code.

    Raises ``Conflict`` if it is not on, ``InvalidInput`` (field ``password`` or ``totp_code``)
    or ``RateLimited``; a wrong code or password counts as a failed sign-in. Someone who lost
    their device uses a recovery code instead (``reset_with_recovery_code``).
    """
    if not user.totp_enabled:
        raise _not_on()
    confirm_identity(
        db,
        settings,
        user,
        password=password,
        totp_code=totp_code,
        client_address=client_address,
        then=lambda: _turn_off(db, user),
    )
    log.info("two_factor_disabled", extra={"user_id": user.id})


def cancel_enrolment(db: Session, user: User) -> None:
    """Forget a pending (not yet confirmed) secret; nothing happens if two-factor is on."""
    db.execute(
        update(User)
        .where(User.id == user.id, User.totp_enabled_at.is_(None))
        .values(totp_secret=None, totp_last_step=None)
        .execution_options(synchronize_session=False)
    )
    if not user.totp_enabled:
        user.totp_secret, user.totp_last_step = None, None


def use_recovery_code(db: Session, candidate: Candidate, *, password_ok: bool, recovery_code: str) -> User:
    """The last step of a reset: use up one unused recovery code of the candidate's account, turn two-factor off.

    ``candidate`` and ``password_ok`` come from the first two steps (``find_candidate``, the
    hash). Raises ``NotAuthenticated`` (counted as a failed sign-in: the reservation stays), one
    message for every failure; a code used by a concurrent request at the same moment is
    refused, uncounted. A success releases the reservation.
    """
    if not password_ok:  # refused without a write lock, as a sign-in is
        raise NotAuthenticated(WRONG_RESET_CREDENTIALS)
    user = locked_account(db, candidate.user_id)
    usable = user is not None and user.password_hash == candidate.password_hash and user.is_active and user.totp_enabled
    code_row = None
    if user is not None and usable:
        code_row = db.scalar(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == totp.hash_recovery_code(recovery_code),
                RecoveryCode.used_at.is_(None),
            )
        )
    if user is None or code_row is None:
        raise NotAuthenticated(WRONG_RESET_CREDENTIALS)
    # A concurrent request using the same code: refused, though not a guess worth counting.
    compare_and_set(
        db,
        update(RecoveryCode)
        .where(RecoveryCode.id == code_row.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()),
        refused=lambda: uncounted(NotAuthenticated(WRONG_RESET_CREDENTIALS), candidate.reservation),
    )
    _turn_off(db, user)
    release(db, candidate.reservation)
    log.info("two_factor_reset_with_recovery_code", extra={"user_id": user.id})
    return user


async def reset_with_recovery_code(
    db: Session,
    settings: Settings,
    *,
    username: str,
    password: str,
    recovery_code: str,
    client_address: str,
) -> User:
    """Turn two-factor off for someone who lost their device: username, password and a recovery code.

    The code is used up. Throttled and counted like a sign-in, in the same three steps (no
    connection held during the hash); one message for every failure (unknown user, wrong
    password, wrong or used code, two-factor not on), so it reveals nothing. Raises
    ``RateLimited`` or ``NotAuthenticated``.
    """
    scopes = SignInScopes.of(username, client_address)
    candidate = await run_in_threadpool(find_candidate, db, settings, scopes, username)
    password_ok = await verify_password_async(candidate.password_hash, password)
    return await run_in_threadpool(
        lambda: use_recovery_code(db, candidate, password_ok=password_ok, recovery_code=recovery_code)
    )
