"""The escrow steps the job handlers call, over the fake stack: what each returns and what it leaves.

The same steps run for real against regtest in test_services_regtest.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.escrow import money, services
from marketplace.escrow.fake_signer import FakeEscrowStack, fake_stack
from marketplace.escrow.key_backup import BackupFailed
from marketplace.escrow.services import PayoutStatus
from marketplace.escrow.signer import Destination, EscrowWallet, SignerError, SignerRole
from marketplace.monero.rpc_errors import RpcUnavailable, TransactionRejected

XMR = 10**12
BUYER = "buyer-refund-address"
VENDOR = "vendor-payout-address"
FEE = "marketplace-fee-address"
MAX_FEE = 10**10
TERMS = money.PayoutTerms(
    due_atomic=1_250_000_000_000, fee_basis_points=150, buyer_address=BUYER, vendor_address=VENDOR, fee_address=FEE
)


def opened(stack: FakeEscrowStack, escrow_id: str = "order1") -> tuple[EscrowWallet, str]:
    address = services.open_escrow(stack, escrow_id, 1)
    return EscrowWallet.for_attempt(escrow_id, 1), address


def fund(stack: FakeEscrowStack, address: str, *amounts: int) -> None:
    for amount in amounts:
        stack.network.pay(address, amount)
    stack.network.mine(10)


def test_the_address_comes_after_all_three_wallets_are_backed_up_and_unpinned() -> None:
    stack = fake_stack()

    address = services.open_escrow(stack, "order1", 1)

    assert stack.network.addresses[address] == "escrow-order1-1"
    assert stack.fake_backup.backed_up == ["escrow-order1-1"]
    assert [signer.calls["release"] for signer in stack.fake_signers.values()] == [1, 1, 1]


def test_a_failed_backup_shows_no_address_and_the_next_attempt_starts_over() -> None:
    stack = fake_stack()
    stack.fake_backup.fail_next(BackupFailed("gpg failed encrypting escrow-order1-1.keys (exit 2): no key"))

    with pytest.raises(BackupFailed, match="gpg failed"):
        services.open_escrow(stack, "order1", 1)
    with pytest.raises(SignerError, match="exists already"):
        services.open_escrow(stack, "order1", 1)  # an attempt is never resumed
    address = services.open_escrow(stack, "order1", 2)

    assert stack.network.addresses[address] == "escrow-order1-2"
    assert stack.fake_backup.backed_up == ["escrow-order1-2"]


def test_payments_are_checked_only_when_the_chain_moved() -> None:
    stack = fake_stack()
    escrow, address = opened(stack)
    stack.network.pay(address, XMR)

    pending = services.check_payments(stack, escrow, confirmations=10, last_checked_height=None)
    assert pending is not None
    assert (pending.spendable_atomic, pending.pending_atomic) == (0, XMR)
    assert services.check_payments(stack, escrow, confirmations=10, last_checked_height=pending.height) is None

    stack.network.mine(10)
    funded = services.check_payments(stack, escrow, confirmations=10, last_checked_height=pending.height)
    assert funded is not None
    assert (funded.spendable_atomic, funded.pending_atomic) == (XMR, 0)
    assert stack.fake_signers[SignerRole.ARBITER].calls["incoming"] == 2  # the unmoved chain opened nothing


def test_a_split_is_signed_saved_submitted_and_confirmed_paying_what_the_money_rules_say() -> None:
    stack = fake_stack()
    stack.network.fee_atomic = 30_720_000
    escrow, address = opened(stack)
    fund(stack, address, 1_300_000_000_000)
    plan = services.build_payout_plan(
        TERMS,
        "split",
        received_atomic=1_300_000_000_000,
        buyer_share_atomic=250_000_000_000,
        escrow_address=address,
        max_fee_atomic=MAX_FEE,
    )

    signed = services.sign_payout(stack, escrow, SignerRole.ARBITER, SignerRole.BUYER, plan)

    # The worked example of docs/escrow.md, to the piconero.
    assert set(signed.destinations) == {
        Destination(BUYER, 299_992_910_770),
        Destination(VENDOR, 984_976_723_691),
        Destination(FEE, 14_999_645_539),
    }
    assert signed.fee_atomic == 30_720_000
    assert services.payout_status(stack, signed.key_images) is PayoutStatus.UNSPENT
    assert services.transaction_confirmations(stack, signed.txids) is None

    assert services.submit_payout(stack, escrow, SignerRole.BUYER, signed) == signed.txids
    assert services.payout_status(stack, signed.key_images) == "pool"
    assert services.transaction_confirmations(stack, signed.txids) == 0
    stack.network.mine(1)
    assert services.payout_status(stack, signed.key_images) == "chain"
    assert services.transaction_confirmations(stack, signed.txids) == 1
    stack.network.mine(9)
    assert services.transaction_confirmations(stack, signed.txids) == 10
    assert stack.network.held(escrow.wallet_name) == 0


def test_when_a_payment_arrives_between_attempts_the_key_images_and_txids_tell_which_attempt_won() -> None:
    stack = fake_stack()
    escrow, address = opened(stack)
    fund(stack, address, XMR)
    first = services.sign_payout(
        stack,
        escrow,
        "buyer",
        "vendor",
        services.build_payout_plan(
            TERMS, "refund", received_atomic=XMR, escrow_address=address, max_fee_atomic=MAX_FEE
        ),
    )
    fund(stack, address, XMR // 10)  # a late payment: the next attempt spends it too
    second = services.sign_payout(
        stack,
        escrow,
        "buyer",
        "vendor",
        services.build_refund_plan(
            BUYER, received_atomic=XMR + XMR // 10, escrow_address=address, max_fee_atomic=MAX_FEE
        ),
    )

    services.submit_payout(stack, escrow, "vendor", first)
    stack.network.mine(1)

    assert services.payout_status(stack, first.key_images) is PayoutStatus.CHAIN
    assert services.payout_status(stack, second.key_images) is PayoutStatus.PARTIAL
    with pytest.raises(TransactionRejected):
        services.submit_payout(stack, escrow, "buyer", second)
    assert services.transaction_confirmations(stack, first.txids) == 1
    assert services.transaction_confirmations(stack, second.txids) is None
    assert stack.network.held(escrow.wallet_name) == XMR // 10  # left for a late-payment refund


def test_a_payout_dropped_from_the_pool_is_unspent_again_and_the_saved_one_can_be_submitted_again() -> None:
    stack = fake_stack()
    escrow, address = opened(stack)
    fund(stack, address, XMR)
    plan = services.build_refund_plan(BUYER, received_atomic=XMR, escrow_address=address, max_fee_atomic=MAX_FEE)
    signed = services.sign_payout(stack, escrow, "buyer", "arbiter", plan)
    services.submit_payout(stack, escrow, "arbiter", signed)

    stack.network.drop(signed.txids[0])

    assert services.payout_status(stack, signed.key_images) is PayoutStatus.UNSPENT
    assert services.transaction_confirmations(stack, signed.txids) is None
    assert services.submit_payout(stack, escrow, "buyer", signed) == signed.txids
    assert services.payout_status(stack, signed.key_images) is PayoutStatus.POOL


@settings(derandomize=True, deadline=None, max_examples=200)
@given(received=st.integers(min_value=1, max_value=10**16), fee=st.integers(min_value=0, max_value=10**16))
def test_the_plain_refund_plan_pays_what_the_money_rules_refund(received: int, fee: int) -> None:
    fee %= received
    refund = services.build_refund_plan(BUYER, received_atomic=received, escrow_address="escrow", max_fee_atomic=fee)
    ordered = services.build_payout_plan(
        TERMS, "refund", received_atomic=received, escrow_address="escrow", max_fee_atomic=fee
    )

    assert list(refund.destinations_for_fee(fee)) == list(ordered.destinations_for_fee(fee))
    assert (refund.held_atomic, refund.max_fee_atomic) == (ordered.held_atomic, ordered.max_fee_atomic)


def test_a_plan_outside_the_money_rules_is_refused_before_any_signer_is_asked() -> None:
    with pytest.raises(money.MoneyError) as refused:
        services.build_payout_plan(
            TERMS,
            "split",
            received_atomic=1_300_000_000_000,
            buyer_share_atomic=TERMS.due_atomic + 1,
            escrow_address="escrow",
            max_fee_atomic=MAX_FEE,
        )
    assert refused.value.name == "buyer_share_atomic"
    tiny = services.build_refund_plan(BUYER, received_atomic=5, escrow_address="escrow", max_fee_atomic=MAX_FEE)
    assert tiny.max_fee_atomic == 4  # a fee may never take everything


def test_probe_reports_each_dependency_without_raising() -> None:
    stack = fake_stack()
    stack.fake_signers[SignerRole.VENDOR].fail_next(
        "probe", RpcUnavailable("get_version", None, "connection refused", reached_server=False)
    )
    stack.fake_daemon.failures.append(RpcUnavailable("get_info", None, "timed out"))

    down = {check.name: (check.ok, check.detail) for check in stack.probe()}
    up = {check.name: (check.ok, check.detail) for check in stack.probe()}

    assert down == {
        "monerod": (False, "timed out"),
        "signer:buyer:fake://buyer": (True, ""),
        "signer:vendor:fake://vendor": (False, "connection refused"),
        "signer:arbiter:fake://arbiter": (True, ""),
    }
    assert up["monerod"] == (True, "height 101, fakechain")
    assert all(ok for ok, _ in up.values())


def test_probe_flags_a_daemon_on_another_network() -> None:
    stack = fake_stack()
    stack.nettype = "mainnet"

    (daemon, *_) = stack.probe()

    assert (daemon.ok, daemon.detail) == (False, "monerod runs fakechain, the marketplace expects mainnet")
