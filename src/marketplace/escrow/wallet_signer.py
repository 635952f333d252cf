"""The marketplace's own signer of one role: its monero-wallet-rpc endpoints and wallet directory.

Endpoints. A role has one or more wallet-rpc endpoints sharing its wallet directory and login. An
endpoint holds one open wallet at a time, so every call to it holds that endpoint's lock (calls to
one endpoint are serialized; a whole step, open included, runs under it). An escrow's wallet is
pinned to the endpoint that opened it while it has work (until ``release``, and never while a step
on it is under way): no other endpoint opens it meanwhile (a wallet open in two processes at once
would be two writers of one file); before its first step a process closes whatever wallet each
endpoint holds (a worker killed before may have left one open). An unpinned wallet goes back to the
endpoint that still has it open, else to the endpoint with the fewest pinned escrows, and of those
to one with no wallet open, else to the one picked least recently (so two escrows taking turns on
two endpoints each keep their own open, instead of evicting each other at every step). A wallet is
opened only when its endpoint does not have it open already (opening costs 1-3 s of CPU in
0.18.0.0); ``opens`` and ``opens_by_wallet`` count them. This holds inside one process: an endpoint
belongs to one worker process (two workers sharing endpoints would each believe its own wallet open
there).

Nonces (MONERO-REGTEST.md, "Paying out safely"). A wallet keeps its signing nonces in memory until
stored; a wallet-rpc killed after a signature comes back with the used nonces on disk, and signing
again with them can leak its key share. So a wallet signs or proposes only while it is *vouched
for*: it exported fresh info (and was stored) in this process, and since then it has neither
signed nor proposed and has not been lost. It is no longer vouched for when:

- a call finds its endpoint with no wallet open (``WalletNotOpen``, -13): the wallet-rpc was
  restarted under us. This is how a restart is detected: the signer always knows which wallet it
  left open on each endpoint, and only this process opens wallets there, so "not open" means the
  process started again (wallet-rpc has no process-start marker; an explicit signal is also
  accepted, ``endpoint_restarted``);
- a call to its endpoint lost its answer or could not connect (``RpcUnavailable``): the process may
  have died mid-call;
- it is opened by this process without having been closed cleanly by this process before
  (after a worker restart the signer cannot know what happened to the wallet-rpc meanwhile).

A step that needs it raises ``FreshExchangeRequired`` (transient): the next payout attempt starts
with a fresh exchange, whose export vouches for the wallet again. Closing a wallet cleanly (to open
another on the same endpoint) keeps it vouched for: a clean close saves it.

Health: each endpoint's last success and last failure (``health()``), for the worker to record.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from marketplace.escrow.signer import (
    Destination,
    EndpointUnavailable,
    EscrowWallet,
    FreshExchangeRequired,
    FundsNotReady,
    ImportIncomplete,
    Incoming,
    IncomingTransfer,
    PayoutPlan,
    Proposal,
    ProposalNotExact,
    SetupStep,
    SignedPayout,
    SignerError,
    SignerRole,
    TxDescription,
)
from marketplace.escrow.wallet_passwords import WalletPasswords
from marketplace.monero.rpc import DEFAULT_TIMEOUT, Balance, JsonObject, TransferDescription, WalletRpc
from marketplace.monero.rpc import Proposal as BuiltProposal
from marketplace.monero.rpc_errors import (
    InsufficientFunds,
    NoTransactionCreated,
    RpcError,
    RpcUnavailable,
    WalletNotOpen,
)

log = logging.getLogger("marketplace.escrow")
T = TypeVar("T")

THRESHOLD = 2
MAX_SETUP_ROUNDS = 6
# Builds of a multi-destination payout before giving up: the first learns the fee, the second
# normally leaves change 0; more only if the fee moved between them.
MAX_BUILDS = 4


@dataclass
class EndpointHealth:
    """What the signer last saw of one endpoint (times in UTC; ``None`` until it happened)."""

    role: str
    url: str
    last_ok_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    restarts_detected: int = 0
    opens: int = 0
    calls: int = 0
    latency_ms: float | None = None  # of the last probe
    wallet_height: int | None = None  # at the last probe, of the wallet left open there (None: none open)

    @property
    def ok(self) -> bool:
        """Up as far as the signer knows: the last call got an answer (or nothing was tried yet)."""
        if self.last_error_at is None:
            return True
        return self.last_ok_at is not None and self.last_ok_at >= self.last_error_at


class _CountingWalletRpc(WalletRpc):
    """A ``WalletRpc`` that counts its calls (for the benchmark and the health record), and knows
    whether the wallet open there was refreshed since it was opened (for the sync-lag metric)."""

    calls = 0
    refreshed_since_open = False

    def call(
        self,
        method: str,
        params: Any = None,
        *,
        idempotent: bool = False,
        timeout: float | None = None,
    ) -> JsonObject:
        self.calls += 1
        if method in _OPENS_OR_CLOSES:
            self.refreshed_since_open = False
        answer = super().call(method, params, idempotent=idempotent, timeout=timeout)
        if method in _REFRESHES:
            self.refreshed_since_open = True
        return answer


_OPENS_OR_CLOSES = frozenset({"open_wallet", "create_wallet", "close_wallet"})
_REFRESHES = frozenset({"refresh", "rescan_blockchain"})


@dataclass
class _Endpoint:
    index: int
    rpc: _CountingWalletRpc
    health: EndpointHealth
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The wallet this process left open there; None when none is (or it is unknown).
    open_wallet: str | None = None
    last_picked: int = 0  # when a step was last sent here (a count of picks), for least-recently-used


def _now() -> datetime:
    return datetime.now(UTC)


class WalletSigner:
    """The ``Signer`` of one role over its wallet-rpc endpoints (see the module docstring).

    ``urls``: the role's endpoints; ``login``: their shared ``(user, password)`` or ``None``;
    ``wallet_dir``: the role's wallet directory as this process sees it (read for backups only);
    ``passwords``: derives each wallet's password.
    """

    def __init__(
        self,
        role: SignerRole,
        urls: Sequence[str],
        *,
        login: tuple[str, str] | None,
        wallet_dir: Path,
        passwords: WalletPasswords,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not urls:
            raise ValueError(f"The {role} signer needs at least one wallet-rpc endpoint.")
        self._role = SignerRole(role)
        self.wallet_dir = wallet_dir
        self._passwords = passwords
        self._endpoints = [
            _Endpoint(index, _CountingWalletRpc(url, login=login, timeout=timeout), EndpointHealth(str(role), url))
            for index, url in enumerate(urls)
        ]
        self._state = threading.Lock()
        self._leftovers_closed = False
        self._leftovers_lock = threading.Lock()
        self._pins: dict[str, int] = {}
        self._busy: Counter[str] = Counter()  # steps under way per wallet (a busy wallet stays pinned)
        self._picks = 0
        self._vouched: set[str] = set()
        self._closed_cleanly: set[str] = set()
        self.opens_by_wallet: Counter[str] = Counter()
        self.rescans = 0  # wallet copies rebuilt because they stopped following the chain

    @property
    def role(self) -> SignerRole:
        return self._role

    def __repr__(self) -> str:
        return f"WalletSigner({self._role.value!r}, {[endpoint.health.url for endpoint in self._endpoints]!r})"

    def close(self) -> None:
        for endpoint in self._endpoints:
            endpoint.rpc.close()

    # -- what the worker reads

    def health(self) -> list[EndpointHealth]:
        """A copy of each endpoint's health record."""
        records = []
        for endpoint in self._endpoints:
            endpoint.health.calls = endpoint.rpc.calls
            records.append(EndpointHealth(**vars(endpoint.health)))
        return records

    def probe(self) -> list[EndpointHealth]:
        """Ask every endpoint ``get_version`` (it opens nothing) and return the health records.

        Any error counts as down (unreachable, a refused login, ...): ``last_error`` says which.
        When this process left a wallet open there and refreshed it since opening it, its
        ``get_height`` is read too (``wallet_height``, for the sync-lag metric; its failure is not
        the endpoint's). The probe refreshes nothing (auto-refresh is off): the height is that of
        the last step's refresh. A wallet just created or opened and not yet refreshed reports a
        height far behind (measured: 80 blocks on regtest right after an escrow's setup), which is
        no lag of the signer: it gives no height."""
        for endpoint in self._endpoints:
            with endpoint.lock:
                started = time.monotonic()
                endpoint.health.wallet_height = None
                try:
                    endpoint.rpc.get_version()
                except RpcError as error:
                    self._failed(endpoint, error)
                    up = False
                else:
                    self._succeeded(endpoint)
                    up = True
                endpoint.health.latency_ms = (time.monotonic() - started) * 1000
                if up and endpoint.open_wallet is not None and endpoint.rpc.refreshed_since_open:
                    endpoint.health.wallet_height = self._wallet_height(endpoint)
        return self.health()

    @staticmethod
    def _wallet_height(endpoint: _Endpoint) -> int | None:
        try:
            return endpoint.rpc.get_height()
        except RpcError:  # a restarted wallet-rpc (no wallet open): no lag to report, not a failed probe
            return None

    @property
    def opens(self) -> int:
        return sum(endpoint.health.opens for endpoint in self._endpoints)

    @property
    def calls(self) -> int:
        return sum(endpoint.rpc.calls for endpoint in self._endpoints)

    def endpoint_of(self, escrow: EscrowWallet) -> str | None:
        """The URL the escrow is pinned to, if it is."""
        with self._state:
            index = self._pins.get(escrow.wallet_name)
        return None if index is None else self._endpoints[index].health.url

    def endpoint_restarted(self, url: str) -> None:
        """An explicit signal that the wallet-rpc at ``url`` restarted: what it had open is no longer
        vouched for."""
        for endpoint in self._endpoints:
            if endpoint.health.url == url.rstrip("/"):
                with endpoint.lock:
                    self._lost(endpoint, restarted=True)

    # -- setup

    def begin_setup(self, escrow: EscrowWallet) -> str:
        def step(rpc: WalletRpc) -> str:
            return rpc.prepare_multisig(enable_experimental=True)

        return self._run(escrow, step, create=True)

    def setup_round(self, escrow: EscrowWallet, round_index: int, infos: Sequence[str]) -> SetupStep:
        password = self._password(escrow)

        def step(rpc: WalletRpc) -> SetupStep:
            if round_index == 0:
                made = rpc.make_multisig(infos, threshold=THRESHOLD, password=password)
            else:
                made = rpc.exchange_multisig_keys(infos, password=password)
            if not rpc.is_multisig().ready:
                return SetupStep(info=made.multisig_info)
            address = rpc.get_address()
            rpc.store()
            return SetupStep(info=made.multisig_info, ready=True, address=address)

        if round_index >= MAX_SETUP_ROUNDS:
            raise SignerError("Too many key-exchange rounds.", role=self._role, wallet_name=escrow.wallet_name)
        return self._run(escrow, step)

    # -- exchange

    def export_info(self, escrow: EscrowWallet) -> str:
        def step(rpc: WalletRpc) -> str:
            rpc.refresh()
            info = rpc.export_multisig_info()
            rpc.store()
            with self._state:
                self._vouched.add(escrow.wallet_name)
            return info

        return self._run(escrow, step)

    def import_info(self, escrow: EscrowWallet, infos: Sequence[str]) -> None:
        def step(rpc: WalletRpc) -> None:
            rpc.refresh()
            rpc.import_multisig_info(infos)
            rpc.store()
            if rpc.get_balance().multisig_import_needed:
                raise ImportIncomplete(
                    "The wallet still needs multisig info after the import.",
                    role=self._role,
                    wallet_name=escrow.wallet_name,
                )

        self._run(escrow, step)

    # -- payout

    def propose(self, escrow: EscrowWallet, plan: PayoutPlan) -> Proposal:
        def step(rpc: WalletRpc) -> Proposal:
            balance = rpc.get_balance()
            if balance.multisig_import_needed:
                raise ImportIncomplete("Exchange multisig info before proposing.", role=self._role)
            if balance.balance != plan.held_atomic or balance.unlocked_balance != plan.held_atomic:
                raise FundsNotReady(
                    f"The escrow holds {balance.balance} piconero ({balance.unlocked_balance} unlocked), "
                    f"the plan spends {plan.held_atomic}.",
                    held_atomic=balance.balance,
                    unlocked_atomic=balance.unlocked_balance,
                    role=self._role,
                    wallet_name=escrow.wallet_name,
                )
            try:
                return self._build(rpc, plan)
            finally:
                # Building used the proposer's nonces: the next proposal needs a fresh exchange.
                rpc.store()
                with self._state:
                    self._vouched.discard(escrow.wallet_name)

        return self._run(escrow, step, vouched=True)

    def _build(self, rpc: WalletRpc, plan: PayoutPlan) -> Proposal:
        destinations = [item for item in plan.destinations_for_fee(0) if item.amount_atomic > 0]
        if len({item.address for item in destinations}) == 1:
            built = rpc.sweep_all(destinations[0].address)
            described = _merge(rpc.describe_transfer(built.multisig_txset))
            return _proposal(built, described)
        fee_guess = plan.max_fee_atomic
        for _ in range(MAX_BUILDS):
            destinations = [item for item in plan.destinations_for_fee(fee_guess) if item.amount_atomic > 0]
            pairs = [(item.address, item.amount_atomic) for item in destinations]
            try:
                built = rpc.transfer(pairs)
            except (InsufficientFunds, NoTransactionCreated):
                # The fee rose above the guess: try a little more (bounded by MAX_BUILDS).
                fee_guess += fee_guess // 8 + 1
                continue
            if built.fee == fee_guess:
                described = _merge(rpc.describe_transfer(built.multisig_txset))
                return _proposal(built, described)
            fee_guess = built.fee
        raise ProposalNotExact(
            f"No proposal leaving change 0 after {MAX_BUILDS} builds (the fee kept moving).", role=self._role
        )

    def describe(self, escrow: EscrowWallet, txset: str) -> TxDescription:
        return self._run(escrow, lambda rpc: _merge(rpc.describe_transfer(txset)))

    def sign(self, escrow: EscrowWallet, proposal: Proposal) -> SignedPayout:
        def step(rpc: WalletRpc) -> SignedPayout:
            with self._state:
                self._vouched.discard(escrow.wallet_name)  # before the call: its answer may be lost
            signed = rpc.sign_multisig(proposal.txset)
            rpc.store()
            return SignedPayout(signed.tx_data_hex, signed.tx_hash_list, proposal.spent_key_images)

        return self._run(escrow, step, vouched=True)

    def submit(self, escrow: EscrowWallet, tx_data_hex: str) -> tuple[str, ...]:
        return self._run(escrow, lambda rpc: tuple(rpc.submit_multisig(tx_data_hex)))

    # -- detection and files

    def incoming(self, escrow: EscrowWallet, *, chain_height: int | None = None) -> Incoming:
        def step(rpc: WalletRpc) -> Incoming:
            rpc.refresh()
            height = rpc.get_height()
            if chain_height is not None and height < chain_height:
                height = self._rescanned(rpc, escrow, height, chain_height)
            transfers = rpc.get_transfers(incoming=True, pool=True)
            return Incoming(
                wallet_height=height,
                transfers=tuple(
                    IncomingTransfer(
                        txid=item.txid,
                        amount_atomic=item.amount,
                        confirmations=0 if item.type == "pool" else item.confirmations,
                        height=item.height,
                        unlock_time=item.unlock_time,
                        in_pool=item.type == "pool",
                        coinbase=item.type == "block",
                    )
                    for item in transfers
                    if item.type in {"in", "pool", "block"}
                ),
            )

        return self._run(escrow, step)

    def _rescanned(self, rpc: WalletRpc, escrow: EscrowWallet, height: int, chain_height: int) -> int:
        """Rebuild a wallet copy that stopped following the chain; its new height, or ``SignerError``.

        Seen on the development stack (one endpoint per role, wallets switched every few seconds):
        a copy whose every refresh failed inside wallet2 (``out_of_hashchain_bounds_error`` in the
        wallet-rpc log) while the ``refresh`` call itself answered success, so its payments stayed
        at the confirmations of its last good refresh. ``rescan_blockchain`` drops its hash chain
        and scans again; the multisig state it also drops (partial key images) is rebuilt by the
        fresh exchange every payout attempt starts with, and the copy is no longer vouched for.
        """
        log.warning(
            "an escrow wallet copy stopped following the chain: rescanning it",
            extra={
                "event": "escrow.wallet_rescan",
                "role": str(self._role),
                "wallet": escrow.wallet_name,
                "height": height,
                "chain_height": chain_height,
            },
        )
        with self._state:
            self._vouched.discard(escrow.wallet_name)
            self.rescans += 1
        rpc.rescan_blockchain()
        rpc.refresh()
        rescanned = rpc.get_height()
        if rescanned < chain_height:
            raise SignerError(
                f"The {self._role} copy of the escrow wallet stays at height {rescanned}, behind the daemon's "
                f"{chain_height}, even after a rescan.",
                role=self._role,
                wallet_name=escrow.wallet_name,
            )
        return rescanned

    def balance(self, escrow: EscrowWallet) -> Balance:
        """Refresh and read the wallet's balance (a signer's view: exact only after an exchange)."""

        def step(rpc: WalletRpc) -> Balance:
            rpc.refresh()
            return rpc.get_balance()

        return self._run(escrow, step)

    def address(self, escrow: EscrowWallet) -> str:
        return self._run(escrow, lambda rpc: rpc.get_address())

    def store(self, escrow: EscrowWallet) -> None:
        self._run(escrow, lambda rpc: rpc.store())

    def copy_files(self, escrow: EscrowWallet, directory: Path) -> list[Path]:
        """Store the wallet and copy its two files (``<name>``, ``<name>.keys``) into ``directory``,
        under the endpoint's lock, so no close or save by the wallet-rpc can tear the copy."""
        name = escrow.wallet_name

        def step(rpc: WalletRpc) -> list[Path]:
            rpc.store()
            copies = []
            for file_name in (name, f"{name}.keys"):
                source = self.wallet_dir / file_name
                if not source.is_file():
                    raise SignerError(f"The wallet file {file_name} is missing.", role=self._role, wallet_name=name)
                copies.append(Path(shutil.copyfile(source, directory / file_name)))
            return copies

        return self._run(escrow, step)

    def release(self, escrow: EscrowWallet) -> None:
        """The escrow has no work for now: unpin it (unless a step is under way). Its wallet stays
        open until another wallet needs the endpoint; its next step goes where it is still open."""
        with self._state:
            if not self._busy[escrow.wallet_name]:
                self._pins.pop(escrow.wallet_name, None)

    # -- the machinery

    def _password(self, escrow: EscrowWallet) -> str:
        return self._passwords.password(escrow.wallet_name, self._role.value)

    def _close_leftovers(self) -> None:
        """Before this process's first step, close whatever wallet each endpoint holds (saving it).

        A worker killed before may have left a wallet open on one endpoint; this process knows
        nothing of it and could otherwise open the same wallet on another endpoint: two writers of
        one file. An endpoint that does not answer now holds nothing when it comes back (a restart
        closes every wallet). Only one worker process may use a role's endpoints.
        """
        with self._leftovers_lock:
            if self._leftovers_closed:
                return
            for endpoint in self._endpoints:
                # RpcError: nothing open (-13), or down (it holds nothing when it is back).
                with endpoint.lock, contextlib.suppress(RpcError):
                    endpoint.rpc.close_wallet()
                endpoint.open_wallet = None
            self._leftovers_closed = True

    def _pick(self, name: str) -> _Endpoint:
        """The endpoint for a step on ``name``: where it is pinned, else where it is still open (never
        another: the file would have two writers), else the endpoint with the fewest pinned escrows,
        preferring one with no wallet open, then the one picked least recently."""
        self._close_leftovers()
        with self._state:
            index = self._pins.get(name)
            if index is None:
                holding = [endpoint.index for endpoint in self._endpoints if endpoint.open_wallet == name]
                if holding:
                    index = holding[0]
                else:
                    load = Counter(self._pins.values())
                    index = min(
                        self._endpoints,
                        key=lambda candidate: (
                            load[candidate.index],
                            candidate.open_wallet is not None,
                            candidate.last_picked,
                            candidate.index,
                        ),
                    ).index
                self._pins[name] = index
            self._busy[name] += 1
            self._picks += 1
            self._endpoints[index].last_picked = self._picks
            return self._endpoints[index]

    def _set_open(self, endpoint: _Endpoint, name: str | None) -> None:
        with self._state:
            endpoint.open_wallet = name

    def _run(
        self, escrow: EscrowWallet, step: Callable[[WalletRpc], T], *, create: bool = False, vouched: bool = False
    ) -> T:
        name = escrow.wallet_name
        endpoint = self._pick(name)
        try:
            return self._run_on(endpoint, escrow, step, create=create, vouched=vouched)
        finally:
            with self._state:
                self._busy[name] -= 1
                if not self._busy[name]:
                    del self._busy[name]

    def _run_on(
        self, endpoint: _Endpoint, escrow: EscrowWallet, step: Callable[[WalletRpc], T], *, create: bool, vouched: bool
    ) -> T:
        name = escrow.wallet_name
        with endpoint.lock:
            try:
                result = self._run_locked(endpoint, escrow, step, create=create, vouched=vouched)
            except RpcUnavailable as error:
                self._failed(endpoint, error)
                if error.code is not None:
                    raise  # the wallet-rpc answered (-38: its daemon is unreachable); its wallet is intact
                self._lost(endpoint, restarted=False)  # it may have died mid-call
                if not error.reached_server:
                    # The process is not there: nothing can have the wallet open, it may go elsewhere.
                    with self._state:
                        if self._pins.get(name) == endpoint.index and self._busy[name] == 1:
                            del self._pins[name]
                    raise EndpointUnavailable(
                        f"The {self._role} wallet-rpc {endpoint.health.url} is unreachable.",
                        role=self._role,
                        wallet_name=name,
                    ) from error
                raise
            self._succeeded(endpoint)
            return result

    def _run_locked(
        self, endpoint: _Endpoint, escrow: EscrowWallet, step: Callable[[WalletRpc], T], *, create: bool, vouched: bool
    ) -> T:
        name = escrow.wallet_name
        if create:
            self._switch(endpoint, name, create=True)
        for _ in range(2):
            if endpoint.open_wallet != name:
                self._switch(endpoint, name, create=False)
            if vouched and not self._is_vouched(name):
                raise FreshExchangeRequired(
                    "This wallet signs nothing before a fresh multisig exchange (its nonces may have been used).",
                    role=self._role,
                    wallet_name=name,
                )
            try:
                return step(endpoint.rpc)
            except WalletNotOpen:
                # The wallet-rpc restarted since this process left the wallet open there.
                self._lost(endpoint, restarted=True)
        raise SignerError(f"The {self._role} wallet-rpc keeps losing its open wallet.", role=self._role)

    def _is_vouched(self, name: str) -> bool:
        with self._state:
            return name in self._vouched

    def _switch(self, endpoint: _Endpoint, name: str, *, create: bool) -> None:
        """Make ``name`` the endpoint's open wallet (closing the one this process left there)."""
        if endpoint.open_wallet is not None:
            self._close(endpoint)
        password = self._password(EscrowWallet("", name))
        if create:
            endpoint.rpc.create_wallet(name, password)
        else:
            endpoint.rpc.open_wallet(name, password)
        endpoint.health.opens += 1
        self._set_open(endpoint, name)
        with self._state:
            self.opens_by_wallet[name] += 1
            if name not in self._closed_cleanly:
                self._vouched.discard(name)  # what happened to it while this process did not hold it is unknown
            self._closed_cleanly.discard(name)
        endpoint.rpc.auto_refresh(enable=False)

    def _close(self, endpoint: _Endpoint) -> None:
        name = endpoint.open_wallet
        try:
            endpoint.rpc.close_wallet(autosave=True)
        except WalletNotOpen:
            self._lost(endpoint, restarted=True)
            return
        self._set_open(endpoint, None)
        if name is not None:
            with self._state:
                self._closed_cleanly.add(name)

    def _lost(self, endpoint: _Endpoint, *, restarted: bool) -> None:
        """The endpoint may have lost its open wallet uncleanly: it is no longer vouched for."""
        name = endpoint.open_wallet
        self._set_open(endpoint, None)
        if restarted:
            endpoint.health.restarts_detected += 1
        if name is not None:
            with self._state:
                self._vouched.discard(name)
                self._closed_cleanly.discard(name)

    def _succeeded(self, endpoint: _Endpoint) -> None:
        endpoint.health.last_ok_at = _now()

    def _failed(self, endpoint: _Endpoint, error: RpcError) -> None:
        endpoint.health.last_error_at = _now()
        endpoint.health.last_error = error.message


def _merge(descriptions: Sequence[TransferDescription]) -> TxDescription:
    """One description for a txset of one or more transactions (recipients merged per address)."""
    if not descriptions:
        raise SignerError("describe_transfer described no transaction.")
    totals: Counter[str] = Counter()
    for description in descriptions:
        for recipient in description.recipients:
            totals[recipient.address] += recipient.amount
    change_addresses = {item.change_address for item in descriptions if item.change_amount}
    return TxDescription(
        amount_in_atomic=sum(item.amount_in for item in descriptions),
        fee_atomic=sum(item.fee for item in descriptions),
        recipients=tuple(Destination(address, amount) for address, amount in totals.items()),
        change_atomic=sum(item.change_amount for item in descriptions),
        change_address=",".join(sorted(change_addresses)),
        unlock_time=max(item.unlock_time for item in descriptions),
        transactions=len(descriptions),
    )


def _proposal(built: BuiltProposal, described: TxDescription) -> Proposal:
    return Proposal(
        txset=built.multisig_txset,
        fee_atomic=described.fee_atomic,
        amount_in_atomic=described.amount_in_atomic,
        spent_key_images=built.spent_key_images,
        destinations=described.recipients,
    )
