"""XMR amounts: integer piconero inside, decimal text at the edges; never a float, never rounded.

The one accepted form of an amount typed by a person (``PRICE_PATTERN``, which the listing form
also gives the browser as its ``pattern``): ASCII digits, then optionally a point and 1 to 12
more digits, with spaces (U+0020 only) around. Everything else is refused, never guessed at: a
comma (``1,000`` could be a thousand or one), a sign, an exponent, underscores, inner spaces,
digits of other scripts (``١``, ``１``), a unit (``XMR``), a point without digits on both sides
(``.5``, ``5.``), a thirteenth decimal. The text is turned into piconero with integer arithmetic
only (no ``Decimal``, no float).
"""

from __future__ import annotations

import re

from marketplace.errors import InvalidInput

PICONERO_PER_XMR = 10**12
DECIMAL_PLACES = 12
# A million XMR: any price above this is a typo, not a price (and it fits a signed 64-bit column).
MAX_PRICE_ATOMIC = 1_000_000 * PICONERO_PER_XMR

# The same text for Python's re (fullmatch) and the HTML pattern attribute (anchored by the browser).
PRICE_PATTERN = r" *[0-9]+(\.[0-9]{1,12})? *"
_PRICE = re.compile(PRICE_PATTERN)
_TOO_PRECISE = re.compile(r" *[0-9]+\.[0-9]{13,} *")
_MAX_WHOLE_DIGITS = len(str(MAX_PRICE_ATOMIC // PICONERO_PER_XMR))
_TOO_PRECISE_MESSAGE = f"XMR has at most {DECIMAL_PLACES} decimal places: 0.000000000001 is the least."
FORM_MESSAGE = "Enter the price in XMR as digits with a point for decimals, for example 1000 or 0.25 (no commas)."


def format_xmr(atomic: int) -> str:
    """``1500000000000`` → ``"1.5"``; always exact, no trailing zeros beyond one decimal."""
    sign = "-" if atomic < 0 else ""
    whole, fraction = divmod(abs(atomic), PICONERO_PER_XMR)
    fraction_text = f"{fraction:0{DECIMAL_PLACES}d}".rstrip("0") or "0"
    return f"{sign}{whole}.{fraction_text}"


def parse_xmr(text: str, *, field: str = "price") -> int:
    """Parse a positive XMR amount such as ``"0.25"`` (the module's one form) into piconero.

    Raises ``InvalidInput`` naming ``field`` for anything not of that form (the message shows
    it), for more than 12 decimal places (never rounded), for zero, and above ``MAX_PRICE_ATOMIC``.
    """
    if _PRICE.fullmatch(text) is None:
        if _TOO_PRECISE.fullmatch(text):
            raise InvalidInput(_TOO_PRECISE_MESSAGE, field=field)
        raise InvalidInput(FORM_MESSAGE, field=field)
    whole, _, fraction = text.strip(" ").partition(".")
    whole = whole.lstrip("0")
    if len(whole) > _MAX_WHOLE_DIGITS:  # before int(): a long run of digits is refused without converting it
        raise InvalidInput(_too_high(), field=field)
    atomic = int(whole or "0") * PICONERO_PER_XMR + int(fraction.ljust(DECIMAL_PLACES, "0"))
    return check_price_atomic(atomic, field=field)


def check_price_atomic(atomic: int, *, field: str = "price_atomic") -> int:
    """Return ``atomic`` if it is a sensible price in piconero, else raise ``InvalidInput``."""
    if atomic <= 0:
        raise InvalidInput("The price must be more than zero.", field=field)
    if atomic > MAX_PRICE_ATOMIC:
        raise InvalidInput(_too_high(), field=field)
    return atomic


def _too_high() -> str:
    return f"The price must be at most {format_xmr(MAX_PRICE_ATOMIC)} XMR."
