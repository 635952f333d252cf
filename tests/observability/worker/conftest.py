"""The worker's metrics tests use the order tests' small market (escrow configured, URLs that need not answer)."""

from tests.orders.conftest import market, settings_overrides

__all__ = ["market", "settings_overrides"]
