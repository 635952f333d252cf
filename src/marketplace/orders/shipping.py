"""Shipping details, encrypted at rest: shown only to the vendor (and to the arbiter of a dispute).

PyNaCl's ``SecretBox`` (XSalsa20-Poly1305, a random nonce each time) under a key derived from the
wallet master key for this one purpose (``derive_key(master, "shipping-info")``), so a copy of the
database alone does not reveal addresses. The order's id is sealed with the text and checked on
opening: a box moved to another order's row does not open there. The details are erased
(``states.erase_old_shipping_info``) 30 days after the order ends, and never logged.
"""

from __future__ import annotations

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from marketplace.escrow.master_key import derive_key, load_master_key
from marketplace.settings import Settings

PURPOSE = "shipping-info"


def _box(settings: Settings) -> SecretBox:
    return SecretBox(derive_key(load_master_key(settings), PURPOSE))


def seal(settings: Settings, order_id: str, text: str) -> bytes:
    return bytes(_box(settings).encrypt(f"{order_id}\n{text}".encode()))


def open_sealed(settings: Settings, order_id: str, sealed: bytes) -> str | None:
    """The text sealed for ``order_id``, or None if it does not open with this key for this order."""
    try:
        plain = _box(settings).decrypt(sealed).decode()
    except (CryptoError, UnicodeDecodeError):
        return None
    sealed_for, _, text = plain.partition("\n")
    return text if sealed_for == order_id else None
