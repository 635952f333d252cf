"""The money rules of a payout (``marketplace.escrow.money``): the worked example of docs/escrow.md,
the formula's properties over every outcome, and its edges.

Addresses here are labels: the money rules never look inside them (they are validated when the
order is placed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.escrow.money import (
    BASIS_POINTS,
    ROLE_ORDER,
    MoneyError,
    OrderTotalTooHigh,
    Outcome,
    Parts,
    PayoutPlan,
    PayoutTerms,
    Role,
    order_total,
    payout_parts,
    plan_payout,
)
from marketplace.monero.amounts import MAX_PRICE_ATOMIC, PICONERO_PER_XMR

DOC = Path(__file__).resolve().parents[2] / "docs" / "escrow.md"
XMR = PICONERO_PER_XMR
BUYER, VENDOR, FEE = "buyer-refund-address", "vendor-payout-address", "marketplace-fee-address"


def terms(due: int, *, rate: int = 150, fee_address: str | None = FEE) -> PayoutTerms:
    return PayoutTerms(
        due_atomic=due, fee_basis_points=rate, buyer_address=BUYER, vendor_address=VENDOR, fee_address=fee_address
    )


def worked_example() -> dict[str, int]:
    """The rows of the worked example's table in docs/escrow.md: step → piconero."""
    section = DOC.read_text(encoding="utf-8").split("### Worked example", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+?) \| [^|]* \| `([0-9_]+)` \|$", section, flags=re.MULTILINE)
    return {step: int(value.replace("_", "")) for step, value in rows}


def test_the_worked_example_of_the_docs_is_what_the_code_pays() -> None:
    doc = worked_example()
    plan = plan_payout(
        terms(doc["due D"], rate=doc["fee rate"]),
        Outcome.SPLIT,
        received_atomic=doc["received E"],
        buyer_share_atomic=doc["buyer share"],
        network_fee_atomic=doc["network fee F"],
    )
    buyer, vendor, fee = plan.destinations
    computed = {
        "due D": plan.terms.due_atomic,
        "received E": plan.received_atomic,
        "fee rate": plan.terms.fee_basis_points,
        "buyer share": plan.buyer_share_atomic,
        "network fee F": plan.network_fee_atomic,
        "buyer part": plan.parts.buyer_atomic,
        "vendor part before the marketplace fee": plan.parts.vendor_atomic + plan.parts.marketplace_fee_atomic,
        "marketplace fee": plan.parts.marketplace_fee_atomic,
        "vendor part": plan.parts.vendor_atomic,
        "parts together": plan.parts.total_atomic,
        "buyer's share of F": buyer.network_fee_share_atomic,
        "marketplace fee's share of F": fee.network_fee_share_atomic,
        "vendor's share of F": vendor.network_fee_share_atomic,
        "sent to the buyer": buyer.amount_atomic,
        "sent to the vendor": vendor.amount_atomic,
        "sent to the fee address": fee.amount_atomic,
        "sent + F": plan.sent_atomic + plan.network_fee_atomic,
    }
    assert doc == computed
    # The example is the one the docs describe in words.
    assert (doc["due D"], doc["received E"], doc["buyer share"]) == (5 * XMR // 4, 13 * XMR // 10, XMR // 4)
    assert [(d.role, d.address) for d in plan.destinations] == [
        (Role.BUYER, BUYER),
        (Role.VENDOR, VENDOR),
        (Role.MARKETPLACE_FEE, FEE),
    ]
    assert plan.dropped == ()
    assert plan.remainder_holder is Role.VENDOR


def test_the_drop_example_of_the_docs() -> None:
    """docs/escrow.md: 1.000000000001 XMR received for 1 XMR due; the buyer's 1 piconero goes to the vendor."""
    plan = plan_payout(terms(XMR), Outcome.RELEASE, received_atomic=XMR + 1, network_fee_atomic=30_720_000)

    assert [d.role for d in plan.destinations] == [Role.VENDOR, Role.MARKETPLACE_FEE]
    assert plan.amount_to(Role.BUYER) == 0
    (dropped,) = plan.dropped
    assert (dropped.role, dropped.address, dropped.part_atomic, dropped.given_to) == (Role.BUYER, BUYER, 1, Role.VENDOR)
    assert dropped.reason in plan.notes
    assert "buyer's part of 1 piconero" in dropped.reason
    assert plan.destinations[0].part_atomic == plan.parts.vendor_atomic + 1
    assert plan.sent_atomic + plan.network_fee_atomic == XMR + 1


# --- properties -------------------------------------------------------------------------------

AMOUNT = st.one_of(st.integers(1, 40), st.integers(1, 10**19))


@st.composite
def payouts(draw: st.DrawFn) -> tuple[PayoutTerms, Outcome, int, int | None, int]:
    """Terms, an outcome, E, a buyer share (splits) and a network fee F < E: any that the rules accept."""
    due = draw(AMOUNT)
    rate = draw(st.one_of(st.sampled_from([0, 1, 150, 9_999, BASIS_POINTS]), st.integers(0, BASIS_POINTS)))
    fee_address = draw(st.sampled_from([FEE, None]))
    outcome = draw(st.sampled_from(Outcome))
    overpaid = draw(st.one_of(st.just(0), AMOUNT))
    received = due + overpaid  # a release or a split comes from funded: E ≥ D
    if outcome is Outcome.REFUND:
        received = draw(st.one_of(AMOUNT, st.just(received)))
    share = draw(st.one_of(st.just(0), st.just(due), st.integers(0, due))) if outcome is Outcome.SPLIT else None
    fee = draw(st.one_of(st.integers(0, min(received - 1, 40)), st.integers(0, received - 1)))
    return terms(due, rate=rate, fee_address=fee_address), outcome, received, share, fee


def formula(terms: PayoutTerms, outcome: Outcome, received: int, share: int | None) -> tuple[int, int]:
    """The buyer part and the vendor part before the marketplace fee, written from the issue's text."""
    due = terms.due_atomic
    if outcome is Outcome.RELEASE:
        return received - due, due
    if outcome is Outcome.REFUND:
        return received, 0
    assert share is not None
    return share + (received - due), due - share


def largest(parts: Parts) -> Role:
    positive = [role for role in ROLE_ORDER if parts.of(role) > 0]
    best = max(parts.of(role) for role in positive)
    return next(role for role in positive if parts.of(role) == best)  # ties: buyer, vendor, fee


@settings(derandomize=True, deadline=None, max_examples=1500)
@given(payouts())
def test_every_payout_pays_out_exactly_what_was_received_by_the_formula(
    case: tuple[PayoutTerms, Outcome, int, int | None, int],
) -> None:
    terms_, outcome, received, share, fee = case
    plan = plan_payout(terms_, outcome, received_atomic=received, buyer_share_atomic=share, network_fee_atomic=fee)

    # Conservation: nothing stays in the escrow, nothing is invented.
    assert plan.sent_atomic + plan.network_fee_atomic == received
    assert sum(plan.amounts_by_address().values()) == plan.sent_atomic
    # Every destination receives something; zero parts are no destination; order and roles fixed.
    assert all(d.amount_atomic >= 1 and d.network_fee_share_atomic >= 0 for d in plan.destinations)
    assert all(d.amount_atomic == d.part_atomic - d.network_fee_share_atomic for d in plan.destinations)
    roles = [d.role for d in plan.destinations]
    assert roles == [role for role in ROLE_ORDER if role in roles]
    assert {d.role for d in plan.dropped} | set(roles) == {r for r in ROLE_ORDER if plan.parts.of(r) > 0}
    assert sum(d.network_fee_share_atomic for d in plan.destinations) == fee

    # The parts are the formula's, and the marketplace fee is taken from the vendor's part only.
    buyer_part, vendor_gross = formula(terms_, outcome, received, share)
    rate = terms_.fee_basis_points if terms_.fee_address is not None else 0
    assert plan.parts.buyer_atomic == buyer_part
    assert plan.parts.vendor_atomic + plan.parts.marketplace_fee_atomic == vendor_gross
    assert plan.parts.marketplace_fee_atomic == vendor_gross * rate // BASIS_POINTS
    assert plan.parts.total_atomic == received

    # The network fee is shared in proportion: within one piconero of the exact share, except for
    # the largest part, which pays the rest (less than one piconero per other destination more).
    holder = plan.remainder_holder
    assert holder is largest(plan.parts)
    for d in plan.destinations:
        excess = d.network_fee_share_atomic * received - fee * d.part_atomic  # share − exact, times E
        if d.role is holder:
            assert 0 <= excess <= max(0, (len(plan.destinations) - 1) * received - 1)
        else:
            assert 0 <= -excess < received

    # Dropping: the dropped parts went to the largest; whoever stayed (besides the largest) could
    # pay its exact share with a piconero left, and a part dropped for its size could not.
    assert all(d.given_to is holder for d in plan.dropped)
    kept = {d.role: d for d in plan.destinations}
    assert kept[holder].part_atomic == plan.parts.of(holder) + sum(d.part_atomic for d in plan.dropped)
    for role, d in kept.items():
        assert role is holder or d.part_atomic == plan.parts.of(role)
        assert role is holder or d.part_atomic * (received - fee) >= received
    for dropped in plan.dropped:
        assert dropped.part_atomic == plan.parts.of(dropped.role)
        if "would not cover" in dropped.reason:
            assert dropped.part_atomic * (received - fee) < received
        else:  # the largest would have been left nothing: only a payout of a few piconero
            assert received - fee < len(ROLE_ORDER) ** 2
    assert plan.notes[1:] == tuple(d.reason for d in plan.dropped)

    # The next build's plan is the same function with the new fee.
    assert plan.with_network_fee(0) == plan_payout(
        terms_, outcome, received_atomic=received, buyer_share_atomic=share, network_fee_atomic=0
    )


# --- edges ------------------------------------------------------------------------------------


def test_a_fee_rate_of_zero_pays_the_vendor_everything_due_and_the_marketplace_nothing() -> None:
    plan = plan_payout(terms(XMR, rate=0), Outcome.RELEASE, received_atomic=XMR, network_fee_atomic=1_000)
    assert [(d.role, d.amount_atomic) for d in plan.destinations] == [(Role.VENDOR, XMR - 1_000)]
    assert plan.parts == Parts(buyer_atomic=0, vendor_atomic=XMR, marketplace_fee_atomic=0)


def test_without_a_fee_address_there_is_no_marketplace_fee_whatever_the_rate() -> None:
    plan = plan_payout(terms(XMR, fee_address=None), Outcome.RELEASE, received_atomic=XMR, network_fee_atomic=0)
    assert [(d.role, d.address, d.amount_atomic) for d in plan.destinations] == [(Role.VENDOR, VENDOR, XMR)]


def test_a_release_of_exactly_the_amount_due_pays_the_vendor_and_the_fee_only() -> None:
    plan = plan_payout(terms(2 * XMR), Outcome.RELEASE, received_atomic=2 * XMR, network_fee_atomic=0)
    assert [(d.role, d.amount_atomic) for d in plan.destinations] == [
        (Role.VENDOR, 2 * XMR - 30_000_000_000),
        (Role.MARKETPLACE_FEE, 30_000_000_000),  # 1.5 % of 2 XMR
    ]


def test_an_overpayment_goes_back_to_the_buyer_in_the_same_payout_as_the_vendors_part() -> None:
    plan = plan_payout(terms(XMR, rate=0), Outcome.RELEASE, received_atomic=XMR + XMR // 2, network_fee_atomic=0)
    assert plan.amounts_by_address() == {BUYER: XMR // 2, VENDOR: XMR}


def test_a_split_with_share_zero_is_a_release_and_with_share_due_a_refund() -> None:
    received, network_fee = XMR + 7, 30_720_000
    for share, same_as in ((0, Outcome.RELEASE), (XMR, Outcome.REFUND)):
        split = plan_payout(
            terms(XMR),
            Outcome.SPLIT,
            received_atomic=received,
            buyer_share_atomic=share,
            network_fee_atomic=network_fee,
        )
        other = plan_payout(terms(XMR), same_as, received_atomic=received, network_fee_atomic=network_fee)
        assert split.destinations == other.destinations
        assert split.dropped == other.dropped
    refund = plan_payout(terms(XMR), Outcome.REFUND, received_atomic=received, network_fee_atomic=network_fee)
    assert [(d.role, d.amount_atomic) for d in refund.destinations] == [(Role.BUYER, received - network_fee)]


def test_an_underpaid_or_late_payment_goes_back_whole_to_the_buyer() -> None:
    for received in (1, XMR // 3, 5 * XMR):  # less than due, or a late payment larger than it
        plan = plan_payout(terms(XMR), Outcome.REFUND, received_atomic=received, network_fee_atomic=0)
        assert plan.amounts_by_address() == {BUYER: received}


def test_a_tiny_marketplace_fee_is_dropped_and_goes_to_the_largest_part() -> None:
    # A vendor part of 100 piconero: 1.5 % of it is 1 piconero, too small to pay its share of F.
    plan = plan_payout(terms(100), Outcome.RELEASE, received_atomic=150, network_fee_atomic=10)
    assert plan.parts == Parts(buyer_atomic=50, vendor_atomic=99, marketplace_fee_atomic=1)
    assert [(d.role, d.part_atomic, d.amount_atomic) for d in plan.destinations] == [
        (Role.BUYER, 50, 47),  # pays floor(10 × 50 / 150) = 3
        (Role.VENDOR, 100, 93),  # 99 + the dropped 1, pays the rest: 7
    ]
    assert [(d.role, d.given_to) for d in plan.dropped] == [(Role.MARKETPLACE_FEE, Role.VENDOR)]


def test_when_the_rest_of_the_fee_would_leave_the_largest_nothing_the_smallest_other_part_goes() -> None:
    # Parts 2, 2, 2 of 6 piconero and a fee of 2: the buyer (first of the tied largest) would pay all
    # of it and keep nothing; the marketplace fee (last of the tied smallest) is dropped.
    plan = plan_payout(terms(4, rate=5_000), Outcome.RELEASE, received_atomic=6, network_fee_atomic=2)
    assert plan.parts == Parts(buyer_atomic=2, vendor_atomic=2, marketplace_fee_atomic=2)
    assert [(d.role, d.amount_atomic) for d in plan.destinations] == [(Role.BUYER, 2), (Role.VENDOR, 2)]
    assert [(d.role, d.given_to) for d in plan.dropped] == [(Role.MARKETPLACE_FEE, Role.BUYER)]
    assert "would leave the buyer nothing" in plan.dropped[0].reason


def test_ties_for_the_largest_part_go_to_the_buyer_then_the_vendor() -> None:
    tied = plan_payout(terms(XMR, rate=0), Outcome.RELEASE, received_atomic=2 * XMR, network_fee_atomic=3)
    assert tied.remainder_holder is Role.BUYER
    assert [d.network_fee_share_atomic for d in tied.destinations] == [2, 1]
    fee_tied = plan_payout(terms(2, rate=5_000), Outcome.RELEASE, received_atomic=2, network_fee_atomic=0)
    assert fee_tied.parts == Parts(buyer_atomic=0, vendor_atomic=1, marketplace_fee_atomic=1)
    assert fee_tied.remainder_holder is Role.VENDOR


def test_the_second_build_is_planned_with_the_fee_the_first_one_showed() -> None:
    first = plan_payout(
        terms(5 * XMR // 4), Outcome.SPLIT, received_atomic=13 * XMR // 10, buyer_share_atomic=XMR // 4,
        network_fee_atomic=10**9,  # an upper bound: the first build must leave change
    )  # fmt: skip
    second = first.with_network_fee(30_720_000)
    assert second.sent_atomic == 13 * XMR // 10 - 30_720_000
    assert second.amount_to(Role.VENDOR) == worked_example()["sent to the vendor"]
    assert second.parts == first.parts


@pytest.mark.parametrize(
    ("case", "name"),
    [
        ((Outcome.RELEASE, -1, None, 0, 150), "received_atomic"),
        ((Outcome.REFUND, 0, None, 0, 150), "received_atomic"),
        ((Outcome.RELEASE, XMR - 1, None, 0, 150), "received_atomic"),  # a release needs E ≥ D
        ((Outcome.SPLIT, XMR - 1, 0, 0, 150), "received_atomic"),
        ((Outcome.SPLIT, XMR, None, 0, 150), "buyer_share_atomic"),
        ((Outcome.SPLIT, XMR, -1, 0, 150), "buyer_share_atomic"),
        ((Outcome.SPLIT, 2 * XMR, XMR + 1, 0, 150), "buyer_share_atomic"),
        ((Outcome.RELEASE, XMR, 0, 0, 150), "buyer_share_atomic"),
        ((Outcome.RELEASE, XMR, None, -1, 150), "network_fee_atomic"),
        ((Outcome.RELEASE, XMR, None, XMR, 150), "network_fee_atomic"),  # E ≤ F: nothing to send
        ((Outcome.REFUND, 5, None, 9, 150), "network_fee_atomic"),
        ((Outcome.RELEASE, XMR, None, 0, -1), "fee_basis_points"),
        ((Outcome.RELEASE, XMR, None, 0, BASIS_POINTS + 1), "fee_basis_points"),
        ((Outcome.RELEASE, 1.5e12, None, 0, 150), "received_atomic"),
        ((Outcome.RELEASE, XMR, None, 0.0, 150), "network_fee_atomic"),
        ((Outcome.RELEASE, True, None, 0, 150), "received_atomic"),
    ],
)
def test_amounts_outside_the_rules_are_refused_naming_the_value(
    case: tuple[Outcome, int, int | None, int, int], name: str
) -> None:
    outcome, received, share, network_fee, rate = case
    with pytest.raises(MoneyError) as refused:
        plan_payout(
            terms(XMR, rate=rate),
            outcome,
            received_atomic=received,
            buyer_share_atomic=share,
            network_fee_atomic=network_fee,
        )
    assert isinstance(refused.value, ValueError)
    assert refused.value.name == name
    assert name in str(refused.value)


def test_terms_without_a_due_amount_or_an_address_are_refused() -> None:
    for bad, name in (
        ({"due_atomic": 0}, "due_atomic"),
        ({"buyer_address": ""}, "buyer_address"),
        ({"vendor_address": None}, "vendor_address"),
        ({"fee_address": ""}, "fee_address"),
    ):
        fields = {"due_atomic": XMR, "fee_basis_points": 150, "buyer_address": BUYER, "vendor_address": VENDOR}
        with pytest.raises(MoneyError) as refused:
            PayoutTerms(**{**fields, "fee_address": FEE, **bad})  # type: ignore[arg-type]
        assert refused.value.name == name


def test_parts_alone_are_the_formula_before_the_network_fee() -> None:
    parts = payout_parts(terms(XMR), Outcome.RELEASE, received_atomic=XMR)
    assert parts == Parts(buyer_atomic=0, vendor_atomic=XMR - 15_000_000_000, marketplace_fee_atomic=15_000_000_000)


# --- order totals -----------------------------------------------------------------------------


def test_an_order_total_is_the_exact_product_up_to_the_cap() -> None:
    assert order_total(333_333_333_333, 3, max_total=MAX_PRICE_ATOMIC) == 999_999_999_999
    assert order_total(MAX_PRICE_ATOMIC // 7, 7, max_total=MAX_PRICE_ATOMIC) == MAX_PRICE_ATOMIC // 7 * 7
    assert order_total(XMR, 1_000_000, max_total=MAX_PRICE_ATOMIC) == MAX_PRICE_ATOMIC


@pytest.mark.parametrize("quantity", [1_000_001, 10**40, 2**63])
def test_an_order_total_above_the_cap_is_refused_with_the_largest_quantity_allowed(quantity: int) -> None:
    with pytest.raises(OrderTotalTooHigh) as refused:
        order_total(XMR, quantity, max_total=MAX_PRICE_ATOMIC)
    assert refused.value.name == "quantity"
    assert refused.value.max_quantity == 1_000_000
    assert str(refused.value) == (
        "The total would be more than 1000000.0 XMR: at most 1000000 can be ordered at 1.0 XMR each."
    )


@pytest.mark.parametrize(
    ("price", "quantity", "name"),
    [(0, 1, "price_atomic"), (XMR, 0, "quantity"), (XMR, -(10**5000), "quantity")],
    ids=["no price", "no quantity", "a negative quantity of 5000 digits"],
)
def test_an_order_total_of_nothing_is_refused(price: int, quantity: int, name: str) -> None:
    with pytest.raises(MoneyError) as refused:
        order_total(price, quantity, max_total=MAX_PRICE_ATOMIC)
    assert refused.value.name == name


def test_a_plan_is_frozen() -> None:
    plan = plan_payout(terms(XMR), Outcome.REFUND, received_atomic=XMR, network_fee_atomic=0)
    assert isinstance(plan, PayoutPlan)
    with pytest.raises(AttributeError):
        plan.network_fee_atomic = 0  # type: ignore[misc]
