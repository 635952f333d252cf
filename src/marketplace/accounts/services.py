"""Account services: creating accounts and checking credentials.

Services raise domain errors (``marketplace.errors``) and never commit: the caller's
transaction (a request, a CLI command) decides.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.accounts.passwords import check_password_strength, hash_password
from marketplace.errors import Conflict, InvalidInput

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")


def username_key(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            "A username is 3 to 32 characters: letters, digits, dot, dash or underscore.", field="username"
        )
    return username


def find_user_by_username(db: Session, username: str) -> User | None:
    return db.scalar(select(User).where(User.username_key == username_key(username)))


def create_account(db: Session, *, username: str, password: str, role: Role) -> User:
    """Create an active account. Raises ``InvalidInput`` or ``Conflict`` (username taken)."""
    username = check_username(username.strip())
    check_password_strength(password, username=username)
    if find_user_by_username(db, username) is not None:
        raise Conflict("This username is taken; choose another.", field="username")
    user = User(
        username=username,
        username_key=username_key(username),
        password_hash=hash_password(password),
        role=role.value,
        status=AccountStatus.ACTIVE.value,
    )
    db.add(user)
    db.flush()
    return user
