"""The multisig protocol over the in-memory signers: what the state machine meets, fast.

Each behaviour here is also proven against regtest in test_multisig_regtest.py (setup, exact
payouts, the co-signer's refusal, the restarted co-signer); these add the refusals that are costly
to provoke for real (amount in, change, unlock time, fee, a transient failure between attempts).
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.escrow import multisig
from marketplace.escrow.fake_signer import FakeNetwork, FakeSigner
from marketplace.escrow.signer import (
    Destination,
    EscrowWallet,
    FreshExchangeRequired,
    FundsNotReady,
    ImportIncomplete,
    SignerRole,
)
from marketplace.monero.rpc_errors import RpcUnavailable, TransactionRejected
from tests.escrow.plans import plan

XMR = 10**12
VENDOR = "vendor-payout-address"
BUYER = "buyer-refund-address"


class Escrow:
    def __init__(self, escrow_id: str = "order1") -> None:
        self.network = FakeNetwork()
        self.signers = {role: FakeSigner(role, self.network) for role in SignerRole}
        self.wallet = EscrowWallet.for_attempt(escrow_id, 1)
        self.address = multisig.set_up(self.wallet, list(self.signers.values()))

    def fund(self, *amounts: int) -> None:
        for amount in amounts:
            self.network.pay(self.address, amount)
        self.network.mine(10)

    def __getitem__(self, role: str) -> FakeSigner:
        return self.signers[SignerRole(role)]


def test_setup_gives_one_address_and_a_retry_uses_new_wallet_names() -> None:
    escrow = Escrow()

    assert escrow.address.startswith("fake-multisig-")
    assert escrow.wallet.wallet_name == "escrow-order1-1"
    assert EscrowWallet.for_attempt("order1", 2).wallet_name == "escrow-order1-2"
    with pytest.raises(ValueError, match="ASCII"):
        EscrowWallet.for_attempt("../x", 1)


def test_a_release_pays_the_vendor_everything_but_the_fee_and_empties_the_escrow() -> None:
    escrow = Escrow()
    escrow.fund(2 * XMR, 3 * XMR)

    payout = multisig.attempt_payout(
        escrow.wallet,
        escrow["vendor"],
        escrow["arbiter"],
        plan([Destination(VENDOR, 5 * XMR)], escrow_address=escrow.address),
    )
    assert escrow.network.submitted == {}  # nothing reaches the daemon before the caller saved it
    assert multisig.submit(escrow.wallet, escrow["arbiter"], payout) == payout.txids
    escrow.network.mine()

    (transaction,) = escrow.network.submitted.values()
    assert transaction["recipients"] == [[VENDOR, 5 * XMR - escrow.network.fee_atomic]]
    assert escrow.network.held(escrow.wallet.wallet_name) == 0
    assert escrow.network.key_image_spent(payout.key_images) == [1, 1]


def _tampered(change: dict[str, Any]) -> Any:
    def tamper(transaction: dict[str, Any]) -> dict[str, Any]:
        return transaction | change

    return tamper


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"recipients": [["someone-else", 5 * XMR - 30_000_000]]}, multisig.DestinationMismatch),
        ({"recipients": [[VENDOR, 5 * XMR - 30_000_001]], "change": 1}, multisig.ChangeNotAllowed),
        ({"amount_in": 4 * XMR}, multisig.AmountInMismatch),
        ({"unlock_time": 1000}, multisig.UnlockTimeSet),
        ({"fee": 10**10 + 1}, multisig.FeeTooHigh),
        ({"change": 0, "change_address": "elsewhere"}, multisig.ChangeNotAllowed),
    ],
)
def test_the_cosigner_refuses_a_proposal_that_is_not_the_plan_and_signs_nothing(
    change: dict[str, Any], refusal: type[multisig.PayoutRefused]
) -> None:
    escrow = Escrow()
    escrow.fund(5 * XMR)
    escrow.network.tamper = _tampered(change)

    with pytest.raises(refusal) as refused:
        multisig.attempt_payout(
            escrow.wallet,
            escrow["vendor"],
            escrow["arbiter"],
            plan([Destination(VENDOR, 5 * XMR)], escrow_address=escrow.address),
        )
    assert refused.value.transient is False
    assert escrow["arbiter"].calls["sign"] == 0
    assert escrow.network.held(escrow.wallet.wallet_name) == 5 * XMR


def test_a_payment_mined_after_the_plan_or_not_yet_unlocked_makes_the_attempt_wait() -> None:
    escrow = Escrow()
    escrow.network.pay(escrow.address, 5 * XMR)
    escrow.network.mine(3)
    release = plan([Destination(VENDOR, 5 * XMR)], escrow_address=escrow.address)

    with pytest.raises(FundsNotReady) as locked:
        multisig.attempt_payout(escrow.wallet, escrow["vendor"], escrow["arbiter"], release)
    assert locked.value.transient
    assert locked.value.unlocked_atomic == 0

    escrow.network.mine(7)
    escrow.network.pay(escrow.address, 1 * XMR)  # arrives while the plan still says 5 XMR
    escrow.network.mine(10)
    with pytest.raises(FundsNotReady) as changed:
        multisig.attempt_payout(escrow.wallet, escrow["vendor"], escrow["arbiter"], release)
    assert changed.value.held_atomic == 6 * XMR
    assert escrow["arbiter"].calls["sign"] == 0


def test_a_proposal_needs_an_exchange_made_after_the_payment_was_mined() -> None:
    escrow = Escrow()
    escrow.network.pay(escrow.address, 5 * XMR)
    multisig.exchange(escrow.wallet, escrow["vendor"], escrow["arbiter"])  # payment still in the pool
    escrow.network.mine(10)

    with pytest.raises(ImportIncomplete):
        escrow["vendor"].propose(escrow.wallet, plan([Destination(VENDOR, 5 * XMR)], escrow_address=escrow.address))


def test_a_restarted_cosigner_signs_nothing_before_a_fresh_exchange_and_the_escrow_pays_once() -> None:
    escrow = Escrow()
    escrow.fund(5 * XMR)
    release = plan([Destination(VENDOR, 5 * XMR)], escrow_address=escrow.address)
    vendor, arbiter = escrow["vendor"], escrow["arbiter"]

    multisig.exchange(escrow.wallet, vendor, arbiter)
    proposal = vendor.propose(escrow.wallet, release)
    arbiter.crash()
    with pytest.raises(FreshExchangeRequired):
        arbiter.sign(escrow.wallet, proposal)

    first = multisig.attempt_payout(escrow.wallet, vendor, arbiter, release)
    with pytest.raises(FreshExchangeRequired):  # one signature per exchange
        arbiter.sign(escrow.wallet, proposal)
    second = multisig.attempt_payout(escrow.wallet, vendor, arbiter, release)
    assert first.txids != second.txids

    multisig.submit(escrow.wallet, vendor, second)
    with pytest.raises(TransactionRejected):
        multisig.submit(escrow.wallet, vendor, first)
    escrow.network.mine()
    assert len(escrow.network.submitted) == 1
    assert escrow.network.key_image_spent(first.key_images) == [1]


def test_a_transient_failure_fails_the_attempt_and_the_next_attempt_pays() -> None:
    escrow = Escrow()
    escrow.fund(3 * XMR, 1 * XMR)
    split = plan([Destination(VENDOR, 3 * XMR), Destination(BUYER, 1 * XMR)], escrow_address=escrow.address)
    escrow["arbiter"].fail_next("sign", RpcUnavailable("sign_multisig", None, "no answer in time"))

    with pytest.raises(RpcUnavailable):
        multisig.attempt_payout(escrow.wallet, escrow["buyer"], escrow["arbiter"], split)
    payout = multisig.attempt_payout(escrow.wallet, escrow["buyer"], escrow["arbiter"], split)
    multisig.submit(escrow.wallet, escrow["buyer"], payout)

    (transaction,) = escrow.network.submitted.values()
    fee = escrow.network.fee_atomic
    assert transaction["recipients"] == [[VENDOR, 3 * XMR - fee * 3 // 4], [BUYER, 1 * XMR - fee // 4]]
    assert transaction["change"] == 0
