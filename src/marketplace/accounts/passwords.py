"""Password hashing (Argon2id) and the rules a new password must meet.

Each hash costs tens of milliseconds of CPU and 64 MiB of memory, so hashes are computed by a
small pool of threads of their own, as many as the machine has cores: a burst of sign-ins queues
there instead of taking every request thread (and every database connection) or the memory. The
async forms let a sign-in wait for its turn without holding a request thread at all.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from marketplace.errors import InvalidInput
from marketplace.secret_compare import secret_bytes
from marketplace.text import secret_text

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_HASH_THREADS = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="password-hash")
_COMMON = frozenset(
    [
        "password",
        "password1",
        "password123",
        "passw0rd",
        "1234567890",
        "0123456789",
        "12345678910",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "1q2w3e4r5t",
        "iloveyou123",
        "letmein123",
        "welcome123",
        "monero1234",
        "moneromonero",
        "administrator",
        "changeme123",
        "abcdefghij",
        "1111111111",
        "0000000000",
        "abc1234567",
        "trustno1234",
        "football123",
        "baseball123",
        "dragon1234",
        "superman123",
        "sunshine123",
        "princess123",
        "marketplace",
    ]
)
# A hash of a random password, verified against when the username does not exist, so that a
# wrong username and a wrong password take the same time.
_DUMMY_HASH = _HASHER.hash("not-a-real-password-used-only-for-timing")


def hash_password(password: str) -> str:
    """A new Argon2id hash of ``password`` (waits for a hashing thread)."""
    return _HASH_THREADS.submit(_HASHER.hash, password).result()


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; always does the work of one verification (waits for a hashing thread)."""
    return _HASH_THREADS.submit(_verify, password_hash, password).result()


async def hash_password_async(password: str) -> str:
    """``hash_password`` without holding a thread while waiting for a turn."""
    return await asyncio.wrap_future(_HASH_THREADS.submit(_HASHER.hash, password))


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """``verify_password`` without holding a thread while waiting for a turn."""
    return await asyncio.wrap_future(_HASH_THREADS.submit(_verify, password_hash, password))


def _verify(password_hash: str | None, password: str) -> bool:
    # As bytes: a password that is not valid Unicode is a wrong password, not an error.
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, secret_bytes(password)) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def check_password_strength(password: str, *, username: str = "", field: str = "password") -> None:
    """Raise ``InvalidInput`` if ``password`` is too weak to accept, or holds what cannot be typed.

    The characters are checked (``text.secret_text``) but never changed: the password is hashed
    exactly as given, here as at sign-in.
    """
    secret_text(password, field=field, label="password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.", field=field)
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) < 4:
        raise InvalidInput("This password is too common or too simple; choose another.", field=field)
    if username and username.lower() in lowered:
        raise InvalidInput("The password must not contain the username.", field=field)
