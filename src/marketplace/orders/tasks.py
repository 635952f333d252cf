"""The order's job handlers: what ``marketplace worker`` does for each job the state machine writes.

``orders.states`` decides; these handlers carry its decisions out on the escrow
(``escrow.services`` over the ``EscrowStack``) and record what happened through ``orders.states``
again. Every handler is idempotent: a job claimed again after a crash (kill -9 at any line)
finds its work done or resumable:

- ``escrow.setup``: the setup attempt is recorded (committed) BEFORE the wallets are made, so a
  crashed setup is never resumed: the next run makes new wallets (``escrow-<id>-<attempt+1>``);
  no address was shown, so nothing is lost. The address is shown (``states.escrow_ready``) only
  after the three wallets agree on it and are backed up.
- ``escrow.watch``: checks the escrow's payments when the chain height moved (no wallet is
  opened otherwise), records them, and comes back after ``MARKETPLACE_PAYMENT_POLL_SECONDS``;
  an ended order is watched for late payments within ``MARKETPLACE_LATE_PAYMENT_WATCH_SECONDS``.
- ``escrow.deadline``: ``states.on_deadline`` as of the job's time.
- ``escrow.payout``: an attempt already signed (saved before it was submitted) is followed first:
  its key images tell whether it is in the pool or mined; an unspent one is submitted again
  (the same transaction: at most one attempt can be mined, each spends every output). Only when
  no attempt can still be mined is a new one made: a fresh exchange, one proposal, the
  co-signer's check and signature, saved (``states.payout_signed``), then submitted. Waiting
  for outputs to unlock and for confirmations is a reschedule, not an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from marketplace.db.writes import compare_and_set, lock_names
from marketplace.errors import Conflict
from marketplace.escrow import money, services
from marketplace.escrow.signer import EscrowWallet, FundsNotReady, PayoutPlan, SignedPayout
from marketplace.escrow.stack import EscrowStack
from marketplace.jobs.models import Job, JobState
from marketplace.jobs.queue import enqueue
from marketplace.jobs.worker import Handler, JobContext, JobOutcome
from marketplace.monero.rpc_errors import TransactionRejected
from marketplace.orders import states
from marketplace.orders.models import END_STATES, EscrowPayout, Order, OrderState, PayoutPurpose, PayoutState
from marketplace.settings import Settings, SignerRole

log = logging.getLogger("marketplace.orders.tasks")

WATCH_JOB = "escrow.watch"
ERASE_SHIPPING_JOB = "orders.erase_shipping_info"
ERASE_SHIPPING_EVERY = timedelta(hours=1)
_IN_FLIGHT = (PayoutState.SIGNED, PayoutState.SUBMITTED)
_SETTLE = frozenset({PayoutPurpose.RELEASE, PayoutPurpose.REFUND, PayoutPurpose.SPLIT})


def handlers(stack: EscrowStack, settings: Settings) -> dict[str, Handler]:
    """The handler of every job kind the order state machine writes, carried out on ``stack``."""
    return {
        states.SETUP_JOB: partial(set_up_escrow, stack, settings),
        WATCH_JOB: partial(watch_payments, stack, settings),
        states.DEADLINE_JOB: apply_deadline,
        states.PAYOUT_JOB: partial(pay_out, stack, settings),
        ERASE_SHIPPING_JOB: erase_shipping_info,
    }


def schedule_periodic(db: Session, now: datetime) -> None:
    """Queue the periodic jobs that are not queued yet (the worker calls it at start; idempotent)."""
    lock_names(db, [ERASE_SHIPPING_JOB])
    pending = db.scalar(
        select(Job.id).where(Job.kind == ERASE_SHIPPING_JOB, Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
    )
    if pending is None:
        enqueue(db, ERASE_SHIPPING_JOB, run_at=now)


def erase_shipping_info(ctx: JobContext) -> JobOutcome:
    """Erase shipping details 30 days after their order ended; again every hour."""
    with ctx.session() as db:
        erased = states.erase_old_shipping_info(db, ctx.now)
    if erased:
        log.info("shipping details erased", extra={"event": "orders.shipping_info_erased", "orders": erased})
    return JobOutcome.reschedule(ctx.now + ERASE_SHIPPING_EVERY)


def _later(ctx: JobContext, settings: Settings) -> JobOutcome:
    return JobOutcome.reschedule(ctx.now + timedelta(seconds=settings.payment_poll_seconds))


def _order(ctx: JobContext) -> Order | None:
    with ctx.session() as db:
        order = db.get(Order, ctx.job.order_id) if ctx.job.order_id else None
        if order is not None:
            db.expunge(order)
        return order


def _wallet(order: Order) -> EscrowWallet:
    if order.escrow_wallet_name is None:
        raise RuntimeError(f"order {order.id} has no escrow wallet yet")
    return EscrowWallet(escrow_id=order.id, wallet_name=order.escrow_wallet_name)


# --- escrow.setup -----------------------------------------------------------------------------


def set_up_escrow(stack: EscrowStack, settings: Settings, ctx: JobContext) -> JobOutcome:
    order = _order(ctx)
    if order is None or order.state is not OrderState.PLACED:
        return JobOutcome.done()
    attempt = order.escrow_setup_attempt + 1
    escrow = EscrowWallet.for_attempt(order.id, attempt)
    with ctx.session() as db:  # recorded before any wallet exists: a crash below is never resumed
        compare_and_set(
            db,
            update(Order)
            .where(Order.id == order.id, Order.escrow_setup_attempt == attempt - 1)
            .values(escrow_setup_attempt=attempt, escrow_wallet_name=escrow.wallet_name),
            refused=lambda: Conflict("Another worker is setting this escrow up.", state="setup"),
        )
    address = services.open_escrow(stack, order.id, attempt)  # backed up before it returns
    with ctx.session() as db:
        try:
            states.escrow_ready(db, order.id, states.WORKER, ctx.now, address=address)
        except Conflict:
            # Cancelled or declined while the wallets were made: the address was never shown.
            log.info("escrow ready after the order ended", extra={"event": "escrow.setup_moot", "order_id": order.id})
            return JobOutcome.done()
        enqueue(db, WATCH_JOB, order_id=order.id, run_at=ctx.now)
    return JobOutcome.done()


# --- escrow.watch -----------------------------------------------------------------------------


def watch_payments(stack: EscrowStack, settings: Settings, ctx: JobContext) -> JobOutcome:
    order = _order(ctx)
    if order is None or order.escrow_wallet_name is None or order.escrow_address is None:
        return JobOutcome.done()
    if order.state in END_STATES and order.ended_at is not None:
        horizon = order.ended_at + timedelta(seconds=settings.late_payment_watch_seconds)
        if ctx.now >= horizon:
            return JobOutcome.done()
    check = services.check_payments(
        stack, _wallet(order), confirmations=order.confirmations, last_checked_height=order.payments_checked_height
    )
    if check is not None:
        seen = [
            states.SeenPayment(
                txid=payment.txid,
                amount_atomic=payment.amount_atomic,
                confirmations=payment.confirmations,
                in_pool=payment.in_pool,
            )
            for payment in check.payments
            if payment.counts or payment.in_pool or payment.confirmations < order.confirmations
        ]
        with ctx.session() as db:
            states.record_payments(db, order.id, states.WORKER, ctx.now, payments=seen, height=check.height)
    return _later(ctx, settings)


# --- escrow.deadline --------------------------------------------------------------------------


def apply_deadline(ctx: JobContext) -> JobOutcome:
    if ctx.job.order_id is None:
        return JobOutcome.done()
    with ctx.session() as db:
        states.on_deadline(db, ctx.job.order_id, states.DEADLINE, ctx.now, deadline=str(ctx.job.payload["deadline"]))
    return JobOutcome.done()


# --- escrow.payout ----------------------------------------------------------------------------


def pay_out(stack: EscrowStack, settings: Settings, ctx: JobContext) -> JobOutcome:
    order = _order(ctx)
    if order is None or order.escrow_wallet_name is None:
        return JobOutcome.done()
    purpose = PayoutPurpose(str(ctx.job.payload["purpose"]))
    followed = _follow_attempts_in_flight(stack, ctx, order, purpose)
    if followed is not None:
        return followed
    if purpose in _SETTLE and order.state is not OrderState.PAYING_OUT:
        return JobOutcome.done()  # settled by an attempt followed above, or the order moved on
    if purpose is PayoutPurpose.RETURN and (order.state is OrderState.PAYING_OUT or _settle_in_flight(ctx, order)):
        return _later(ctx, settings)  # a return spends what the settling payout leaves: after it
    held = _held(ctx, order)
    if held <= 0:
        return JobOutcome.done()
    return _new_attempt(stack, settings, ctx, order, purpose=purpose, held=held)


def _new_attempt(
    stack: EscrowStack, settings: Settings, ctx: JobContext, order: Order, *, purpose: PayoutPurpose, held: int
) -> JobOutcome:
    """A fresh exchange, one proposal spending every output, checked and signed, saved, submitted."""
    proposer, cosigner = (SignerRole(str(role)) for role in ctx.job.payload["signers"])
    wallet = _wallet(order)
    plan, destinations_for_fee = _plan(order, purpose, held, settings)
    try:
        signed = services.sign_payout(stack, wallet, proposer, cosigner, plan)
    except FundsNotReady:
        return _later(ctx, settings)  # outputs still locked (10 blocks after they arrived): a state
    with ctx.session() as db:  # saved before it is submitted: a crash below resubmits this one
        payout_id = states.payout_signed(
            db,
            order.id,
            states.WORKER,
            ctx.now,
            purpose=purpose,
            proposer=proposer,
            cosigner=cosigner,
            destinations=destinations_for_fee(signed.fee_atomic),
            network_fee_atomic=signed.fee_atomic,
            signed_tx_hex=signed.tx_data_hex,
            txids=signed.txids,
            key_images=signed.key_images,
        )
    services.submit_payout(stack, wallet, proposer, signed)
    with ctx.session() as db:
        states.payout_submitted(db, payout_id, states.WORKER, ctx.now)
    return _later(ctx, settings)


def _follow_attempts_in_flight(
    stack: EscrowStack, ctx: JobContext, order: Order, purpose: PayoutPurpose
) -> JobOutcome | None:
    """Follow the saved attempts of ``purpose``'s kind (settling or return) that may still be mined.

    Returns the outcome when one is in the pool, mined or resubmitted; ``None`` when none can be
    mined any more (each is marked superseded): a new attempt is due.
    """
    group = _SETTLE if purpose in _SETTLE else frozenset({PayoutPurpose.RETURN})
    with ctx.session() as db:
        attempts = list(
            db.scalars(
                select(EscrowPayout)
                .where(
                    EscrowPayout.order_id == order.id,
                    EscrowPayout.state.in_(_IN_FLIGHT),
                    EscrowPayout.purpose.in_(group),
                )
                .order_by(EscrowPayout.attempt.desc())
            )
        )
        for attempt in attempts:
            db.expunge(attempt)
    for attempt in attempts:
        status = services.payout_status(stack, attempt.key_images)
        if status in (services.PayoutStatus.POOL, services.PayoutStatus.CHAIN):
            confirmations = services.transaction_confirmations(stack, attempt.txids)
            if confirmations is None:  # its outputs were spent by another attempt
                _supersede(ctx, attempt)
                continue
            with ctx.session() as db:
                if attempt.state is PayoutState.SIGNED:
                    states.payout_submitted(db, attempt.id, states.WORKER, ctx.now)
                states.payout_confirmed(db, attempt.id, states.WORKER, ctx.now, confirmations=confirmations)
            if confirmations >= order.confirmations:
                return JobOutcome.done()
            return JobOutcome.reschedule(ctx.now + timedelta(seconds=1))
        if status is services.PayoutStatus.UNSPENT:
            signed = SignedPayout(
                tx_data_hex=attempt.signed_tx_hex or "",
                txids=tuple(attempt.txids),
                key_images=tuple(attempt.key_images),
            )
            try:
                services.submit_payout(stack, _wallet(order), attempt.proposer, signed)
            except TransactionRejected:
                _supersede(ctx, attempt)
                continue
            with ctx.session() as db:
                states.payout_submitted(db, attempt.id, states.WORKER, ctx.now)
            return JobOutcome.reschedule(ctx.now + timedelta(seconds=1))
        _supersede(ctx, attempt)  # partly spent by something else: it can never be mined whole
    return None


def _supersede(ctx: JobContext, attempt: EscrowPayout) -> None:
    with ctx.session() as db:
        states.payout_superseded(db, attempt.id, states.WORKER, ctx.now)


def _settle_in_flight(ctx: JobContext, order: Order) -> bool:
    with ctx.session() as db:
        found = db.scalar(
            select(EscrowPayout.id).where(
                EscrowPayout.order_id == order.id,
                EscrowPayout.state.in_(_IN_FLIGHT),
                EscrowPayout.purpose.in_(_SETTLE),
            )
        )
    return found is not None


def _held(ctx: JobContext, order: Order) -> int:
    """What the escrow holds: every spendable payment, less what confirmed payouts spent (Σ destinations + fee)."""
    with ctx.session() as db:
        received = db.scalar(select(Order.received_atomic).where(Order.id == order.id)) or 0
        spent = sum(
            sum(int(destination["amount_atomic"]) for destination in payout.destinations) + payout.network_fee_atomic
            for payout in db.scalars(
                select(EscrowPayout).where(
                    EscrowPayout.order_id == order.id, EscrowPayout.state == PayoutState.CONFIRMED
                )
            )
        )
    return received - spent


def _plan(
    order: Order, purpose: PayoutPurpose, held: int, settings: Settings
) -> tuple[PayoutPlan, Callable[[int], list[dict[str, object]]]]:
    """The signer's plan, and the destinations (role, address, amount) for a network fee, for the history."""
    max_fee = settings.max_network_fee_atomic
    if purpose is PayoutPurpose.RETURN:
        plan = services.build_refund_plan(
            order.refund_address,
            received_atomic=held,
            escrow_address=order.escrow_address or "",
            max_fee_atomic=max_fee,
        )

        def returned(fee: int) -> list[dict[str, object]]:
            return [{"role": "buyer", "address": order.refund_address, "amount_atomic": held - fee}]

        return plan, returned
    terms = money.PayoutTerms(
        due_atomic=order.amount_atomic,
        fee_basis_points=order.fee_basis_points,
        buyer_address=order.refund_address,
        vendor_address=order.vendor_address,
        fee_address=order.fee_address,
    )
    outcome = money.Outcome(purpose.value)
    share = order.payout_buyer_share_atomic if outcome is money.Outcome.SPLIT else None
    plan = services.build_payout_plan(
        terms,
        outcome,
        received_atomic=held,
        buyer_share_atomic=share,
        escrow_address=order.escrow_address or "",
        max_fee_atomic=max_fee,
    )

    def settled(fee: int) -> list[dict[str, object]]:
        planned = money.plan_payout(
            terms, outcome, received_atomic=held, network_fee_atomic=fee, buyer_share_atomic=share
        )
        return [
            {"role": destination.role.value, "address": destination.address, "amount_atomic": destination.amount_atomic}
            for destination in planned.destinations
        ]

    return plan, settled
