"""A worker that starts closes what a dead worker left open, before it opens anything itself."""

from __future__ import annotations

import secrets

import pytest

from marketplace.escrow.signer import EscrowWallet
from marketplace.escrow.wallet_passwords import WalletPasswords
from marketplace.escrow.wallet_signer import WalletSigner
from marketplace.monero.rpc_errors import WalletNotOpen
from marketplace.settings import SignerRole
from tests.support.regtest import RegtestCluster


def test_a_wallet_left_open_by_a_dead_worker_is_closed_before_the_next_worker_opens_one(
    regtest: RegtestCluster,
) -> None:
    passwords = WalletPasswords(secrets.token_bytes(32))
    left_open = EscrowWallet.for_attempt(f"dead{secrets.token_hex(6)}", 1)
    # The dead worker's last step: its wallet open on the vendor's second endpoint, never closed.
    regtest.signer("vendor", 1).create_wallet(
        left_open.wallet_name, passwords.password(left_open.wallet_name, SignerRole.VENDOR.value)
    )

    restarted = WalletSigner(
        SignerRole.VENDOR,
        regtest.signer_urls["vendor"],
        login=regtest.signer_login["vendor"],
        wallet_dir=regtest.wallet_dir["vendor"],
        passwords=passwords,
    )
    try:
        restarted.begin_setup(EscrowWallet.for_attempt(f"next{secrets.token_hex(6)}", 1))
    finally:
        restarted.close()

    # Closed (and so saved) on the endpoint it was left on: no other endpoint can now be its second writer.
    with pytest.raises(WalletNotOpen):
        regtest.signer("vendor", 1).get_address()
