"""Each escrow wallet's password, derived from the master key: never stored, never logged, never in argv.

password = hex(HMAC-SHA256(master key, "marketplace/escrow-wallet-password/v1" ‖ 0 ‖ role ‖ 0 ‖ wallet name))

The domain label keeps these HMACs apart from any other use of the same key; the NUL separators
(neither a role nor a wallet name may hold one) keep ``("ab", "c")`` apart from ``("a", "bc")``.
The same name in two roles' wallet directories gets two passwords, so one leaked wallet password
opens one wallet. Losing the master key makes every escrow wallet unopenable: back it up
(``docs/escrow.md``).
"""

from __future__ import annotations

import hashlib
import hmac

_DOMAIN = b"marketplace/escrow-wallet-password/v1"
MIN_MASTER_KEY_BYTES = 32


class WalletPasswords:
    """Derives wallet passwords from the master key; its ``repr`` shows nothing of the key."""

    __slots__ = ("_key",)

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < MIN_MASTER_KEY_BYTES:
            raise ValueError(f"The wallet master key must be at least {MIN_MASTER_KEY_BYTES} bytes.")
        self._key = bytes(master_key)

    def __repr__(self) -> str:
        return "WalletPasswords(<master key hidden>)"

    def password(self, wallet_name: str, role: str) -> str:
        """The password of wallet ``wallet_name`` in role ``role``'s wallet directory (64 hex digits)."""
        if not wallet_name or not role or "\0" in wallet_name or "\0" in role:
            raise ValueError("A wallet name and a role are non-empty and hold no NUL.")
        message = b"\0".join((_DOMAIN, role.encode(), wallet_name.encode()))
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
