"""Monero: amounts in piconero and addresses (later: wallet and daemon RPC clients)."""
