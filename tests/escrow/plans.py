"""Payout plans for the signer tests: the fee shared in proportion to the parts, the remainder to the
largest (the order's real money rules live in ``marketplace.escrow.money``)."""

from __future__ import annotations

from collections.abc import Sequence

from marketplace.escrow.signer import Destination, PayoutPlan

MAX_FEE = 10**10  # 0.01 XMR: far above a regtest fee


def plan(parts: Sequence[Destination], *, escrow_address: str, max_fee: int = MAX_FEE) -> PayoutPlan:
    """Pay ``parts`` (summing to what the escrow holds) less their share of the network fee."""
    held = sum(part.amount_atomic for part in parts)

    def destinations_for_fee(fee: int) -> list[Destination]:
        shares = [fee * part.amount_atomic // held for part in parts]
        largest = max(range(len(parts)), key=lambda index: parts[index].amount_atomic)
        shares[largest] += fee - sum(shares)
        return [
            Destination(part.address, part.amount_atomic - share) for part, share in zip(parts, shares, strict=True)
        ]

    return PayoutPlan(
        held_atomic=held,
        max_fee_atomic=max_fee,
        escrow_address=escrow_address,
        destinations_for_fee=destinations_for_fee,
    )
