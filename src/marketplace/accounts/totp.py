"""Time-based one-time codes (RFC 6238, via ``pyotp``), their QR code (``segno``) and recovery codes.

Codes use 30-second steps and six digits, which every authenticator app understands. A code is
accepted for the current step and one step either side (clock drift), and only for a step later
than the last one accepted, so a code seen over a shoulder cannot be used again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time

import pyotp
import segno
from markupsafe import Markup

from marketplace.secret_compare import same_secret, secret_bytes

ISSUER = "Monero Marketplace"
ACCEPTED_DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_CODE_PATTERN = re.compile(r"^[0-9]{6}$")
# Recovery codes: 16 characters of base32 (80 bits), shown in groups of four.
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_RECOVERY_LENGTH = 16


def new_secret() -> str:
    """A fresh base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER))


def qr_svg(uri: str) -> Markup:
    """The URI as an inline SVG QR code (no script, no style attribute, no external request)."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, border=4))  # noqa: S704  (segno's own markup)


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalize_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code)


def matching_step(secret: str, code: str, *, last_step: int | None, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to, or None if it is wrong, too old, or already used.

    ``last_step`` is the last step accepted for this secret; only later steps are accepted.
    """
    code = normalize_code(code)
    if not _CODE_PATTERN.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now if now is not None else time.time())
    for step in range(current - ACCEPTED_DRIFT_STEPS, current + ACCEPTED_DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if same_secret(code, totp.generate_otp(step)):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Fresh single-use recovery codes, e.g. ``abcd-efgh-ijkl-mnop``."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    return codes


def hash_recovery_code(code: str) -> str:
    """The stored form of a recovery code; spaces, dashes and case do not matter.

    The codes carry 80 random bits, so a plain SHA-256 is enough (no slow hash needed).
    """
    return hashlib.sha256(secret_bytes(normalize_code(code).lower())).hexdigest()
