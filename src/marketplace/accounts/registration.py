"""Self-registration, limited per client address.

Each client address may register ``registration_max_per_address`` accounts within
``registration_window_seconds``. The registration is reserved against that count before the
account is made (``throttle.reserve``, committed at once), so registrations sent at the same
moment cannot pass the limit together; a refused one (a name taken, a weak password) releases its
reservation, so the count is of accounts made.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.accounts.services import check_registration_role, check_username, create_account
from marketplace.accounts.throttle import registration_quota, release, reserve
from marketplace.accounts.usernames import check_not_reserved
from marketplace.errors import MarketplaceError
from marketplace.settings import Settings

TOO_MANY_REGISTRATIONS = "Too many accounts were registered from your address."


def register(db: Session, settings: Settings, *, username: str, password: str, role: str, client_address: str) -> User:
    """A new buyer or vendor account (``services.create_account``), within the per-address limit.

    Raises ``InvalidInput`` (role, then a malformed or reserved username
    (``usernames.check_not_reserved``), before anything is counted), ``RateLimited`` (with the
    seconds to wait) or ``Conflict`` (name taken). The caller must have written nothing yet in
    ``db``'s transaction (the reservation is committed in it) and must let a refusal roll back
    (``DbSession`` or ``attempt``), which keeps the release of the reservation.
    """
    chosen = check_registration_role(role)
    check_not_reserved(check_username(username.strip()))
    reservation = reserve(
        db,
        [registration_quota(settings, client_address)],
        window_seconds=settings.registration_window_seconds,
        refusal=TOO_MANY_REGISTRATIONS,
    )
    try:
        return create_account(db, username=username, password=password, role=chosen)
    except MarketplaceError as exc:
        exc.keeping(lambda session: release(session, reservation))
        raise
