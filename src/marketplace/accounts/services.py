"""Account services: creating accounts, profiles, password changes and closing accounts.

Services raise domain errors (``marketplace.errors``) and never commit: the caller's
transaction (a request, a CLI command) decides.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.accounts.models import SELF_REGISTRABLE_ROLES, AccountStatus, RecoveryCode, Role, User
from marketplace.accounts.passwords import check_password_strength, hash_password, verify_password
from marketplace.accounts.sessions import revoke_all_credentials
from marketplace.db.base import utcnow
from marketplace.db.constraints import is_unique_violation
from marketplace.db.writes import compare_and_set
from marketplace.errors import Conflict, Forbidden, InvalidInput
from marketplace.monero.addresses import validate_address
from marketplace.settings import MoneroNetwork
from marketplace.text import ascii_text

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
PGP_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
PGP_END = "-----END PGP PUBLIC KEY BLOCK-----"
MAX_PGP_KEY_LENGTH = 20_000


def username_key(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            "A username is 3 to 32 characters: letters, digits, dot, dash or underscore.", field="username"
        )
    return username


def find_user_by_username(db: Session, username: str) -> User | None:
    """The account named ``username`` in any case, or None (also for text no username can be)."""
    if not USERNAME_PATTERN.fullmatch(username.strip()):
        return None  # and NUL, which PostgreSQL refuses in text, never reaches the database
    return db.scalar(select(User).where(User.username_key == username_key(username)))


def _username_taken() -> Conflict:
    return Conflict("This username is taken; choose another.", field="username")


def create_account(db: Session, *, username: str, password: str, role: Role) -> User:
    """Create an active account. Raises ``InvalidInput`` or ``Conflict`` (field ``username``: taken).

    Two sign-ups for one name at the same moment both pass the first check; the database's
    unique index refuses the second, which gets the same ``Conflict`` (and nothing is written).
    The password is hashed before the database is touched, so no connection waits on the hash.
    """
    username = check_username(username.strip())
    check_password_strength(password, username=username)
    password_hash = hash_password(password)
    if find_user_by_username(db, username) is not None:
        raise _username_taken()
    user = User(
        username=username,
        username_key=username_key(username),
        password_hash=password_hash,
        role=role,
        status=AccountStatus.ACTIVE,
    )
    db.add(user)
    try:
        db.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc, "users", "username_key"):
            raise _username_taken() from exc
        raise
    return user


def check_registration_role(role: str) -> Role:
    """The role someone may give themselves at registration (buyer or vendor), else ``InvalidInput``."""
    if role not in {allowed.value for allowed in SELF_REGISTRABLE_ROLES}:
        raise InvalidInput("Choose buyer or vendor; other roles are given by an administrator.", field="role")
    return Role(role)


def check_pgp_key(text: str, *, field: str = "pgp_key") -> str | None:
    """A PGP public key block as given (outer whitespace trimmed), None for empty; else ``InvalidInput``."""
    key = text.strip()
    if not key:
        return None
    if "PRIVATE KEY" in key:
        raise InvalidInput("This is a PRIVATE key. Never share it; paste your PUBLIC key block instead.", field=field)
    if len(key) > MAX_PGP_KEY_LENGTH:
        raise InvalidInput(f"A PGP key block is at most {MAX_PGP_KEY_LENGTH} characters here.", field=field)
    if any(ord(char) < 0x20 and char not in "\r\n\t" for char in key):
        raise InvalidInput("A PGP key block is plain text; this one contains control characters.", field=field)
    ascii_text(key, field=field, label="PGP key block")  # armour is ASCII (RFC 4880, section 6)
    if not (key.startswith(PGP_BEGIN) and key.endswith(PGP_END)):
        raise InvalidInput(f"Paste an ASCII-armoured public key: from '{PGP_BEGIN}' to '{PGP_END}'.", field=field)
    return key


def check_payout_address(user: User, text: str, network: MoneroNetwork, *, field: str = "address") -> str:
    """A vendor's payout address, validated for real (checksum and network)."""
    if user.role is not Role.VENDOR:
        raise Forbidden("Only a vendor account has a payout address.")
    return validate_address(text, network, field=field)


def change_password(db: Session, user: User, new_password: str) -> None:
    """Set a new password and sign out everywhere: every sign-in (this one too) and every API token.

    The caller has confirmed who is asking, and gives the person who made the change a new
    sign-in if it wants to (a fresh session id: a copy of the old cookie stops working). Raises
    ``InvalidInput`` (field ``new_password``) for a weak password, before changing anything.
    """
    check_password_strength(new_password, username=user.username, field="new_password")
    old_hash = user.password_hash
    if verify_password(old_hash, new_password):
        raise InvalidInput("The new password must differ from the current one.", field="new_password")
    new_hash, now = hash_password(new_password), utcnow()
    compare_and_set(
        db,
        update(User)
        .where(User.id == user.id, User.password_hash == old_hash, User.status == AccountStatus.ACTIVE)
        .values(password_hash=new_hash, password_changed_at=now),
        refused=lambda: Conflict(
            "Your password was changed (or the account closed) at the same moment elsewhere; sign in again.",
            state="changed",
        ),
    )
    user.password_hash, user.password_changed_at = new_hash, now
    revoke_all_credentials(db, user.id)


def delete_account(db: Session, user: User, *, confirm_username: str) -> None:
    """Close the account for good: status ``deleted``, every sign-in and token revoked.

    The caller has confirmed the password. The row stays (so the username is never reused and
    history keeps its author), but the profile and two-factor secrets are wiped. The vendor's
    listings disappear through the visibility rule (the vendor is no longer active).
    """
    if confirm_username.strip().lower() != user.username_key:
        raise InvalidInput("Type your username exactly to confirm.", field="confirm_username")
    compare_and_set(
        db,
        update(User)
        .where(User.id == user.id, User.status == AccountStatus.ACTIVE)
        .values(
            status=AccountStatus.DELETED, pgp_key=None, totp_secret=None, totp_enabled_at=None, totp_last_step=None
        ),
        refused=lambda: Conflict("This account is no longer active.", state="inactive"),
    )
    db.refresh(user)
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    revoke_all_credentials(db, user.id)
