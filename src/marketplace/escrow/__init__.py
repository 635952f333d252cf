"""The 2-of-3 multisig escrow: signers, the multisig protocol, money rules and key material."""
