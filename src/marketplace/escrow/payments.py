"""Payment detection, behind its own interface (``PaymentDetector``).

For now (``WalletPaymentDetector``) through the escrow's own wallet: ``get_transfers {in, pool}``
of one signer's wallet. A later issue replaces it with block scanning by the shared view key
(MONERO-REGTEST.md, "Watching payments without opening wallets"), which opens no wallet at all.

What counts as received (``spendable_atomic``): a transfer of type ``in`` (not from the pool, not
a coinbase output) with ``unlock_time`` 0 and at least ``confirmations`` confirmations. Pool
transfers and shallower ones are reported as ``pending_atomic`` (shown to the buyer, never spent).
An output with an ``unlock_time`` or from a coinbase never counts.

Opening a wallet costs 1-3 s of CPU, so ``check`` answers ``None`` without touching any wallet
when the chain height has not moved since the caller's last check (``last_checked_height``); the
caller stores the returned ``height`` and passes it next time. Which escrows are still watched
(a cancelled or finished one only within the late-payment horizon) is the caller's rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from marketplace.escrow.signer import EscrowWallet, IncomingTransfer, Signer


@dataclass(frozen=True)
class Payment:
    txid: str
    amount_atomic: int
    confirmations: int
    in_pool: bool
    counts: bool  # counted in ``spendable_atomic`` (deep enough, plain, unlocked)


@dataclass(frozen=True)
class PaymentCheck:
    """What one check found: ``height`` (the chain height it was made at: pass it back next time)."""

    height: int
    spendable_atomic: int
    pending_atomic: int
    payments: tuple[Payment, ...]

    @property
    def confirmed_txids(self) -> tuple[str, ...]:
        return tuple(payment.txid for payment in self.payments if payment.counts)


class PaymentDetector(Protocol):
    def check(
        self, escrow: EscrowWallet, *, confirmations: int, last_checked_height: int | None
    ) -> PaymentCheck | None:
        """The escrow's payments, or ``None`` (nothing opened) if the chain has not moved since
        ``last_checked_height``."""
        ...


def _is_plain(transfer: IncomingTransfer) -> bool:
    return transfer.unlock_time == 0 and not transfer.coinbase


def summarize(transfers: tuple[IncomingTransfer, ...], *, height: int, confirmations: int) -> PaymentCheck:
    """The ``PaymentCheck`` of raw incoming transfers: the counting rules of the module docstring.

    A txid seen both in the pool and mined (the wallet lists a mined payment as ``pool`` until it
    refreshes) counts once, as mined.
    """
    if confirmations < 1:
        raise ValueError("A payment counts after at least one confirmation.")
    mined = {transfer.txid for transfer in transfers if not transfer.in_pool}
    payments = []
    spendable = pending = 0
    for transfer in transfers:
        if transfer.in_pool and transfer.txid in mined:
            continue
        counts = not transfer.in_pool and _is_plain(transfer) and transfer.confirmations >= confirmations
        if counts:
            spendable += transfer.amount_atomic
        elif _is_plain(transfer):
            pending += transfer.amount_atomic
        if transfer.coinbase:
            continue  # not a payment: never shown as one
        payments.append(
            Payment(
                txid=transfer.txid,
                amount_atomic=transfer.amount_atomic,
                confirmations=transfer.confirmations,
                in_pool=transfer.in_pool,
                counts=counts,
            )
        )
    return PaymentCheck(height=height, spendable_atomic=spendable, pending_atomic=pending, payments=tuple(payments))


class WalletPaymentDetector:
    """Detection through one signer's copy of the escrow wallet (``signer.incoming``).

    ``chain_height`` returns the daemon's current height (``DaemonRpc.get_height``): asking it
    costs no wallet open.
    """

    def __init__(self, signer: Signer, chain_height: Callable[[], int]) -> None:
        self._signer = signer
        self._chain_height = chain_height

    def check(
        self, escrow: EscrowWallet, *, confirmations: int, last_checked_height: int | None
    ) -> PaymentCheck | None:
        height = self._chain_height()
        if last_checked_height is not None and height == last_checked_height:
            return None
        incoming = self._signer.incoming(escrow, chain_height=height)
        return summarize(incoming.transfers, height=height, confirmations=confirmations)
