"""Sensitive actions ask who you are: the password again (and the two-factor code when it is on).

A session cookie or an API token proves only that a request comes from a signed-in browser or
client, which a thief can copy. So every action that could lock the owner out or hand access to
someone else (turning two-factor on or off, creating an API token, changing the payout address or
the PGP key, changing the password, closing the account) runs through ``confirm_identity``, on
pages and in the API alike.

A confirmation is throttled exactly like a sign-in, and by the same counters
(``throttle.SignInScopes``): the attempt is reserved before the password is checked, a wrong
password or code leaves the reservation as a failed sign-in, a right one releases it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.accounts.passwords import verify_password
from marketplace.accounts.signin import claim_totp_step, matching_totp_step, uncounted
from marketplace.accounts.throttle import Reservation, SignInScopes, release, reserve_sign_in
from marketplace.errors import InvalidInput, MarketplaceError
from marketplace.settings import Settings

T = TypeVar("T")

WRONG_PASSWORD = "This is not your current password."  # noqa: S105  (a message, not a secret)
WRONG_CODE = "That two-factor code is wrong or was already used."


def confirm_identity(
    db: Session,
    settings: Settings,
    user: User,
    *,
    password: str,
    totp_code: str | None,
    client_address: str,
    then: Callable[[], T],
    password_field: str = "password",  # noqa: S107  (a form field's name, not a secret)
) -> T:
    """``then()``, once ``password`` (and, when two-factor is on, ``totp_code``) prove ``user`` is asking.

    Raises ``InvalidInput`` naming ``password_field`` or ``totp_code`` (empty: uncounted; wrong:
    counted as a failed sign-in), ``RateLimited`` (throttled, checked before the password), or
    whatever ``then`` raises, which does not count as a failure. The caller must have written
    nothing yet in ``db``'s transaction: the reservation is committed in it before the slow hash
    (so no connection is held while hashing), and ``then`` runs in a new one, with the code's
    time step claimed and the reservation released; a refusal must be rolled back (``attempt`` or
    ``DbSession``), which keeps the release.
    """
    if not password:
        raise InvalidInput("Enter your password to confirm it is you.", field=password_field)
    code = (totp_code or "").strip()
    if user.totp_enabled and not code:
        raise InvalidInput("Enter a current code from your authenticator app to confirm it is you.", field="totp_code")
    reservation = reserve_sign_in(db, settings, SignInScopes.of(user.username_key, client_address))
    if not verify_password(user.password_hash, password):
        raise InvalidInput(WRONG_PASSWORD, field=password_field)
    if user.totp_enabled:
        _use_code(db, user, code, reservation)
    return _conclude(db, reservation, then)


def confirm_code(
    db: Session,
    settings: Settings,
    user: User,
    *,
    totp_code: str | None,
    client_address: str,
    then: Callable[[], T],
) -> T:
    """``then()``, once ``totp_code`` proves ``user`` is asking, when two-factor is on (the step-up for money).

    Without two-factor, ``then()`` at once. With it: an empty code is ``InvalidInput`` (field
    ``totp_code``, uncounted); otherwise the attempt is throttled and counted like a sign-in (by
    the same counters as ``confirm_identity``), a wrong or replayed code is ``InvalidInput`` (field
    ``totp_code``) and counts as a failure, and a right one is used up (it cannot be replayed).
    The same rules as ``confirm_identity`` about the caller's transaction apply.
    """
    if not user.totp_enabled:
        return then()
    code = (totp_code or "").strip()
    if not code:
        raise InvalidInput("Enter a current code from your authenticator app to confirm it is you.", field="totp_code")
    reservation = reserve_sign_in(db, settings, SignInScopes.of(user.username_key, client_address))
    _use_code(db, user, code, reservation)
    return _conclude(db, reservation, then)


def _use_code(db: Session, user: User, code: str, reservation: Reservation) -> None:
    """Claim ``code``'s time step for ``user``; ``InvalidInput`` (field ``totp_code``) when wrong or used."""
    step = matching_totp_step(user, code)
    if step is None:
        raise InvalidInput(WRONG_CODE, field="totp_code")
    if not claim_totp_step(db, user, step):
        # A concurrent request used this code first: refused, though it is no guess.
        raise uncounted(InvalidInput(WRONG_CODE, field="totp_code"), reservation)


def _conclude(db: Session, reservation: Reservation, then: Callable[[], T]) -> T:
    """Release the reservation (the proof was right), then ``then()``, whose refusal counts as no failure."""
    release(db, reservation)
    try:
        return then()
    except MarketplaceError as exc:
        uncounted(exc, reservation)
        raise
