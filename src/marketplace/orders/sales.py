"""A vendor's sales summary: their orders counted and summed by state and by month (``/sales``, the API).

Sums are of the amount due (price × quantity, integer piconero) as fixed at placement; a month
is the UTC month the order was placed in. Counted in Python over the vendor's orders (three
columns each): the same on both databases, and a shop's orders are few enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User
from marketplace.errors import Forbidden
from marketplace.orders.models import END_STATES, Order, OrderState

# What each state means for the vendor's money.
PAID_TO_VENDOR = frozenset({OrderState.COMPLETED})
HELD_IN_ESCROW = frozenset({OrderState.FUNDED, OrderState.SHIPPED, OrderState.DISPUTED, OrderState.PAYING_OUT})


@dataclass
class Tally:
    count: int = 0
    amount_atomic: int = 0

    def add(self, amount: int) -> None:
        self.count += 1
        self.amount_atomic += amount


@dataclass
class MonthTally:
    month: str  # YYYY-MM (UTC)
    orders: Tally = field(default_factory=Tally)
    completed: Tally = field(default_factory=Tally)
    by_state: dict[OrderState, Tally] = field(default_factory=dict)


@dataclass
class SalesSummary:
    total: Tally
    completed: Tally
    in_escrow: Tally
    open_orders: int
    by_state: dict[OrderState, Tally]
    by_month: list[MonthTally]  # newest first


def sales_summary(db: Session, vendor: User) -> SalesSummary:
    """``vendor``'s orders by state and month; ``Forbidden`` for any other role."""
    if vendor.role is not Role.VENDOR:
        raise Forbidden("Only a vendor account has sales.")
    rows = db.execute(
        select(Order.state, Order.placed_at, Order.amount_atomic).where(Order.vendor_id == vendor.id)
    ).all()
    total, completed, in_escrow = Tally(), Tally(), Tally()
    by_state: dict[OrderState, Tally] = {}
    months: dict[str, MonthTally] = {}
    open_orders = 0
    for state_value, placed_at, amount in rows:
        state = OrderState(state_value)
        total.add(amount)
        by_state.setdefault(state, Tally()).add(amount)
        month_key = placed_at.strftime("%Y-%m")
        month = months.setdefault(month_key, MonthTally(month=month_key))
        month.orders.add(amount)
        month.by_state.setdefault(state, Tally()).add(amount)
        if state in PAID_TO_VENDOR:
            completed.add(amount)
            month.completed.add(amount)
        if state in HELD_IN_ESCROW:
            in_escrow.add(amount)
        if state not in END_STATES:
            open_orders += 1
    ordered_states = {state: by_state[state] for state in OrderState if state in by_state}
    return SalesSummary(
        total=total,
        completed=completed,
        in_escrow=in_escrow,
        open_orders=open_orders,
        by_state=ordered_states,
        by_month=[months[key] for key in sorted(months, reverse=True)],
    )
