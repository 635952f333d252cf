"""The order market of tests/orders (a buyer, a vendor, a listing, the worker's side called directly)."""

from tests.orders.conftest import market  # noqa: F401  (a fixture, shared)
