"""What the worker's job handlers do to an escrow, one call per step, over an ``EscrowStack``.

Nothing here reads or writes the database: each function does its step on Monero and returns what
the caller must record. Each is safe to run again after a crash, given the caller's part:

- ``open_escrow(stack, escrow_id, attempt)``: the three multisig wallets of a NEW attempt (record
  the attempt before calling; after any failure or crash, call again with ``attempt + 1``: setup
  is never resumed, and the unfinished wallets stay unused). Returns the address only once all
  three wallets are stored and backed up: show it after this returns, never before.
- ``check_payments``: what the escrow received (``None`` when the chain has not moved since
  ``last_checked_height``: nothing was opened). Record the returned ``height``.
- ``build_payout_plan`` (the order's money rules, ``escrow.money``) or ``build_refund_plan``
  (everything back to the buyer: late payments) → the plan both signers follow.
- ``sign_payout``: one attempt (a fresh exchange, one proposal spending every output, the
  co-signer's check and signature) → a ``SignedPayout``. Save ALL of it (tx data, txids, key
  images) before ``submit_payout``; a retry is a new ``sign_payout``, never a re-sign.
- ``submit_payout``: hand the saved payout to the daemon (twice is harmless).
- ``payout_status`` (are the outputs a payout spends spent, in the pool or in a block?) and
  ``transaction_confirmations`` (how deep is this payout's transaction?): polled until the payout
  has its confirmations, or is gone and a new attempt is due.

Errors are the signers' (``SignerError`` and ``RpcError`` with ``transient``; ``PayoutRefused``
when the co-signer refused a proposal), ``BackupFailed``, and ``MoneyError`` for a plan outside the
money rules. Every step leaves the escrow's wallets unpinned when it ends (``release``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from marketplace.escrow import money, multisig
from marketplace.escrow.payments import PaymentCheck
from marketplace.escrow.signer import Destination, EscrowWallet, PayoutPlan, SignedPayout, Signer, SignerRole
from marketplace.escrow.stack import DETECTOR_ROLE, EscrowStack

__all__ = [
    "PayoutStatus",
    "build_payout_plan",
    "build_refund_plan",
    "check_payments",
    "open_escrow",
    "payout_status",
    "sign_payout",
    "submit_payout",
    "transaction_confirmations",
]


class PayoutStatus(enum.StrEnum):
    """What monerod says of the outputs a payout spends (its key images).

    It says whether they are spent, not by which transaction: two attempts of one escrow spend the
    same outputs (``transaction_confirmations`` of the saved txids tells which attempt won).
    """

    UNSPENT = "unspent"  # none is spent: the payout is neither in the pool nor in a block
    POOL = "pool"  # all are spent, some only in the pool
    CHAIN = "chain"  # all are spent in blocks
    PARTIAL = "partial"  # some are spent, some not: another transaction spent part of them (or part
    # of a payout of several transactions is out): this one cannot be mined whole now


def _release(escrow: EscrowWallet, signers: Sequence[Signer]) -> None:
    for signer in signers:
        signer.release(escrow)


def open_escrow(stack: EscrowStack, escrow_id: str, attempt: int) -> str:
    """Set up attempt ``attempt`` of escrow ``escrow_id`` (wallets ``escrow-<id>-<attempt>``) and
    back up its three wallets → the multisig address, once all of that is done.

    Raises ``SetupFailed``, ``SignerError``, ``RpcError`` or ``BackupFailed``: the address must not
    be shown; try again with ``attempt + 1``. An attempt number used before fails (its wallets
    exist), so record the attempt before calling.
    """
    escrow = EscrowWallet.for_attempt(escrow_id, attempt)
    signers = stack.signers_for(SignerRole)
    try:
        address = multisig.set_up(escrow, signers)
        stack.backup.back_up(escrow)
    finally:
        _release(escrow, signers)
    return address


def check_payments(
    stack: EscrowStack, escrow: EscrowWallet, *, confirmations: int, last_checked_height: int | None
) -> PaymentCheck | None:
    """The escrow's payments (``escrow.payments`` says what counts), or ``None`` when the chain
    height is still ``last_checked_height`` (no wallet opened)."""
    try:
        return stack.detector.check(escrow, confirmations=confirmations, last_checked_height=last_checked_height)
    finally:
        stack.signer(DETECTOR_ROLE).release(escrow)


def build_payout_plan(
    terms: money.PayoutTerms,
    outcome: money.Outcome | str,
    *,
    received_atomic: int,
    buyer_share_atomic: int | None = None,
    escrow_address: str,
    max_fee_atomic: int,
) -> PayoutPlan:
    """The plan of a payout by the money rules: ``destinations_for_fee(fee)`` is
    ``money.plan_payout(...)`` for that network fee, merged per address.

    ``received_atomic`` must be everything the escrow holds (the payout spends every output).
    ``max_fee_atomic`` (``MARKETPLACE_MAX_NETWORK_FEE_ATOMIC``) is lowered to ``received − 1`` when
    above it. Raises ``MoneyError`` now for an outcome or share outside the rules. For the
    history, ``money.plan_payout(..., network_fee_atomic=signed.fee_atomic).notes`` describes the
    signed payout.
    """
    base = money.plan_payout(
        terms,
        money.Outcome(outcome),
        received_atomic=received_atomic,
        network_fee_atomic=0,
        buyer_share_atomic=buyer_share_atomic,
    )

    def destinations_for_fee(fee: int) -> list[Destination]:
        planned = base.with_network_fee(fee)
        return [Destination(address, amount) for address, amount in planned.amounts_by_address().items()]

    return PayoutPlan(
        held_atomic=received_atomic,
        max_fee_atomic=min(max_fee_atomic, received_atomic - 1),
        escrow_address=escrow_address,
        destinations_for_fee=destinations_for_fee,
    )


def build_refund_plan(
    buyer_address: str, *, received_atomic: int, escrow_address: str, max_fee_atomic: int
) -> PayoutPlan:
    """Everything the escrow holds back to ``buyer_address``, less the network fee (late payments,
    and any return that is not an order's outcome): the refund rule of ``escrow.money``, one
    destination, so the proposal is a ``sweep_all``."""
    if not buyer_address:
        raise money.MoneyError("A refund needs the buyer's address.", name="buyer_address")
    if isinstance(received_atomic, bool) or not isinstance(received_atomic, int) or received_atomic < 1:
        raise money.MoneyError(f"received_atomic must be at least 1, not {received_atomic!r}.", name="received_atomic")

    def destinations_for_fee(fee: int) -> list[Destination]:
        if not 0 <= fee < received_atomic:
            raise money.MoneyError(
                f"network_fee_atomic ({fee}) leaves nothing to pay out of received_atomic ({received_atomic}).",
                name="network_fee_atomic",
            )
        return [Destination(buyer_address, received_atomic - fee)]

    return PayoutPlan(
        held_atomic=received_atomic,
        max_fee_atomic=min(max_fee_atomic, received_atomic - 1),
        escrow_address=escrow_address,
        destinations_for_fee=destinations_for_fee,
    )


def sign_payout(
    stack: EscrowStack,
    escrow: EscrowWallet,
    proposer_role: SignerRole | str,
    cosigner_role: SignerRole | str,
    plan: PayoutPlan,
) -> SignedPayout:
    """One payout attempt by two signers (``multisig.attempt_payout``) → the signed payout, NOT
    submitted: save it whole, then ``submit_payout``. ``FundsNotReady`` (transient) while the
    outputs are locked or the escrow holds other than ``plan.held_atomic``."""
    signers = stack.signers_for([proposer_role, cosigner_role])
    try:
        return multisig.attempt_payout(escrow, signers[0], signers[1], plan)
    finally:
        _release(escrow, signers)


def submit_payout(
    stack: EscrowStack, escrow: EscrowWallet, role: SignerRole | str, signed: SignedPayout
) -> tuple[str, ...]:
    """Hand the saved ``signed`` payout to the daemon through ``role``'s signer (either of its two
    signers) → its txids. Submitting again is harmless; ``TransactionRejected`` when its outputs
    are spent already (by it, or by another attempt: see ``payout_status``)."""
    signer = stack.signer(role)
    try:
        return multisig.submit(escrow, signer, signed)
    finally:
        signer.release(escrow)


def payout_status(stack: EscrowStack, key_images: Sequence[str]) -> PayoutStatus:
    """Whether the outputs a saved payout spends (``SignedPayout.key_images``) are spent: see
    ``PayoutStatus``. Raises ``RpcError`` when monerod does not answer."""
    if not key_images:
        raise ValueError("A payout spends at least one output.")
    statuses = stack.daemon.is_key_image_spent(list(key_images))
    if len(statuses) != len(key_images):
        raise ValueError("monerod answered for another number of key images.")
    if all(status == 0 for status in statuses):
        return PayoutStatus.UNSPENT
    if any(status == 0 for status in statuses):
        return PayoutStatus.PARTIAL
    if all(status == 1 for status in statuses):
        return PayoutStatus.CHAIN
    return PayoutStatus.POOL


def transaction_confirmations(stack: EscrowStack, txids: Sequence[str]) -> int | None:
    """The confirmations of a payout's transactions (the fewest when there are several): 0 while
    any is in the pool; ``None`` when the daemon knows one of them not at all (never submitted,
    dropped from the pool, or lost in a reorg: another attempt may be due)."""
    if not txids:
        raise ValueError("A payout has at least one transaction.")
    transactions = stack.daemon.get_transactions(list(txids))
    if any(not transaction.found for transaction in transactions):
        return None
    if any(transaction.in_pool or transaction.block_height is None for transaction in transactions):
        return 0
    height = stack.daemon.get_height()
    return min(max(0, height - (transaction.block_height or 0)) for transaction in transactions)
