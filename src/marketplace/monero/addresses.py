"""Monero address validation: checksum and network, via the ``monero`` library (not by length)."""

from __future__ import annotations

from monero.address import IntegratedAddress, address

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
    payout must not), or belongs to another network.
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
    return candidate
