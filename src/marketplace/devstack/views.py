"""The development-only page route ``POST /orders/{id}/dev-pay`` ("Pay from demo wallet").

Mounted by ``web.app.create_app`` only when ``settings.is_development``: in production the path
does not exist (404). The order's buyer (anyone else: 404, as for an order that does not exist)
pays its outstanding amount from the demo wallet (``MARKETPLACE_DEV_WALLET_URL``, set by
``marketplace dev``) through ``devstack.pay``; the answer is a 303 back to ``/orders/{id}/pay``
with a ``?notice=`` code, whose text is in ``DEV_PAY_NOTICES`` (the pay page shows it).
"""

from __future__ import annotations

from fastapi import Depends
from starlette.responses import Response

from marketplace.accounts.auth import PageUser
from marketplace.devstack.pay import DemoWalletRefused, NotAwaitingPayment, NothingDue, pay_from_demo_wallet
from marketplace.errors import EscrowUnavailable
from marketplace.orders.services import parse_order_id
from marketplace.web import routing
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import DbSession, SettingsDep
from marketplace.web.pages import redirect

router = routing.router(dependencies=[Depends(verify_csrf)])

DEV_PAY_NOTICES = {
    "demo-paid": "Paid from the demo wallet: the payment is on its way; the next blocks confirm it.",
    "demo-nothing-due": "Nothing is left to pay: the payment is on its way and waits for confirmations.",
    "demo-not-awaiting": "This order is not awaiting a payment.",
    "demo-wallet-down": "The demo wallet does not answer: is `marketplace dev` running?",
    "demo-wallet-refused": "The demo wallet cannot pay now; wait for a few blocks and try again.",
}


@router.post("/orders/{order_id}/dev-pay")
def dev_pay(order_id: str, user: PageUser, db: DbSession, settings: SettingsDep) -> Response:
    """Pay the order from the demo wallet (development only), then back to its pay page."""
    order_id = parse_order_id(order_id)
    if settings.dev_wallet_url is None:
        notice = "demo-wallet-down"
    else:
        try:
            pay_from_demo_wallet(db, settings, order_id, settings.dev_wallet_url, buyer_id=user.id)
        except NothingDue:
            notice = "demo-nothing-due"
        except NotAwaitingPayment:
            notice = "demo-not-awaiting"
        except DemoWalletRefused:
            notice = "demo-wallet-refused"
        except EscrowUnavailable:
            notice = "demo-wallet-down"
        else:
            notice = "demo-paid"
    return redirect(f"/orders/{order_id}/pay", notice=notice)
