"""Escrow settings for tests whose web process only records orders (it never calls a wallet).

The URLs need not answer: the web process writes jobs, the worker (not running in these tests)
would call them. The master key is random enough for production settings, which require it when
escrow is on, as they require the backup key's name.
"""

from __future__ import annotations

from typing import Any

_NOWHERE = "http://127.0.0.1:9"

ESCROW_SETTINGS: dict[str, Any] = {
    "monerod_url": _NOWHERE,
    "signer_buyer_urls": _NOWHERE,
    "signer_vendor_urls": _NOWHERE,
    "signer_arbiter_urls": _NOWHERE,
    # From secrets.token_hex(32).
    "wallet_master_key": "4f1c0b7f2d8e4a9b6c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b",
    "backup_gpg_recipient": "backup@marketplace.invalid",
}
