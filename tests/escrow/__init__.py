"""Tests of the escrow: signers, the multisig protocol, payments and key backups."""
