"""An in-memory ``Signer`` for fast tests of the state machine: no process, no chain, no wait.

``FakeNetwork`` is the chain, the pool and the escrows' outputs together; ``FakeSigner(role,
network)`` is one party. It keeps the rules that shape the real protocol, so a state machine tested
on it meets the same refusals as on regtest:

- setup takes ``make_multisig`` plus two rounds and gives the three parties one address;
- a proposal needs the proposer's fresh export (vouched nonces) and an exchange made after every
  payment was mined (else ``ImportIncomplete``), and outputs with 10 confirmations (else
  ``FundsNotReady``); it spends every output; its fee is ``network.fee_atomic``;
- a signature needs the co-signer's fresh export; after signing, or after ``crash()`` (an unclean
  restart), it signs nothing before a fresh export (``FreshExchangeRequired``);
- two payouts spending the same outputs cannot both be submitted (``TransactionRejected``);
  submitting the same one twice answers the same txids.

Deterministic: txids and addresses are hashes of what they describe. Tests set balances with
``network.pay``, move the chain with ``network.mine``, drop a submitted payout from the pool with
``network.drop``, make a step fail once with ``signer.fail_next(method, error)`` (``"probe"``
too) and make the next proposal lie with ``network.tamper``.

``fake_stack()`` is an ``EscrowStack`` over three fake signers, a ``FakeDaemon`` and a
``FakeBackup`` (which records what it backed up), for fast tests of the job handlers.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marketplace.escrow.payments import WalletPaymentDetector
from marketplace.escrow.signer import (
    Destination,
    EscrowWallet,
    FreshExchangeRequired,
    FundsNotReady,
    ImportIncomplete,
    Incoming,
    IncomingTransfer,
    PayoutPlan,
    Proposal,
    SetupStep,
    SignedPayout,
    SignerError,
    SignerRole,
    TxDescription,
)
from marketplace.escrow.stack import DETECTOR_ROLE, EscrowStack
from marketplace.escrow.wallet_signer import EndpointHealth
from marketplace.monero.rpc import DaemonInfo, DaemonTransaction
from marketplace.monero.rpc_errors import AlreadySigned, NotEnoughSigners, RpcError, TransactionRejected

UNLOCK_BLOCKS = 10
SETUP_ROUNDS = 3  # make_multisig and two exchange rounds, as 0.18.0.0 for 2-of-3


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(part) for part in parts).encode()).hexdigest()


@dataclass
class FakeOutput:
    txid: str
    amount_atomic: int
    height: int | None  # None while in the pool
    unlock_time: int = 0
    coinbase: bool = False
    spent_by: str | None = None

    @property
    def key_image(self) -> str:
        return _digest("key image", self.txid)


@dataclass
class _Party:
    """One signer's copy of one escrow wallet."""

    setup_round: int = -1
    ready: bool = False
    vouched: bool = False
    exports: int = 0
    synced_height: int | None = None


@dataclass
class FakeNetwork:
    """The chain and the escrows' outputs. ``height`` starts at 100; ``fee_atomic`` is every payout's fee."""

    height: int = 100
    fee_atomic: int = 30_000_000
    outputs: dict[str, list[FakeOutput]] = field(default_factory=lambda: defaultdict(list))
    addresses: dict[str, str] = field(default_factory=dict)  # address -> wallet name
    submitted: dict[str, dict[str, Any]] = field(default_factory=dict)  # txid -> transaction
    mined: dict[str, int] = field(default_factory=dict)  # txid -> height
    tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def address_of(self, wallet_name: str) -> str:
        return "fake-multisig-" + _digest("address", wallet_name)[:40]

    def pay(self, address: str, amount_atomic: int, *, unlock_time: int = 0, coinbase: bool = False) -> str:
        """A payment to an escrow address, in the pool until ``mine``; returns its txid."""
        with self.lock:
            name = self.addresses[address]
            txid = _digest("payment", address, amount_atomic, len(self.outputs[name]), self.height)
            self.outputs[name].append(FakeOutput(txid, amount_atomic, None, unlock_time, coinbase))
            return txid

    def mine(self, blocks: int = 1) -> int:
        with self.lock:
            self.height += blocks
            for outputs in self.outputs.values():
                for output in outputs:
                    if output.height is None:
                        output.height = self.height - blocks + 1
            for txid in self.submitted:
                self.mined.setdefault(txid, self.height - blocks + 1)
            return self.height

    def confirmations(self, height: int | None) -> int:
        return 0 if height is None else self.height - height + 1

    def key_image_spent(self, key_images: Sequence[str]) -> list[int]:
        """0 unspent, 2 in the pool, 1 mined (as monerod's ``/is_key_image_spent``)."""
        with self.lock:
            status = {}
            for txid, transaction in self.submitted.items():
                for image in transaction["key_images"]:
                    status[image] = 1 if txid in self.mined else 2
            return [status.get(image, 0) for image in key_images]

    def held(self, wallet_name: str) -> int:
        return sum(output.amount_atomic for output in self.outputs[wallet_name] if output.spent_by is None)

    def drop(self, txid: str) -> None:
        """A submitted payout leaves the pool (or the chain, in a reorg) for good: its outputs are
        unspent again."""
        with self.lock:
            self.submitted.pop(txid)
            self.mined.pop(txid, None)
            for outputs in self.outputs.values():
                for output in outputs:
                    if output.spent_by == txid:
                        output.spent_by = None


class FakeSigner:
    """One party over a ``FakeNetwork`` (see the module docstring)."""

    def __init__(self, role: SignerRole, network: FakeNetwork) -> None:
        self._role = SignerRole(role)
        self.network = network
        self._parties: dict[str, _Party] = {}
        self._failures: dict[str, list[Exception]] = defaultdict(list)
        self.calls: Counter[str] = Counter()

    @property
    def role(self) -> SignerRole:
        return self._role

    def fail_next(self, method: str, error: Exception) -> None:
        """The next call of ``method`` raises ``error`` (before doing anything)."""
        self._failures[method].append(error)

    def probe(self) -> list[EndpointHealth]:
        """One health record for the signer's one (imaginary) endpoint: down once per queued
        ``fail_next("probe", error)``."""
        self.calls["probe"] += 1
        health = EndpointHealth(self._role.value, f"fake://{self._role.value}", latency_ms=0.0)
        if self._failures["probe"]:
            error = self._failures["probe"].pop(0)
            health.last_error_at = datetime.now(UTC)
            health.last_error = error.message if isinstance(error, RpcError) else str(error)
        else:
            health.last_ok_at = datetime.now(UTC)
        return [health]

    def close(self) -> None:
        self.calls["close"] += 1

    def crash(self) -> None:
        """An unclean restart: every wallet of this signer has lost its vouched nonces."""
        for party in self._parties.values():
            party.vouched = False

    def _enter(self, method: str, escrow: EscrowWallet) -> _Party:
        self.calls[method] += 1
        if self._failures[method]:
            raise self._failures[method].pop(0)
        party = self._parties.get(escrow.wallet_name)
        if party is None:
            raise SignerError("No such wallet.", role=self._role, wallet_name=escrow.wallet_name)
        return party

    # -- setup

    def begin_setup(self, escrow: EscrowWallet) -> str:
        with self.network.lock:
            if escrow.wallet_name in self._parties:
                raise SignerError("The wallet exists already.", role=self._role, wallet_name=escrow.wallet_name)
            self._parties[escrow.wallet_name] = _Party()
        self._enter("begin_setup", escrow)
        return f"prepare:{self._role}:{escrow.wallet_name}"

    def setup_round(self, escrow: EscrowWallet, round_index: int, infos: Sequence[str]) -> SetupStep:
        party = self._enter("setup_round", escrow)
        if round_index != party.setup_round + 1 or len(infos) != 3 or party.ready:
            raise SignerError("Key exchange out of order.", role=self._role, wallet_name=escrow.wallet_name)
        party.setup_round = round_index
        if round_index + 1 < SETUP_ROUNDS:
            return SetupStep(info=f"round{round_index}:{self._role}:{escrow.wallet_name}")
        party.ready = True
        address = self.network.address_of(escrow.wallet_name)
        with self.network.lock:
            self.network.addresses[address] = escrow.wallet_name
        return SetupStep(info="", ready=True, address=address)

    # -- exchange

    def export_info(self, escrow: EscrowWallet) -> str:
        party = self._ready(self._enter("export_info", escrow), escrow)
        party.exports += 1
        party.vouched = True
        return json.dumps({"role": self._role.value, "wallet": escrow.wallet_name, "height": self.network.height})

    def import_info(self, escrow: EscrowWallet, infos: Sequence[str]) -> None:
        party = self._ready(self._enter("import_info", escrow), escrow)
        if not infos:
            raise NotEnoughSigners("import_multisig_info", -33, "Needs multisig export info from more participants")
        heights = []
        for info in infos:
            decoded = json.loads(info)
            if decoded["wallet"] != escrow.wallet_name or decoded["role"] == self._role.value:
                raise SignerError("Multisig info of another wallet.", role=self._role)
            heights.append(int(decoded["height"]))
        party.synced_height = min(heights)

    # -- payout

    def propose(self, escrow: EscrowWallet, plan: PayoutPlan) -> Proposal:
        party = self._ready(self._enter("propose", escrow), escrow)
        self._require_vouched(party, escrow)
        party.vouched = False
        with self.network.lock:
            unspent = [output for output in self.network.outputs[escrow.wallet_name] if output.spent_by is None]
            mined = [output for output in unspent if output.height is not None]
            synced = party.synced_height
            if synced is None or any(output.height is not None and output.height > synced for output in mined):
                raise ImportIncomplete("Exchange multisig info before proposing.", role=self._role)
            held = sum(output.amount_atomic for output in unspent)
            unlocked = sum(
                output.amount_atomic
                for output in mined
                if self.network.confirmations(output.height) >= UNLOCK_BLOCKS and output.unlock_time == 0
            )
            if held != plan.held_atomic or unlocked != plan.held_atomic:
                raise FundsNotReady(
                    f"The escrow holds {held} piconero ({unlocked} unlocked), the plan spends {plan.held_atomic}.",
                    held_atomic=held,
                    unlocked_atomic=unlocked,
                    role=self._role,
                )
            fee = self.network.fee_atomic
            destinations = [item for item in plan.destinations_for_fee(fee) if item.amount_atomic > 0]
            transaction: dict[str, Any] = {
                "proposer": self._role.value,
                "wallet": escrow.wallet_name,
                "key_images": [output.key_image for output in unspent],
                "amount_in": held,
                "fee": fee,
                "recipients": [[item.address, item.amount_atomic] for item in destinations],
                "change": held - fee - sum(item.amount_atomic for item in destinations),
                "change_address": "",
                "unlock_time": 0,
                "exchange": party.exports,
            }
            if self.network.tamper is not None:
                transaction = self.network.tamper(transaction)
        txset = json.dumps(transaction, sort_keys=True).encode().hex()
        return Proposal(
            txset=txset,
            fee_atomic=int(transaction["fee"]),
            amount_in_atomic=int(transaction["amount_in"]),
            spent_key_images=tuple(transaction["key_images"]),
            destinations=tuple(Destination(address, amount) for address, amount in transaction["recipients"]),
        )

    def describe(self, escrow: EscrowWallet, txset: str) -> TxDescription:
        self._enter("describe", escrow)
        transaction = json.loads(bytes.fromhex(txset))
        merged: Counter[str] = Counter()
        for address, amount in transaction["recipients"]:
            merged[address] += amount
        return TxDescription(
            amount_in_atomic=transaction["amount_in"],
            fee_atomic=transaction["fee"],
            recipients=tuple(Destination(address, amount) for address, amount in merged.items()),
            change_atomic=transaction["change"],
            change_address=transaction["change_address"],
            unlock_time=transaction["unlock_time"],
        )

    def sign(self, escrow: EscrowWallet, proposal: Proposal) -> SignedPayout:
        party = self._ready(self._enter("sign", escrow), escrow)
        transaction = json.loads(bytes.fromhex(proposal.txset))
        if transaction["proposer"] == self._role.value:
            raise AlreadySigned("sign_multisig", -35, "Transaction already signed by this private key")
        self._require_vouched(party, escrow)
        party.vouched = False
        txid = _digest("payout", proposal.txset)
        return SignedPayout(tx_data_hex="signed:" + proposal.txset, txids=(txid,), key_images=proposal.spent_key_images)

    def submit(self, escrow: EscrowWallet, tx_data_hex: str) -> tuple[str, ...]:
        self._enter("submit", escrow)
        if not tx_data_hex.startswith("signed:"):
            raise NotEnoughSigners("submit_multisig", -33, "Not enough signers signed this transaction.")
        txset = tx_data_hex.removeprefix("signed:")
        transaction = json.loads(bytes.fromhex(txset))
        txid = _digest("payout", txset)
        with self.network.lock:
            if txid in self.network.submitted:
                return (txid,)
            outputs = {output.key_image: output for output in self.network.outputs[transaction["wallet"]]}
            spending = [outputs[image] for image in transaction["key_images"]]
            if any(output.spent_by is not None for output in spending):
                raise TransactionRejected(
                    "submit_multisig", -36, "Failed to submit multisig tx: transaction was rejected by daemon"
                )
            for output in spending:
                output.spent_by = txid
            self.network.submitted[txid] = transaction
        return (txid,)

    # -- detection and files

    def incoming(self, escrow: EscrowWallet, *, chain_height: int | None = None) -> Incoming:
        self._enter("incoming", escrow)
        with self.network.lock:
            transfers = tuple(
                IncomingTransfer(
                    txid=output.txid,
                    amount_atomic=output.amount_atomic,
                    confirmations=self.network.confirmations(output.height),
                    height=output.height or 0,
                    unlock_time=output.unlock_time,
                    in_pool=output.height is None,
                    coinbase=output.coinbase,
                )
                for output in self.network.outputs[escrow.wallet_name]
            )
            return Incoming(wallet_height=self.network.height, transfers=transfers)

    def store(self, escrow: EscrowWallet) -> None:
        self._enter("store", escrow)

    def release(self, escrow: EscrowWallet) -> None:
        self.calls["release"] += 1

    # -- rules

    def _ready(self, party: _Party, escrow: EscrowWallet) -> _Party:
        if not party.ready:
            raise SignerError("The multisig wallet is not ready.", role=self._role, wallet_name=escrow.wallet_name)
        return party

    def _require_vouched(self, party: _Party, escrow: EscrowWallet) -> None:
        if not party.vouched:
            raise FreshExchangeRequired(
                "This wallet signs nothing before a fresh multisig exchange.",
                role=self._role,
                wallet_name=escrow.wallet_name,
            )


class FakeDaemon:
    """monerod over a ``FakeNetwork``: the calls ``EscrowStack`` makes of ``DaemonRpc``.

    Its height counts blocks, as monerod's does: one more than ``network.height`` (the top
    block's), so a transaction in the top block has ``get_height() - block_height == 1``
    confirmation.
    """

    url = "fake://monerod"

    def __init__(self, network: FakeNetwork) -> None:
        self.network = network
        self.failures: list[Exception] = []  # raised, one per call, before answering

    def _enter(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def get_info(self) -> DaemonInfo:
        self._enter()
        with self.network.lock:
            pool = [txid for txid in self.network.submitted if txid not in self.network.mined]
            return DaemonInfo(
                height=self.network.height + 1,
                nettype="fakechain",
                top_block_hash=_digest("block", self.network.height),
                tx_pool_size=len(pool),
                synchronized=True,
            )

    def get_height(self) -> int:
        self._enter()
        return self.network.height + 1

    def is_key_image_spent(self, key_images: Sequence[str]) -> list[int]:
        self._enter()
        return self.network.key_image_spent(key_images)

    def get_transactions(self, txids: Sequence[str], *, decode: bool = False) -> list[DaemonTransaction]:
        """Payouts submitted and payments made on the network; anything else is not found."""
        self._enter()
        with self.network.lock:
            heights: dict[str, int | None] = {txid: self.network.mined.get(txid) for txid in self.network.submitted}
            for outputs in self.network.outputs.values():
                heights.update({output.txid: output.height for output in outputs})
            answers = []
            for txid in txids:
                found = txid in heights
                height = heights.get(txid)
                answers.append(
                    DaemonTransaction(
                        txid=txid,
                        found=found,
                        in_pool=found and height is None,
                        block_height=height,
                        double_spend_seen=False,
                        as_json="",
                    )
                )
            return answers

    def close(self) -> None:
        pass


@dataclass
class FakeBackup:
    """Records each escrow it backs up (``backed_up``: wallet names, in order); ``fail_next`` makes
    the next backup raise."""

    backed_up: list[str] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    def fail_next(self, error: Exception) -> None:
        self.failures.append(error)

    def back_up(self, escrow: EscrowWallet) -> list[Path]:
        if self.failures:
            raise self.failures.pop(0)
        self.backed_up.append(escrow.wallet_name)
        return [
            Path(role.value) / f"{escrow.wallet_name}{suffix}.gpg" for role in SignerRole for suffix in ("", ".keys")
        ]


@dataclass(kw_only=True)
class FakeEscrowStack(EscrowStack):
    """An ``EscrowStack`` whose parts are fakes, typed as such for tests (``fake_stack``)."""

    network: FakeNetwork
    fake_signers: dict[SignerRole, FakeSigner]
    fake_daemon: FakeDaemon
    fake_backup: FakeBackup


def fake_stack(network: FakeNetwork | None = None) -> FakeEscrowStack:
    """An ``EscrowStack`` over three ``FakeSigner``s, a ``FakeDaemon`` and a ``FakeBackup`` sharing
    one ``FakeNetwork`` (a new one unless given)."""
    network = network if network is not None else FakeNetwork()
    signers = {role: FakeSigner(role, network) for role in SignerRole}
    daemon = FakeDaemon(network)
    backup = FakeBackup()
    return FakeEscrowStack(
        daemon=daemon,
        signers=signers,
        backup=backup,
        detector=WalletPaymentDetector(signers[DETECTOR_ROLE], daemon.get_height),
        nettype="fakechain",
        network=network,
        fake_signers=signers,
        fake_daemon=daemon,
        fake_backup=backup,
    )
