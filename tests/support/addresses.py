"""Monero addresses built in the test: any netbyte and any 32-byte keys, with a correct checksum.

A checksum is no proof of anything but care in typing: ``forge_address`` makes one over keys
that no wallet could own (the identity point, small-order points, bytes off the curve), which
is what an attacker would paste as a payout or refund address.
"""

from __future__ import annotations

import hashlib

from monero.keccak import keccak_256
from nacl.bindings import (
    crypto_core_ed25519_add,
    crypto_core_ed25519_scalar_reduce,
    crypto_scalarmult_ed25519_base_noclamp,
)

from monero import base58

# Netbytes (Monero's cryptonote_config.h): standard address and subaddress of each network.
NETBYTES = {
    ("mainnet", "standard"): 18,
    ("mainnet", "subaddress"): 42,
    ("testnet", "standard"): 53,
    ("testnet", "subaddress"): 63,
    ("stagenet", "standard"): 24,
    ("stagenet", "subaddress"): 36,
}

_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P


def real_key(label: str) -> bytes:
    """A public key as a wallet makes one: a scalar (from ``label``, for repeatable tests) times the base point."""
    scalar = crypto_core_ed25519_scalar_reduce(hashlib.sha512(label.encode()).digest())
    return crypto_scalarmult_ed25519_base_noclamp(scalar)


IDENTITY = bytes([1]) + bytes(31)
# A point of order 8 (one of the small-order points libsodium lists).
SMALL_ORDER = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


def _off_the_curve() -> bytes:
    """The encoding of the least y for which no x exists: x^2 = (y^2 - 1) / (d y^2 + 1) is not a square."""
    for y in range(2, 100):
        x_squared = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
        if pow(x_squared, (_P - 1) // 2, _P) == _P - 1:
            return y.to_bytes(32, "little")
    raise AssertionError("unreachable: half of all y are off the curve")


NOT_ON_CURVE = _off_the_curve()
# A real key plus a small-order point: on the curve, outside the prime-order subgroup.
WITH_TORSION = crypto_core_ed25519_add(real_key("torsion"), SMALL_ORDER)
# y = p + 1 written out: the identity again, in a form no encoder produces.
NON_CANONICAL = (_P + 1).to_bytes(32, "little")

BAD_KEYS = {
    "identity": IDENTITY,
    "small order": SMALL_ORDER,
    "not on the curve": NOT_ON_CURVE,
    "with a small-order part": WITH_TORSION,
    "non-canonical": NON_CANONICAL,
}


def forge_address(netbyte: int, spend: bytes, view: bytes) -> str:
    """The base58 address of ``netbyte``, ``spend`` and ``view`` with its keccak checksum."""
    assert len(spend) == len(view) == 32
    body = bytes([netbyte]) + spend + view
    data: bytes = body + keccak_256(body).digest()[:4]
    encoded: str = base58.encode(data.hex())
    return encoded
