"""The order market of ``tests/orders`` (buyer, vendor, arbiters, a listing, the worker's side called directly),
and a helper that drives an order to ``completed`` as the escrow worker would."""

from __future__ import annotations

from tests.orders.conftest import market, settings_overrides

__all__ = ["market", "settings_overrides"]
