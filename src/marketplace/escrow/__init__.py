"""The escrow: each order's payment held in a 2-of-3 multisig (buyer, vendor, arbiter) and paid out.

``money`` holds the money rules of a payout (pure functions over integer piconero); ``signer``
the interface a party presents (``wallet_signer`` over wallet-rpc endpoints, ``fake_signer`` for
fast tests); ``multisig`` the protocol (setup, one payout attempt, submit); ``key_backup`` the
encrypted copies of every wallet; ``payments`` detection; ``master_key`` and ``wallet_passwords``
the key material; ``stack`` builds all of it from the settings (``EscrowStack``) and ``services``
is what the worker's job handlers call (open an escrow, check payments, plan, sign, submit and
follow a payout). ``docs/escrow.md`` is the contract: the state machine, the money rules with a
worked example, the key material and the multisig discipline.
"""
