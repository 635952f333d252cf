"""Paying an order from the demo buyer's wallet on regtest (development only).

Used by ``marketplace dev pay ORDER_ID`` and by the page route ``POST /orders/{id}/dev-pay``
(``devstack.views``, mounted in development only). It sends exactly what the order still lacks
(the amount due less what was received or is already on its way) from the demo wallet (the
wallet-rpc ``marketplace dev`` starts; its URL is ``MARKETPLACE_DEV_WALLET_URL``) to the order's
escrow address, and mines nothing: the stack's block every few seconds confirms it.

Paid once, however often it is asked: the escrow wallet learns of a payment only when the worker
next looks (``pending_atomic``), so what the demo wallet itself already sent to the escrow address
(its outgoing and pending transfers) counts as on its way too, and two requests for one order (a
double click, the page and ``marketplace dev pay`` together) run one after the other under a lock
on the order (``lock_names``, held across the wallet's answer: development only).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from marketplace.db.writes import lock_names
from marketplace.errors import Conflict, EscrowUnavailable, Forbidden, NotFound
from marketplace.monero.rpc import WalletRpc
from marketplace.monero.rpc_errors import FundsLocked, InsufficientFunds, NoTransactionCreated, RpcError, RpcUnavailable
from marketplace.orders.models import Order, OrderState
from marketplace.orders.services import parse_order_id
from marketplace.settings import Settings

# The pay page's notices after POST /orders/{id}/dev-pay (devstack/views.py).
DEV_PAY_NOTICES = {
    "demo-paid": "Paid from the demo wallet: the payment is on its way; the next blocks confirm it.",
    "demo-nothing-due": "Nothing is left to pay: the payment is on its way and waits for confirmations.",
    "demo-not-awaiting": "This order is not awaiting a payment.",
    "demo-wallet-down": "The demo wallet does not answer: is `marketplace dev` running?",
    "demo-wallet-refused": "The demo wallet cannot pay now; wait for a few blocks and try again.",
}

WALLET_TIMEOUT_SECONDS = 60.0


class NotAwaitingPayment(Conflict):
    """The order is in another state than awaiting payment (or its escrow is being set up)."""


class NothingDue(Conflict):
    """What the order lacks is already received or on its way."""


class DemoWalletRefused(Conflict):
    """The demo wallet answered but cannot make this payment now (funds locked, not enough)."""


@dataclass(frozen=True)
class DemoPayment:
    order_id: str
    address: str
    amount_atomic: int
    txid: str


def outstanding_atomic(order: Order, *, sent_atomic: int = 0) -> int:
    """What the order still lacks: the amount due less what was received or is on its way.

    ``sent_atomic``: what the demo wallet already sent to the escrow address, which the escrow
    may not have seen yet (what it has seen is in ``received_atomic + pending_atomic``).
    """
    on_its_way = max(order.received_atomic + order.pending_atomic, sent_atomic)
    return max(order.amount_atomic - on_its_way, 0)


def sent_to(wallet: WalletRpc, address: str) -> int:
    """What ``wallet`` sent to ``address``, mined or not (its ``out`` and ``pending`` transfers)."""
    result = wallet.call("get_transfers", {"out": True, "pending": True}, idempotent=True)
    return sum(
        int(destination.get("amount", 0))
        for kind in ("out", "pending")
        for entry in result.get(kind, [])
        for destination in entry.get("destinations", [])
        if destination.get("address") == address
    )


def _nothing_due(order: Order) -> NothingDue:
    return NothingDue(
        "Nothing is left to pay: the payment is on its way and waits for confirmations.", state=order.state.value
    )


def pay_from_demo_wallet(
    db: Session, settings: Settings, order_id: str, wallet_url: str, *, buyer_id: int | None = None
) -> DemoPayment:
    """Pay ``order_id``'s outstanding amount from the demo wallet at ``wallet_url``.

    ``buyer_id``: the signed-in user (the page route); anyone but the order's buyer gets
    ``NotFound``, as for an order that does not exist. Raises ``Forbidden`` outside development,
    ``NotFound``, ``Conflict`` (not awaiting payment, nothing left to pay, the demo wallet cannot pay)
    and ``EscrowUnavailable`` (the demo wallet does not answer: the stack is not running).
    """
    if not settings.is_development:
        raise Forbidden("paying from the demo wallet is for development only")
    order_id = parse_order_id(order_id)
    lock_names(db, [f"dev-pay:{order_id}"])  # one payment at a time per order (released at commit)
    order = db.get(Order, order_id, populate_existing=True)
    if order is None or (buyer_id is not None and order.buyer_id != buyer_id):
        raise NotFound("There is no such order.")
    if order.state is not OrderState.AWAITING_PAYMENT or order.escrow_address is None:
        what = "its escrow is still being set up" if order.state is OrderState.PLACED else f"it is {order.state.value}"
        raise NotAwaitingPayment(f"The order is not awaiting payment: {what}.", state=order.state.value)
    if outstanding_atomic(order) == 0:
        raise _nothing_due(order)
    try:
        with WalletRpc(wallet_url, timeout=WALLET_TIMEOUT_SECONDS) as wallet:
            wallet.refresh()
            amount = outstanding_atomic(order, sent_atomic=sent_to(wallet, order.escrow_address))
            if amount == 0:
                raise _nothing_due(order)
            proposal = wallet.transfer([(order.escrow_address, amount)])
    except RpcUnavailable as exc:
        if not exc.reached_server:
            raise EscrowUnavailable(
                "The demo wallet does not answer: is the development stack (`marketplace dev`) running?"
            ) from None
        raise EscrowUnavailable(
            f"The demo wallet did not finish in time ({exc.message}); see its log, "
            "<data dir>/regtest/wallet-payer.log, and restart `marketplace dev` if it stays busy."
        ) from None
    except (InsufficientFunds, FundsLocked, NoTransactionCreated) as exc:
        raise DemoWalletRefused(f"The demo wallet cannot pay now: {exc.message}; wait for a few blocks.") from None
    except RpcError as exc:
        raise DemoWalletRefused(f"The demo wallet refused the payment: {exc.message}.") from None
    return DemoPayment(order.id, order.escrow_address, amount, proposal.tx_hashes[0])
