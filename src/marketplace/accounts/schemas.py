"""Request and response bodies of the accounts API.

Input and output are separate models, and inputs forbid unknown fields: a client cannot slip in
``role``, ``status`` or ``id`` where they are not asked for. Inputs check only shape and size;
the services check meaning (username rules, password strength, addresses) and name the field
with a message a person can act on. The OpenAPI document states the services' rules (pattern,
lengths) from the same constants (``enforced``), so a generated client is not refused by surprise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from marketplace.accounts.credentials import MAX_TOKEN_NAME_LENGTH
from marketplace.accounts.models import User
from marketplace.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from marketplace.accounts.services import MAX_PGP_KEY_LENGTH, USERNAME_PATTERN
from marketplace.accounts.usernames import registrable_pattern
from marketplace.api_schema import ApiInput, enforced
from marketplace.text import TextKind, json_schema_pattern

# Bounds on what is read at all; the services give the precise rules and messages.
_MAX_USERNAME_INPUT = 64
_MAX_PASSWORD_INPUT = 1024
_TOTP_CODE_PATTERN = r"^[0-9]{6}$"


class AccountCreate(ApiInput):
    username: str = Field(
        max_length=_MAX_USERNAME_INPUT,
        description=(
            "3 to 32 letters, digits, '.', '-' or '_', with a letter or digit; unique regardless of case; "
            "not a name that could pass for the site (admin, support, arbiter ...)."
        ),
        json_schema_extra=enforced(pattern=registrable_pattern(USERNAME_PATTERN.pattern), min_length=3, max_length=32),
    )
    password: str = Field(
        max_length=_MAX_PASSWORD_INPUT,
        description=(
            f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters, not a common password, "
            "not containing the username."
        ),
        json_schema_extra=enforced(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    )
    role: Literal["buyer", "vendor"] = Field(description="Arbiter and admin accounts are made by an administrator.")


class TokenCreate(ApiInput):
    username: str = Field(max_length=_MAX_USERNAME_INPUT)
    password: str = Field(max_length=_MAX_PASSWORD_INPUT)
    totp_code: str | None = Field(
        default=None,
        max_length=16,
        description="The six digits from the authenticator app; required when two-factor is on.",
        json_schema_extra=enforced(pattern=_TOTP_CODE_PATTERN),
    )
    name: str | None = Field(
        default=None,
        max_length=MAX_TOKEN_NAME_LENGTH,
        description="A label shown on the account's token list: one line, at least one visible character.",
        json_schema_extra=enforced(
            pattern=json_schema_pattern(TextKind.LINE), min_length=1, max_length=MAX_TOKEN_NAME_LENGTH
        ),
    )


class _ConfirmedInput(ApiInput):
    """A change that asks who you are (``accounts.confirmation``): the password, and the code when two-factor is on."""

    password: str = Field(
        max_length=_MAX_PASSWORD_INPUT,
        description="Your current password: a stolen token alone cannot make this change.",
        json_schema_extra=enforced(min_length=1, max_length=MAX_PASSWORD_LENGTH),
    )
    totp_code: str | None = Field(
        default=None,
        max_length=16,
        description="The six digits from the authenticator app; required when two-factor is on.",
        json_schema_extra=enforced(pattern=_TOTP_CODE_PATTERN),
    )


class PayoutAddressUpdate(_ConfirmedInput):
    address: str = Field(
        max_length=256,
        description="A standard address or subaddress of the marketplace's network (95 base58 characters).",
        json_schema_extra=enforced(pattern=r"^[1-9A-HJ-NP-Za-km-z]{95}$"),
    )


class PgpKeyUpdate(_ConfirmedInput):
    pgp_key: str = Field(
        max_length=40_000,
        description="An ASCII-armoured PGP public key block; an empty string removes it.",
        json_schema_extra=enforced(max_length=MAX_PGP_KEY_LENGTH),
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
