"""Request and response bodies of the accounts API.

Input and output are separate models, and inputs forbid unknown fields: a client cannot slip in
``role``, ``status`` or ``id`` where they are not asked for. Inputs check only shape and size;
the services check meaning (username rules, password strength, addresses) and name the field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.accounts.models import User

# Bounds on what is read at all; the services give the precise rules and messages.
_MAX_USERNAME_INPUT = 64
_MAX_PASSWORD_INPUT = 1024


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(_Input):
    username: str = Field(max_length=_MAX_USERNAME_INPUT, description="3 to 32 letters, digits, '.', '-' or '_'.")
    password: str = Field(max_length=_MAX_PASSWORD_INPUT, description="At least 10 characters, not a common one.")
    role: Literal["buyer", "vendor"] = Field(description="Arbiter and admin accounts are made by an administrator.")


class TokenCreate(_Input):
    username: str = Field(max_length=_MAX_USERNAME_INPUT)
    password: str = Field(max_length=_MAX_PASSWORD_INPUT)
    totp_code: str | None = Field(default=None, max_length=16, description="Required when two-factor is on.")
    name: str | None = Field(default=None, max_length=64, description="A label shown on the account's token list.")


class PayoutAddressUpdate(_Input):
    address: str = Field(max_length=256, description="A standard address or subaddress of the marketplace's network.")


class PgpKeyUpdate(_Input):
    pgp_key: str = Field(
        max_length=40_000, description="An ASCII-armoured PGP public key block; an empty string removes it."
    )


class AccountOut(BaseModel):
    id: int
    username: str
    role: str

    @classmethod
    def of(cls, user: User) -> AccountOut:
        return cls(id=user.id, username=user.username, role=user.role)


class MeOut(BaseModel):
    id: int
    username: str
    role: str
    payout_address: str | None
    pgp_key: str | None

    @classmethod
    def of(cls, user: User) -> MeOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            payout_address=user.payout_address,
            pgp_key=user.pgp_key,
        )


class TokenOut(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown only now.")
