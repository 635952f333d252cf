"""The 2-of-3 multisig protocol over three ``Signer`` objects: setup, one payout attempt, submit.

Setup (``set_up``): every party begins (new wallet, multisig enabled), then key-exchange rounds
run until every wallet says it is ready (2-of-3 in 0.18.0.0: ``make_multisig`` and two exchange
rounds; the loop does not assume the count), and the three addresses must be one. Setup is never
resumed: if it did not finish (a crash, an error), the caller starts over with the next attempt's
wallet names (``EscrowWallet.for_attempt(escrow_id, attempt + 1)``); no address was shown yet, so
nothing is lost, and the unfinished wallets stay on disk, unused.

A payout attempt (``attempt_payout``), by two signers:

1. a fresh exchange between them (each exports, stored right after; each imports the other's;
   ``multisig_import_needed`` checked): made after every payment to spend is mined, because the
   proposal can only spend outputs both sides exchanged info about;
2. one proposal by the proposer spending every output the escrow holds (``PayoutPlan``);
3. the co-signer's own ``describe`` of the txset, checked against the plan (``check_proposal``):
   each destination and amount, ``amount_in`` equal to what the escrow holds, change 0 (or to the
   escrow's own address), ``unlock_time`` 0, network fee at most the plan's maximum. A mismatch is
   refused with its typed ``PayoutRefused`` error and the txset is never signed;
4. the co-signer signs (stored right after). No export by the co-signer happens in between.

The signed payout (txset, txids, key images) goes back to the caller, who saves it BEFORE calling
``submit``: a retry is a new attempt (new exchange, new proposal), and since every attempt spends
every output, at most one attempt can ever be mined; the key images tell which one did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

from marketplace.escrow.signer import (
    EscrowWallet,
    PayoutPlan,
    SetupFailed,
    SignedPayout,
    Signer,
    SignerError,
    TxDescription,
)

T = TypeVar("T")
R = TypeVar("R")

MAX_SETUP_ROUNDS = 6


class PayoutRefused(SignerError):
    """The co-signer refused a proposal: it does not pay what the plan says. Permanent for that
    txset (it is never signed); a new attempt builds a new one."""

    transient = False


class DestinationMismatch(PayoutRefused):
    """A recipient or an amount differs from the plan's destinations."""


class AmountInMismatch(PayoutRefused):
    """The proposal does not spend exactly what the escrow holds (``sweep_all`` skips outputs
    mined after the last exchange or not yet unlocked)."""


class ChangeNotAllowed(PayoutRefused):
    """The proposal leaves change, or sends it somewhere other than the escrow's own address."""


class UnlockTimeSet(PayoutRefused):
    """The proposal's outputs would be locked (``unlock_time`` not 0)."""


class FeeTooHigh(PayoutRefused):
    """The network fee is above the maximum allowed."""


class SubmittedOtherTransaction(SignerError):
    """``submit`` answered txids other than the signed payout's."""


def _parallel(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``function`` over ``items`` at once (one thread each: the signers are separate processes)."""
    if len(items) == 1:
        return [function(items[0])]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(function, items))


def set_up(escrow: EscrowWallet, signers: Sequence[Signer]) -> str:
    """Create ``escrow``'s three multisig wallets and return the address all three report.

    Raises ``SetupFailed`` when the wallets disagree or never get ready, or the signers' errors
    (``RpcError``, ``SignerError``): either way, retry with the next attempt's wallet names.
    """
    if len(signers) != 3 or len({signer.role for signer in signers}) != 3:
        raise ValueError("A 2-of-3 escrow needs one signer of each role.")
    infos = _parallel(lambda signer: signer.begin_setup(escrow), signers)
    for round_index in range(MAX_SETUP_ROUNDS):
        previous = infos
        steps = _parallel(lambda signer: signer.setup_round(escrow, round_index, previous), signers)  # noqa: B023
        if all(step.ready for step in steps):
            addresses = {step.address for step in steps}
            address = addresses.pop()
            if addresses or not address:
                raise SetupFailed(
                    "The three multisig wallets report different addresses.", wallet_name=escrow.wallet_name
                )
            return address
        if any(step.ready for step in steps):
            raise SetupFailed(
                "Some multisig wallets are ready and others are not after the same round.",
                wallet_name=escrow.wallet_name,
            )
        infos = [step.info for step in steps]
    raise SetupFailed(f"The key exchange did not finish in {MAX_SETUP_ROUNDS} rounds.", wallet_name=escrow.wallet_name)


def exchange(escrow: EscrowWallet, first: Signer, second: Signer) -> None:
    """A fresh multisig exchange between two signers: both export (stored), both import the other's."""
    first_info, second_info = _parallel(lambda signer: signer.export_info(escrow), [first, second])
    _parallel(
        lambda pair: pair[0].import_info(escrow, [pair[1]]),
        [(first, second_info), (second, first_info)],
    )


def check_proposal(description: TxDescription, plan: PayoutPlan) -> None:
    """The co-signer's check of what it would sign against the plan; raises a ``PayoutRefused``."""
    if description.unlock_time != 0:
        raise UnlockTimeSet(f"The payout would be locked (unlock_time {description.unlock_time}).")
    if description.fee_atomic > plan.max_fee_atomic:
        raise FeeTooHigh(
            f"The network fee {description.fee_atomic} is above the maximum {plan.max_fee_atomic} piconero."
        )
    if description.amount_in_atomic != plan.held_atomic:
        raise AmountInMismatch(
            f"The payout spends {description.amount_in_atomic} piconero; the escrow holds {plan.held_atomic}."
        )
    if description.change_atomic != 0:
        raise ChangeNotAllowed(f"The payout leaves {description.change_atomic} piconero of change.")
    if description.change_address not in {"", plan.escrow_address}:
        raise ChangeNotAllowed("The payout's change goes to an address other than the escrow's.")
    expected: Counter[str] = Counter()
    for destination in plan.destinations_for_fee(description.fee_atomic):
        if destination.amount_atomic > 0:
            expected[destination.address] += destination.amount_atomic
    described: Counter[str] = Counter()
    for recipient in description.recipients:
        described[recipient.address] += recipient.amount_atomic
    if +described != +expected:
        raise DestinationMismatch("The payout's recipients or amounts differ from the order's.")
    total = description.amount_in_atomic - description.fee_atomic - description.change_atomic
    if sum(described.values()) != total:
        raise DestinationMismatch("The payout's outputs do not add up to what it spends.")


def attempt_payout(escrow: EscrowWallet, proposer: Signer, cosigner: Signer, plan: PayoutPlan) -> SignedPayout:
    """One payout attempt (see the module docstring) → the fully signed payout, not yet submitted.

    Save the result (txset, txids, key images) before ``submit``. Raises ``PayoutRefused`` (the
    proposal did not match the plan: never signed), the signers' ``SignerError`` (``transient``
    ones such as ``FundsNotReady`` or ``FreshExchangeRequired`` are cured by a later attempt) and
    ``RpcError``.
    """
    if proposer.role == cosigner.role:
        raise ValueError("A payout needs two different signers.")
    exchange(escrow, proposer, cosigner)
    proposal = proposer.propose(escrow, plan)
    description = cosigner.describe(escrow, proposal.txset)
    check_proposal(description, plan)
    signed = cosigner.sign(escrow, proposal)
    if not signed.txids:
        raise SignerError("The co-signer's signature did not complete the transaction.", role=cosigner.role)
    return replace(signed, destinations=description.recipients, fee_atomic=description.fee_atomic)


def submit(escrow: EscrowWallet, signer: Signer, payout: SignedPayout) -> tuple[str, ...]:
    """Hand a saved, fully signed payout to the daemon through ``signer`` (either signer can; doing
    it twice is harmless) → its txids, checked against the saved ones."""
    txids = signer.submit(escrow, payout.tx_data_hex)
    if set(txids) != set(payout.txids):
        raise SubmittedOtherTransaction("The daemon was handed a transaction other than the saved payout.")
    return txids
