"""Monero: amounts in piconero, addresses, and the RPC clients of monerod and monero-wallet-rpc."""
