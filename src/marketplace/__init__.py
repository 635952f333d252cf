"""Monero Marketplace: a self-hosted marketplace with 2-of-3 multisig escrow."""

__version__ = "0.1.0"
