"""What a party of an escrow does, whoever holds its key: the ``Signer`` interface and its data.

Three parties (buyer, vendor, arbiter) each hold one share of an escrow's 2-of-3 multisig. The
protocol (``escrow.multisig``) drives three ``Signer`` objects and never asks who holds a key: the
marketplace's own wallet-rpc endpoints (``escrow.wallet_signer``), an in-memory fake for fast tests
(``escrow.fake_signer``) and, later, an external signer (a buyer signing from their own wallet,
answering each step through the API) all present the same steps:

- setup: ``begin_setup`` (a new wallet, multisig enabled → the first multisig info), then
  ``setup_round`` once per key-exchange round (→ the next info; the address once the wallet
  says it is ready);
- exchange, before every payout attempt: ``export_info`` (the wallet is stored right after, so
  the nonces it made are on disk) and ``import_info`` of the other signer's info (checked:
  ``multisig_import_needed`` is false afterwards);
- payout: ``propose`` (one proposal spending every output the escrow holds), ``describe``
  (what signing would sign), ``sign`` (stored right after), ``submit``;
- payment detection: ``incoming`` (the escrow's incoming transfers, raw; ``escrow.payments``
  decides what counts).

Amounts are integer piconero. Every error carries ``transient``: a transient one is cured by
waiting or by a new attempt (a new exchange and a new proposal), a permanent one by a person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from marketplace.settings import SignerRole

__all__ = [
    "Destination",
    "EndpointUnavailable",
    "EscrowWallet",
    "FreshExchangeRequired",
    "FundsNotReady",
    "ImportIncomplete",
    "Incoming",
    "IncomingTransfer",
    "PayoutPlan",
    "Proposal",
    "ProposalNotExact",
    "SetupFailed",
    "SetupStep",
    "SignedPayout",
    "Signer",
    "SignerError",
    "SignerRole",
    "TxDescription",
    "wallet_name",
]


@dataclass(frozen=True)
class EscrowWallet:
    """One escrow's multisig wallets: the same ``wallet_name`` in each role's wallet directory.

    The name carries the setup attempt (``escrow-<escrow id>-<attempt>``, see ``wallet_name``):
    a setup that did not finish is never resumed, the next attempt starts over with new wallets.
    """

    escrow_id: str
    wallet_name: str

    @classmethod
    def for_attempt(cls, escrow_id: str, attempt: int) -> EscrowWallet:
        return cls(escrow_id=escrow_id, wallet_name=wallet_name(escrow_id, attempt))


def wallet_name(escrow_id: str, attempt: int) -> str:
    """``escrow-<escrow id>-<attempt>``: a file name, so the id is limited to ``[A-Za-z0-9_-]``."""
    if not escrow_id or not all(char.isascii() and (char.isalnum() or char in "-_") for char in escrow_id):
        raise ValueError("An escrow id in a wallet name holds only ASCII letters, digits, '-' and '_'.")
    if attempt < 1:
        raise ValueError("Setup attempts are counted from 1.")
    return f"escrow-{escrow_id}-{attempt}"


@dataclass(frozen=True)
class Destination:
    address: str
    amount_atomic: int


@dataclass(frozen=True)
class SetupStep:
    """What one setup step returns: the info to hand the other parties, and the address once ready."""

    info: str
    ready: bool = False
    address: str | None = None


@dataclass(frozen=True)
class PayoutPlan:
    """What a payout must be, decided by the order (the money rules), checked by the co-signer.

    ``held_atomic``: what the escrow holds (every output; the proposal must spend exactly this).
    ``destinations_for_fee(fee)``: the exact destinations once the network fee is known (the
    money rules share the fee among them; one destination gets ``held - fee``).
    ``escrow_address``: the only place change may go (and it must be 0 anyway).
    """

    held_atomic: int
    max_fee_atomic: int
    escrow_address: str
    destinations_for_fee: Callable[[int], Sequence[Destination]]


@dataclass(frozen=True)
class Proposal:
    """An unsigned (proposer-signed) multisig transaction set, as the proposer built it."""

    txset: str
    fee_atomic: int
    amount_in_atomic: int | None
    spent_key_images: tuple[str, ...]
    destinations: tuple[Destination, ...]


@dataclass(frozen=True)
class TxDescription:
    """``describe_transfer`` of a txset: what ``sign`` would sign (recipients merged per address)."""

    amount_in_atomic: int
    fee_atomic: int
    recipients: tuple[Destination, ...]
    change_atomic: int
    change_address: str
    unlock_time: int
    transactions: int = 1


@dataclass(frozen=True)
class SignedPayout:
    """A fully signed payout: save all of it before submitting (the key images tell, later, whether it won).

    ``destinations`` and ``fee_atomic`` are what the co-signer checked it pays (for the history).
    """

    tx_data_hex: str
    txids: tuple[str, ...]
    key_images: tuple[str, ...]
    destinations: tuple[Destination, ...] = ()
    fee_atomic: int = 0


@dataclass(frozen=True)
class IncomingTransfer:
    """One incoming transfer the escrow's wallet knows of (``get_transfers`` in/pool), uninterpreted."""

    txid: str
    amount_atomic: int
    confirmations: int
    height: int
    unlock_time: int
    in_pool: bool
    coinbase: bool


@dataclass(frozen=True)
class Incoming:
    """The escrow wallet's view at one moment: its transfers and the chain height it had synced to."""

    wallet_height: int
    transfers: tuple[IncomingTransfer, ...] = field(default_factory=tuple)


class SignerError(Exception):
    """A signer step refused or failed; ``transient`` says whether a later attempt may succeed."""

    transient = False

    def __init__(self, message: str, *, role: str | None = None, wallet_name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.role = role
        self.wallet_name = wallet_name


class FreshExchangeRequired(SignerError):
    """The wallet may hold used nonces (restarted uncleanly, reopened unvouched, or already signed
    since its last export): it signs and proposes nothing until it has exported fresh info."""

    transient = True


class ImportIncomplete(SignerError):
    """After ``import_info`` the wallet still says ``multisig_import_needed``: exchange again."""

    transient = True


class FundsNotReady(SignerError):
    """What the escrow holds is not (yet) spendable as planned: unconfirmed, locked (10 blocks),
    or different from the plan (a payment arrived since): wait, or plan again."""

    transient = True

    def __init__(self, message: str, *, held_atomic: int, unlocked_atomic: int, **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.held_atomic = held_atomic
        self.unlocked_atomic = unlocked_atomic


class ProposalNotExact(SignerError):
    """The builds did not converge to a proposal that leaves no change (the fee kept moving)."""

    transient = True


class SetupFailed(SignerError):
    """Multisig setup did not reach one verified address (start over with new wallets)."""

    transient = True


class EndpointUnavailable(SignerError):
    """No endpoint of the role can serve the escrow now (its pinned endpoint is down)."""

    transient = True


@runtime_checkable
class Signer(Protocol):
    """One party of an escrow (see the module docstring for the order of the steps)."""

    @property
    def role(self) -> SignerRole: ...

    def begin_setup(self, escrow: EscrowWallet) -> str:
        """Create the party's wallet for ``escrow`` and enable multisig → the first multisig info."""
        ...

    def setup_round(self, escrow: EscrowWallet, round_index: int, infos: Sequence[str]) -> SetupStep:
        """Key-exchange round ``round_index`` (0 is ``make_multisig``) with every party's info of the
        previous step → the next info, and ``ready``/``address`` once the wallet says it is ready."""
        ...

    def export_info(self, escrow: EscrowWallet) -> str:
        """Refresh, export fresh multisig info (new nonces), store the wallet → the info."""
        ...

    def import_info(self, escrow: EscrowWallet, infos: Sequence[str]) -> None:
        """Refresh, import the other signer's info; raise ``ImportIncomplete`` if still needed."""
        ...

    def propose(self, escrow: EscrowWallet, plan: PayoutPlan) -> Proposal:
        """One proposal spending every output the escrow holds, to ``plan``'s destinations."""
        ...

    def describe(self, escrow: EscrowWallet, txset: str) -> TxDescription: ...

    def sign(self, escrow: EscrowWallet, proposal: Proposal) -> SignedPayout:
        """Sign the proposal (the wallet is stored right after) → the fully signed payout."""
        ...

    def submit(self, escrow: EscrowWallet, tx_data_hex: str) -> tuple[str, ...]:
        """Hand a fully signed payout to the daemon → its txids (submitting twice is harmless)."""
        ...

    def incoming(self, escrow: EscrowWallet, *, chain_height: int | None = None) -> Incoming:
        """Refresh and list the escrow's incoming transfers (mined and in the pool).

        With ``chain_height`` (the daemon's height, read before): a copy left behind it after the
        refresh is rebuilt from the chain; ``SignerError`` if it stays behind."""
        ...

    def store(self, escrow: EscrowWallet) -> None:
        """Save the escrow's wallet to disk."""
        ...

    def release(self, escrow: EscrowWallet) -> None:
        """The escrow has no work for now: its wallet need not stay on the endpoint it is pinned to."""
        ...
