"""The rules of what a buyer, vendor or arbiter sends about an order, each refused naming its field.

Checked before anything is read or written, so a refusal (422) says nothing about whether the
order exists. Money limits: an order's total is price × quantity, at most ``MAX_ORDER_ATOMIC``
(one million XMR, far below 2^63 piconero, so no total and no sum of totals a payout adds can
overflow a signed 64-bit column), and at least the site's ``MARKETPLACE_MIN_ORDER_ATOMIC``.
"""

from __future__ import annotations

from marketplace.db.base import MAX_ID
from marketplace.errors import InvalidInput
from marketplace.listings.services import STOCK_MAX
from marketplace.monero.addresses import validate_address
from marketplace.monero.amounts import PICONERO_PER_XMR, format_xmr
from marketplace.orders.models import Outcome
from marketplace.settings import Settings
from marketplace.text import TextKind, require_visible, valid_text

MAX_ORDER_ATOMIC = 1_000_000 * PICONERO_PER_XMR
SHIPPING_INFO_MAX_LENGTH = 2_000
NOTE_MAX_LENGTH = 2_000
REASON_MAX_LENGTH = 2_000
ORDER_ID_PATTERN = r"^[0-9a-f]{32}$"


def _whole(value: object, *, field: str, minimum: int, maximum: int, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidInput(message, field=field)
    return value


def check_listing_id(value: object) -> int:
    return _whole(
        value,
        field="listing_id",
        minimum=1,
        maximum=MAX_ID,
        message=f"The listing id is a whole number from 1 to {MAX_ID}.",
    )


def check_quantity(value: object) -> int:
    return _whole(
        value,
        field="quantity",
        minimum=1,
        maximum=STOCK_MAX,
        message=f"The quantity is a whole number from 1 to {STOCK_MAX:,}.",
    )


def check_total(unit_price_atomic: int, quantity: int, settings: Settings) -> int:
    """price × quantity, if within the site's minimum and ``MAX_ORDER_ATOMIC``; else ``InvalidInput`` (quantity)."""
    total = unit_price_atomic * quantity
    if total > MAX_ORDER_ATOMIC:
        raise InvalidInput(
            f"The total would be {format_xmr(total)} XMR; an order is at most {format_xmr(MAX_ORDER_ATOMIC)} XMR.",
            field="quantity",
        )
    if total < settings.min_order_atomic:
        raise InvalidInput(
            f"The total would be {format_xmr(total)} XMR; an order is at least "
            f"{format_xmr(settings.min_order_atomic)} XMR.",
            field="quantity",
        )
    return total


def check_refund_address(value: object, settings: Settings) -> str:
    """The buyer's refund address: required, a valid standard address or subaddress of the site's network."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            "Give a refund address: a Monero address of yours where a refund or any excess goes back.",
            field="refund_address",
        )
    return validate_address(value, settings.network, field="refund_address")


def _text(value: str, *, field: str, label: str, max_length: int) -> str:
    text = valid_text(value, TextKind.MULTILINE, field=field, label=label).strip()
    if len(text) > max_length:
        raise InvalidInput(
            f"Too long: {len(text):,} characters in the {label}; at most {max_length:,} are allowed.",
            field=field,
        )
    if text:
        require_visible(text, TextKind.MULTILINE, field=field, label=label)
    return text


def check_optional_text(value: str | None, *, field: str, label: str, max_length: int) -> str | None:
    """Running text (``TextKind.MULTILINE``), NFC, trimmed; empty or absent is None."""
    if value is None:
        return None
    return _text(value, field=field, label=label, max_length=max_length) or None


def check_reason(value: str | None, *, what: str) -> str:
    """A required reason (a dispute's, a decision's): visible running text, 1 to ``REASON_MAX_LENGTH`` characters."""
    text = _text(value or "", field="reason", label="reason", max_length=REASON_MAX_LENGTH)
    if not text:
        raise InvalidInput(f"Give a reason: {what}.", field="reason")
    return text


def check_outcome(value: object) -> Outcome:
    try:
        return Outcome(str(value))
    except ValueError:
        raise InvalidInput("The outcome is release, refund or split.", field="outcome") from None


def check_buyer_share(value: object) -> int | None:
    """A split's share for the buyer, in piconero (checked against the order's amount by the decision)."""
    if value is None:
        return None
    return _whole(
        value,
        field="buyer_share_atomic",
        minimum=0,
        maximum=MAX_ORDER_ATOMIC,
        message="The buyer's share is a whole number of piconero, from 0 to the amount due.",
    )
