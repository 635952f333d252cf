"""Monero address validation: checksum and network via the ``monero`` library (not by length),
and the two public keys via libsodium.

A checksum proves only that the text was not mistyped: anyone can compute one over any 64
bytes. The keys must also be real: each one a canonical encoding of a point of the ed25519
prime-order subgroup (libsodium's ``crypto_core_ed25519_is_valid_point``, through PyNaCl), as
every key a wallet derives (a scalar times the base point) is. That refuses the identity point
(``01`` then 31 zero bytes), the other small-order points, points with a small-order component,
encodings that are not on the curve, and non-canonical encodings (y at or beyond 2^255 - 19):
money sent to such an address could never be spent, or not by its owner.
"""

from __future__ import annotations

from monero.address import IntegratedAddress, address
from nacl.bindings import crypto_core_ed25519_is_valid_point

from marketplace.errors import InvalidInput
from marketplace.settings import MoneroNetwork

# Regtest wallets use mainnet-style addresses (MONERO-REGTEST.md).
_LIBRARY_NET = {
    MoneroNetwork.MAINNET: "main",
    MoneroNetwork.REGTEST: "main",
    MoneroNetwork.STAGENET: "stage",
    MoneroNetwork.TESTNET: "test",
}


def validate_address(text: str, network: MoneroNetwork, *, field: str = "address") -> str:
    """Return the address if it is a valid standard or subaddress of ``network``.

    Raises ``InvalidInput`` naming ``field`` when the text is not a Monero address (bad
    characters, length or checksum), is an integrated address (carries a payment id, which a
    payout must not), belongs to another network, or has a public spend or view key that is not
    a point of the prime-order subgroup (the message names which key).
    """
    candidate = text.strip()
    try:
        parsed = address(candidate)
    except (ValueError, KeyError, IndexError, TypeError) as exc:  # the library's parse errors vary
        raise InvalidInput("This is not a valid Monero address (check for typos).", field=field) from exc
    if isinstance(parsed, IntegratedAddress):
        raise InvalidInput("Use a standard address or subaddress, not an integrated address.", field=field)
    expected = _LIBRARY_NET[network]
    if parsed.net != expected:
        raise InvalidInput(f"This is a {parsed.net}net address; this marketplace runs on {network.value}.", field=field)
    for name, key in (("spend", parsed.spend_key()), ("view", parsed.view_key())):
        if not crypto_core_ed25519_is_valid_point(bytes.fromhex(key)):
            raise InvalidInput(
                f"This address's public {name} key is not a valid key: no wallet can receive money there.", field=field
            )
    return candidate
