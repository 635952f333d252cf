"""JSON API of the accounts domain, mounted under /api/v1.

API clients authenticate only with ``Authorization: Bearer <token>`` (no cookies), so these
endpoints need no CSRF token. Errors are the domain errors, rendered as the one JSON shape.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts import credentials, registration, services
from marketplace.accounts.auth import ApiUser, ApiVendor
from marketplace.accounts.confirmation import confirm_identity
from marketplace.accounts.schemas import (
    AccountCreate,
    AccountOut,
    MeOut,
    PayoutAddressUpdate,
    PgpKeyUpdate,
    TokenCreate,
    TokenOut,
)
from marketplace.accounts.signin import authenticate
from marketplace.web import routing
from marketplace.web.dependencies import ClientAddress, DbSession, SettingsDep

router = routing.router(tags=["accounts"])

DEFAULT_CLIENT_NAME = "API client"


@router.post("/accounts", status_code=201, response_model=AccountOut, summary="Register a buyer or vendor account")
def register(body: AccountCreate, db: DbSession, settings: SettingsDep, address: ClientAddress) -> AccountOut:
    """Register a buyer or vendor account. 409 (field ``username``) if the name is taken in any case;
    429 with ``Retry-After`` when this address has registered too many accounts lately."""
    user = registration.register(
        db, settings, username=body.username, password=body.password, role=body.role, client_address=address
    )
    return AccountOut.of(user)


@router.post("/tokens", status_code=201, response_model=TokenOut, summary="Sign in: get an API token")
async def create_token(body: TokenCreate, db: DbSession, settings: SettingsDep, address: ClientAddress) -> TokenOut:
    """Exchange a username and password (and a two-factor code when on) for an API token.

    401 with one message for any wrong username or password; 401 with field ``totp_code`` when
    the code is missing or wrong; 429 with ``Retry-After`` when sign-ins are throttled.
    """
    name = credentials.check_token_name(body.name) if body.name is not None else DEFAULT_CLIENT_NAME
    token = await authenticate(
        db,
        settings,
        username=body.username,
        password=body.password,
        totp_code=body.totp_code,
        client_address=address,
        then=lambda user: credentials.create_api_token(db, user, name),
    )
    return TokenOut(token=token)


@router.delete("/tokens/current", status_code=204, summary="Revoke the token of this request")
def revoke_current_token(request: Request, db: DbSession, _user: ApiUser) -> Response:
    """Revoke the token this request was made with."""
    token = request.headers["authorization"].partition(" ")[2].strip()
    credentials.revoke_api_token_secret(db, token)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, summary="Your own account")
def me(user: ApiUser) -> MeOut:
    return MeOut.of(user)


@router.put("/me/payout-address", response_model=MeOut, summary="Set your payout address (vendors)")
def set_payout_address(
    body: PayoutAddressUpdate, db: DbSession, settings: SettingsDep, address: ClientAddress, user: ApiVendor
) -> MeOut:
    """Set the vendor's payout address: 422 (field ``address``) unless it is valid for this network.

    Asks who you are: ``password`` (and ``totp_code`` when two-factor is on); a wrong one is 422
    naming the field and counts as a failed sign-in (429 with ``Retry-After`` when throttled).
    """
    new_address = services.check_payout_address(user, body.address, settings.network)

    def save() -> None:
        user.payout_address = new_address

    confirm_identity(
        db, settings, user, password=body.password, totp_code=body.totp_code, client_address=address, then=save
    )
    return MeOut.of(user)


@router.put("/me/pgp-key", response_model=MeOut, summary="Set or remove your PGP public key")
def set_pgp_key(
    body: PgpKeyUpdate, db: DbSession, settings: SettingsDep, address: ClientAddress, user: ApiUser
) -> MeOut:
    """Set the PGP public key (an empty string removes it); 422 (field ``pgp_key``) if it is not one.

    Asks who you are: ``password`` (and ``totp_code`` when two-factor is on), as for the payout address.
    """
    new_key = services.check_pgp_key(body.pgp_key)

    def save() -> None:
        user.pgp_key = new_key

    confirm_identity(
        db, settings, user, password=body.password, totp_code=body.totp_code, client_address=address, then=save
    )
    return MeOut.of(user)
