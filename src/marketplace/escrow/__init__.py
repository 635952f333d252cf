"""Escrow: the 2-of-3 multisig that holds an order's payment, its signers and its money rules."""
