"""The money rules of a payout: one formula, in integer piconero (``docs/escrow.md``, "Money rules").

Pure functions: no I/O, no clock, no floats, no rounding other than the two floors written below.

Received ``E`` (the sum of the escrow's spendable outputs), due ``D`` (the order's total):

- **release**: vendor part ``D``, buyer part ``E − D`` (a release comes from ``funded``, so ``E ≥ D``);
- **refund**: buyer part ``E`` (also an expiry, an underpayment and a late payment: everything
  received goes back);
- **split** (``buyer_share_atomic`` from 0 to ``D``): buyer part ``share + (E − D)``, vendor part
  ``D − share``.

The marketplace fee is ``floor(vendor part × fee_basis_points / 10_000)``, taken from the vendor
part and sent to the fee address. There is no fee without a fee address (a payout is never
blocked by the marketplace's own settings). The parts sum to ``E``.

The network fee ``F`` is then shared by the destinations (the parts above zero) in proportion to
their parts: each pays ``floor(F × part / E)`` and the largest part (ties: buyer, then vendor, then
marketplace fee) pays the rest. A destination whose part would not cover its exact share of ``F``
and leave at least one piconero (``part × (E − F) < E``) is dropped and its part is added to the
largest; the largest is never dropped (should the rest of ``F`` leave it nothing, which only
happens when ``E − F`` is under 9 piconero, the smallest other part is dropped instead; ties:
the last of buyer, vendor, marketplace fee). What is sent plus
``F`` is exactly ``E``: nothing stays in the escrow.

The network fee is learnt by building the transaction: ``plan_payout`` takes it as input, and
``PayoutPlan.with_network_fee`` plans the next build with the fee the last one showed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from marketplace.monero.amounts import format_xmr

BASIS_POINTS = 10_000  # fee_basis_points are parts of this: 150 is 1.5 %


class MoneyError(ValueError):
    """An amount, share or rate outside the rules; ``name`` is the argument at fault."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


class OrderTotalTooHigh(MoneyError):
    """price × quantity is above the cap; ``max_quantity`` is the most that could be ordered."""

    def __init__(self, *, price_atomic: int, max_quantity: int, max_total_atomic: int) -> None:
        super().__init__(
            f"The total would be more than {format_xmr(max_total_atomic)} XMR: at most {max_quantity} "
            f"can be ordered at {format_xmr(price_atomic)} XMR each.",
            name="quantity",
        )
        self.max_quantity = max_quantity
        self.max_total_atomic = max_total_atomic


class Outcome(enum.StrEnum):
    RELEASE = "release"
    REFUND = "refund"
    SPLIT = "split"


class Role(enum.StrEnum):
    """Who a destination pays. Their order here is the order of destinations and breaks ties."""

    BUYER = "buyer"
    VENDOR = "vendor"
    MARKETPLACE_FEE = "marketplace_fee"


ROLE_ORDER: tuple[Role, ...] = tuple(Role)
_RANK = {role: index for index, role in enumerate(ROLE_ORDER)}


def order_total(price_atomic: int, quantity: int, *, max_total: int) -> int:
    """The exact ``price_atomic × quantity``; ``OrderTotalTooHigh`` when it is above ``max_total``.

    The cap is checked before multiplying, so no quantity, however long, makes a huge number.
    """
    _require_int(price_atomic, "price_atomic", least=1)
    _require_int(quantity, "quantity", least=1)
    _require_int(max_total, "max_total", least=1)
    max_quantity = max_total // price_atomic
    if quantity > max_quantity:
        raise OrderTotalTooHigh(price_atomic=price_atomic, max_quantity=max_quantity, max_total_atomic=max_total)
    return price_atomic * quantity


@dataclass(frozen=True)
class PayoutTerms:
    """What a payout depends on that is fixed when the order is placed."""

    due_atomic: int
    fee_basis_points: int
    buyer_address: str  # the buyer's refund address
    vendor_address: str  # the vendor's payout address
    fee_address: str | None  # the marketplace's fee address; None: no fee

    def __post_init__(self) -> None:
        _require_int(self.due_atomic, "due_atomic", least=1)
        _require_int(self.fee_basis_points, "fee_basis_points", least=0)
        if self.fee_basis_points > BASIS_POINTS:
            raise MoneyError(
                f"fee_basis_points must be from 0 to {BASIS_POINTS}, not {self.fee_basis_points}.",
                name="fee_basis_points",
            )
        for name in ("buyer_address", "vendor_address", "fee_address"):
            address = getattr(self, name)
            if (address is not None or name != "fee_address") and (not isinstance(address, str) or not address):
                raise MoneyError(f"{name} must be an address, not {address!r}.", name=name)

    def address_of(self, role: Role) -> str | None:
        return {Role.BUYER: self.buyer_address, Role.VENDOR: self.vendor_address}.get(role, self.fee_address)


@dataclass(frozen=True)
class Parts:
    """What each role is owed before the network fee. They sum to the amount received."""

    buyer_atomic: int
    vendor_atomic: int  # after the marketplace fee
    marketplace_fee_atomic: int

    def of(self, role: Role) -> int:
        return {
            Role.BUYER: self.buyer_atomic,
            Role.VENDOR: self.vendor_atomic,
            Role.MARKETPLACE_FEE: self.marketplace_fee_atomic,
        }[role]

    @property
    def total_atomic(self) -> int:
        return self.buyer_atomic + self.vendor_atomic + self.marketplace_fee_atomic


def payout_parts(
    terms: PayoutTerms, outcome: Outcome, *, received_atomic: int, buyer_share_atomic: int | None = None
) -> Parts:
    """The formula before the network fee (the module's docstring states it)."""
    outcome = Outcome(outcome)
    _require_int(received_atomic, "received_atomic", least=1)
    due = terms.due_atomic
    if outcome is Outcome.SPLIT:
        if buyer_share_atomic is None:
            raise MoneyError("A split needs buyer_share_atomic.", name="buyer_share_atomic")
        _require_int(buyer_share_atomic, "buyer_share_atomic", least=0)
        if buyer_share_atomic > due:
            raise MoneyError(
                f"buyer_share_atomic ({buyer_share_atomic}) must be at most the amount due ({due}).",
                name="buyer_share_atomic",
            )
    elif buyer_share_atomic is not None:
        raise MoneyError(f"buyer_share_atomic is only for a split, not a {outcome}.", name="buyer_share_atomic")
    if outcome is not Outcome.REFUND and received_atomic < due:
        raise MoneyError(
            f"A {outcome} pays out a funded escrow: received_atomic ({received_atomic}) is less than "
            f"the amount due ({due}).",
            name="received_atomic",
        )

    if outcome is Outcome.REFUND:
        buyer, vendor_gross = received_atomic, 0
    elif outcome is Outcome.RELEASE:
        buyer, vendor_gross = received_atomic - due, due
    else:
        share = buyer_share_atomic or 0
        buyer, vendor_gross = share + (received_atomic - due), due - share
    rate = terms.fee_basis_points if terms.fee_address is not None else 0
    fee = vendor_gross * rate // BASIS_POINTS
    return Parts(buyer_atomic=buyer, vendor_atomic=vendor_gross - fee, marketplace_fee_atomic=fee)


@dataclass(frozen=True)
class Destination:
    role: Role
    address: str
    part_atomic: int  # its part before the network fee, with any dropped part it was given
    network_fee_share_atomic: int
    amount_atomic: int  # what the transaction sends: part − share, at least 1

    def __str__(self) -> str:
        return f"{self.amount_atomic} piconero to the {_label(self.role)}"


@dataclass(frozen=True)
class DroppedDestination:
    role: Role
    address: str
    part_atomic: int
    given_to: Role
    reason: str  # a sentence for the order's history


@dataclass(frozen=True)
class PayoutPlan:
    """One payout: its destinations in role order, and how they were reached.

    ``sum(amount_atomic of destinations) + network_fee_atomic == received_atomic``, always.
    """

    terms: PayoutTerms
    outcome: Outcome
    received_atomic: int
    buyer_share_atomic: int | None
    parts: Parts  # before the network fee and before any destination was dropped
    network_fee_atomic: int
    destinations: tuple[Destination, ...]
    dropped: tuple[DroppedDestination, ...]

    @property
    def sent_atomic(self) -> int:
        return sum(destination.amount_atomic for destination in self.destinations)

    @property
    def remainder_holder(self) -> Role:
        """The destination that paid the rest of the network fee and received any dropped part."""
        return _largest([(d.role, d.part_atomic) for d in self.destinations])

    def amount_to(self, role: Role) -> int:
        return sum(d.amount_atomic for d in self.destinations if d.role is role)

    def amounts_by_address(self) -> dict[str, int]:
        """Amounts merged per address, as ``describe_transfer`` lists recipients."""
        merged: dict[str, int] = {}
        for destination in self.destinations:
            merged[destination.address] = merged.get(destination.address, 0) + destination.amount_atomic
        return merged

    @property
    def notes(self) -> tuple[str, ...]:
        """Sentences for the order's history: what each destination gets, and what was dropped."""
        sent = ", ".join(str(d) for d in self.destinations)
        summary = f"{self.outcome.capitalize()} of {self.received_atomic} piconero received: {sent}; "
        summary += f"network fee {self.network_fee_atomic} piconero."
        return (summary, *(d.reason for d in self.dropped))

    def with_network_fee(self, network_fee_atomic: int) -> PayoutPlan:
        """The same payout planned for another network fee (the one the last build showed)."""
        return plan_payout(
            self.terms,
            self.outcome,
            received_atomic=self.received_atomic,
            buyer_share_atomic=self.buyer_share_atomic,
            network_fee_atomic=network_fee_atomic,
        )


def plan_payout(
    terms: PayoutTerms,
    outcome: Outcome,
    *,
    received_atomic: int,
    network_fee_atomic: int,
    buyer_share_atomic: int | None = None,
) -> PayoutPlan:
    """The destinations and amounts of a payout of ``received_atomic`` paying ``network_fee_atomic``.

    For a payout to one destination the wallet's ``sweep_all`` chooses the fee: plan with the fee
    it showed to know the one amount to expect. For several: plan with an upper bound of the fee
    (the first build must leave change), build, then ``with_network_fee(fee that build showed)``
    and build again; repeat, with a cap, while the fee moves.
    """
    parts = payout_parts(terms, outcome, received_atomic=received_atomic, buyer_share_atomic=buyer_share_atomic)
    _require_int(network_fee_atomic, "network_fee_atomic", least=0)
    if network_fee_atomic >= received_atomic:
        raise MoneyError(
            f"network_fee_atomic ({network_fee_atomic}) leaves nothing to pay out of received_atomic "
            f"({received_atomic}).",
            name="network_fee_atomic",
        )
    destinations, dropped = _share_network_fee(terms, parts, network_fee_atomic)
    return PayoutPlan(
        terms=terms,
        outcome=Outcome(outcome),
        received_atomic=received_atomic,
        buyer_share_atomic=buyer_share_atomic,
        parts=parts,
        network_fee_atomic=network_fee_atomic,
        destinations=destinations,
        dropped=dropped,
    )


def _share_network_fee(
    terms: PayoutTerms, parts: Parts, fee: int
) -> tuple[tuple[Destination, ...], tuple[DroppedDestination, ...]]:
    total = parts.total_atomic
    kept = {role: parts.of(role) for role in ROLE_ORDER if parts.of(role) > 0}
    dropped: list[DroppedDestination] = []
    while True:
        largest = _largest(list(kept.items()))
        shares = {role: fee * part // total for role, part in kept.items() if role is not largest}
        shares[largest] = fee - sum(shares.values())
        # The exact share part·F/E would leave less than one piconero: part − part·F/E < 1.
        too_small = [role for role, part in kept.items() if role is not largest and part * (total - fee) < total]
        why = f"would not cover its share of the network fee of {fee} piconero with a piconero left"
        if not too_small and kept[largest] - shares[largest] < 1:
            # Only when E − F < 9 (3 destinations squared): the rest of the fee leaves the largest nothing.
            too_small = [min((role for role in kept if role is not largest), key=lambda r: (kept[r], -_RANK[r]))]
            why = f"is dropped: the rest of the network fee of {fee} piconero would leave the {_label(largest)} nothing"
        if not too_small:
            break
        for role in too_small:
            part = kept.pop(role)
            kept[largest] += part
            reason = f"The {_label(role)}'s part of {part} piconero {why}; it goes to the {_label(largest)}."
            dropped.append(DroppedDestination(role, _address(terms, role), part, given_to=largest, reason=reason))
    destinations = tuple(
        Destination(
            role=role,
            address=_address(terms, role),
            part_atomic=kept[role],
            network_fee_share_atomic=shares[role],
            amount_atomic=kept[role] - shares[role],
        )
        for role in ROLE_ORDER
        if role in kept
    )
    return destinations, tuple(dropped)


def _largest(parts: list[tuple[Role, int]]) -> Role:
    """The role with the largest part; ties go to the first in ``ROLE_ORDER``."""
    return max(parts, key=lambda item: (item[1], -_RANK[item[0]]))[0]


def _address(terms: PayoutTerms, role: Role) -> str:
    address = terms.address_of(role)
    if address is None:  # a fee part is zero without a fee address, so it is never a destination
        raise MoneyError("There is no fee address to pay the marketplace fee to.", name="fee_address")
    return address


def _label(role: Role) -> str:
    return {Role.BUYER: "buyer", Role.VENDOR: "vendor", Role.MARKETPLACE_FEE: "marketplace fee"}[role]


def _require_int(value: object, name: str, *, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MoneyError(f"{name} must be a whole number, not {value!r}.", name=name)
    if value < least:
        raise MoneyError(f"{name} must be at least {least}, not {_show(value)}.", name=name)


def _show(value: int) -> str:
    """``value`` as text, or its size when it is too long to show (or for ``str`` to convert)."""
    return str(value) if value.bit_length() < 200 else f"a number of about {int(value.bit_length() * 0.30103)} digits"
