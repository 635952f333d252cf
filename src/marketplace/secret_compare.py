"""Comparing a secret with what someone sent: malformed input is a plain mismatch, never an error.

``hmac.compare_digest`` refuses a ``str`` holding anything but ASCII (``TypeError``), so a CSRF
token with ``¿'"(`` appended, as web scanners send, made every form answer 500. Input is compared
as bytes instead: its UTF-8 form, with a lone surrogate written as the (invalid) bytes it would
have, which no real secret contains. Every comparison of a secret with input goes through
``same_secret`` (CSRF tokens, two-factor codes) or hashes ``secret_bytes`` (session ids, API
tokens, recovery codes, passwords), so none can raise.
"""

from __future__ import annotations

import hmac


def secret_bytes(text: str) -> bytes:
    """``text`` as bytes, whatever it holds: UTF-8, lone surrogates included as their own bytes."""
    return text.encode("utf-8", "surrogatepass")


def same_secret(given: str, expected: str) -> bool:
    """Whether ``given`` (from outside) is ``expected``, in time independent of where they differ."""
    return hmac.compare_digest(secret_bytes(given), secret_bytes(expected))
