"""XMR amounts: integer piconero inside, decimal text at the edges; never a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marketplace.errors import InvalidInput

PICONERO_PER_XMR = 10**12
# A million XMR: any price above this is a typo, not a price (and it fits a signed 64-bit column).
MAX_PRICE_ATOMIC = 1_000_000 * PICONERO_PER_XMR


def format_xmr(atomic: int) -> str:
    """``1500000000000`` → ``"1.5"``; always exact, no trailing zeros beyond one decimal."""
    sign = "-" if atomic < 0 else ""
    whole, fraction = divmod(abs(atomic), PICONERO_PER_XMR)
    fraction_text = f"{fraction:012d}".rstrip("0") or "0"
    return f"{sign}{whole}.{fraction_text}"


def parse_xmr(text: str, *, field: str = "price") -> int:
    """Parse a positive XMR amount such as ``"0.25"`` into piconero.

    Raises ``InvalidInput`` for anything that is not a plain decimal number, has more than 12
    decimal places, is zero or negative, or exceeds ``MAX_PRICE_ATOMIC``.
    """
    cleaned = text.strip().replace(",", ".")
    if not cleaned or cleaned.lower().endswith("xmr"):
        cleaned = cleaned[:-3].strip() if cleaned.lower().endswith("xmr") else cleaned
    if not cleaned or not all(ch in "0123456789." for ch in cleaned) or cleaned.count(".") > 1:
        raise InvalidInput("Enter the price in XMR as a number, for example 0.25.", field=field)
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise InvalidInput("Enter the price in XMR as a number, for example 0.25.", field=field) from exc
    atomic = value * PICONERO_PER_XMR
    if atomic != atomic.to_integral_value():
        raise InvalidInput("XMR has at most 12 decimal places.", field=field)
    return check_price_atomic(int(atomic), field=field)


def check_price_atomic(atomic: int, *, field: str = "price_atomic") -> int:
    """Return ``atomic`` if it is a sensible price in piconero, else raise ``InvalidInput``."""
    if atomic <= 0:
        raise InvalidInput("The price must be more than zero.", field=field)
    if atomic > MAX_PRICE_ATOMIC:
        raise InvalidInput(f"The price must be at most {format_xmr(MAX_PRICE_ATOMIC)} XMR.", field=field)
    return atomic
