"""The master secret every escrow wallet's password (and the shipping details' key) derives from.

It is never stored in the database and never logged. Production takes it from
``MARKETPLACE_WALLET_MASTER_KEY`` (or ``..._FILE``); settings refuse to start escrow without it.
In development a missing one is generated once in the data directory (mode 600) and the log says
so. How to back it up, and what its loss means: docs/escrow.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from pathlib import Path

from marketplace.settings import Settings

log = logging.getLogger("marketplace.escrow")

DEVELOPMENT_KEY_FILE = "wallet-master-key"


def load_master_key(settings: Settings) -> bytes:
    """The master key's bytes (UTF-8 of the configured secret).

    Raises ``RuntimeError`` outside development when none is configured (settings normally refuse
    that earlier, when escrow is on).
    """
    if settings.wallet_master_key is not None:
        return settings.wallet_master_key.get_secret_value().encode()
    if not settings.is_development:
        msg = "MARKETPLACE_WALLET_MASTER_KEY is not set"
        raise RuntimeError(msg)
    return _development_key(settings.data_dir / DEVELOPMENT_KEY_FILE).encode()


def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` (e.g. ``"shipping-info"``): HMAC-SHA256(master key, purpose)."""
    return hmac.new(master_key, b"marketplace/" + purpose.encode(), hashlib.sha256).digest()


def _development_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Written whole to a private temporary file, then linked into place: a process starting at the
    # same moment sees either no file or the whole key, never an empty one.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".wallet-master-key-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        os.link(temporary, path)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="utf-8").strip()
    finally:
        Path(temporary).unlink()
    log.warning(
        "development: generated a wallet master key",
        extra={"event": "escrow.master_key_generated", "path": str(path)},
    )
    return key
