"""The escrow: each order's payment held in a 2-of-3 multisig (buyer, vendor, arbiter) and paid out.

``money`` holds the money rules of a payout (pure functions over integer piconero);
``docs/escrow.md`` is the contract: the state machine, the money rules with a worked example,
the key material and the multisig discipline.
"""
