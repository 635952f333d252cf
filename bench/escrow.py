"""Escrow figures (issue 7): the two waits a user sees, against a real regtest cluster.

1. **order placed → payment address**: the three signers create their wallets (in parallel, one
   per role on the role's first endpoint), prepare, make and exchange keys until every wallet is
   ready, agree on the address, store, and the six wallet files (``<name>`` and ``<name>.keys`` of
   each role) are encrypted with gpg to the operator's backup key: the address may be shown only
   after that.
2. **confirm → payout submitted**, on an escrow funded beforehand (outside the timing: each run's
   escrow received 1 XMR, then 10 blocks were mined so it is unlocked): the proposer (vendor) and
   the co-signer (arbiter) open their wallets, refresh, export (stored), import the other's
   (stored); the proposer sweeps everything to the vendor's address; the co-signer describes,
   signs (stored) and submits.

Each is measured here as the **raw** RPC sequence, driven directly with ``marketplace.monero.rpc``
(no database, no jobs, no signer objects): the least the marketplace can do. Every JSON-RPC call
and every wallet open or creation is counted. After the runs, one block is mined and each payout
is checked to have arrived (a figure of payouts that never land would be worth nothing).

The same two waits **through the marketplace** (the order API and ``marketplace worker``) plug in
through ``MARKETPLACE_SIDE``: a function per figure that measures ``runs`` runs on the same
cluster and returns them; the table then shows them beside the raw ones with the overhead (target:
under 20%, or under 2 s); `bench/escrow_marketplace.py` registers them.

    python -m bench --escrow-only            # only these figures (about 2 minutes)
"""

from __future__ import annotations

import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from marketplace.escrow.key_backup import make_throwaway_key, stop_gpg_agent
from marketplace.monero.amounts import PICONERO_PER_XMR
from marketplace.monero.regtest import RegtestCluster, start_regtest
from marketplace.monero.rpc import JsonObject, WalletRpc

SETUP = "setup"
PAYOUT = "payout"
DEFAULT_RUNS = 5
FUNDING = PICONERO_PER_XMR
UNLOCK_BLOCKS = 10  # outputs are spendable after 10 confirmations
THRESHOLD = 2
MAX_ROUNDS = 6
PROPOSER, COSIGNER = "vendor", "arbiter"
OPENING_CALLS = ("create_wallet", "open_wallet")
BACKUP_USER_ID = "Marketplace bench backup <backup@bench.invalid>"
# Target of issue 7: the marketplace's time over the raw sequence's.
TARGET_RATIO = 1.20
TARGET_SECONDS = 2.0
LABELS = {SETUP: "order placed → payment address", PAYOUT: "confirm → payout submitted"}

T = TypeVar("T")
R = TypeVar("R")


class CallCounter:
    """Counts JSON-RPC calls by method, across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, method: str) -> None:
        with self._lock:
            self._counts[method] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)


class CountingWalletRpc(WalletRpc):
    """A ``WalletRpc`` that counts every call it makes (re-sends of a call count once)."""

    def __init__(self, url: str, *, login: tuple[str, str] | None, counter: CallCounter, timeout: float) -> None:
        super().__init__(url, login=login, timeout=timeout)
        self.counter = counter

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = False,
        timeout: float | None = None,
    ) -> JsonObject:
        self.counter.add(method)
        return super().call(method, params, idempotent=idempotent, timeout=timeout)


@dataclass(frozen=True)
class Run:
    """One timed run: wall seconds, the JSON-RPC calls made (by method), the gpg runs, and the
    seconds of each phase (in order; optional)."""

    seconds: float
    calls: Counter[str]
    gpg_runs: int = 0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rpc_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def opens(self) -> int:
        return sum(self.calls[method] for method in OPENING_CALLS)


@dataclass
class Figure:
    """One wait a user sees, measured raw and (once it exists) through the marketplace."""

    key: str
    raw: list[Run]
    marketplace: list[Run] | None = None

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def raw_median(self) -> float:
        return statistics.median(run.seconds for run in self.raw)

    @property
    def marketplace_median(self) -> float | None:
        return statistics.median(run.seconds for run in self.marketplace) if self.marketplace else None

    @property
    def overhead(self) -> tuple[float, float] | None:
        """(seconds beyond the raw median, ratio to it), or None before the marketplace side exists."""
        product = self.marketplace_median
        if product is None:
            return None
        return product - self.raw_median, product / self.raw_median

    @property
    def target_met(self) -> bool | None:
        overhead = self.overhead
        if overhead is None:
            return None
        seconds, ratio = overhead
        return ratio < TARGET_RATIO or seconds < TARGET_SECONDS


@dataclass
class EscrowStack:
    """What a measurement needs: the cluster, the operator's backup key, a work directory."""

    cluster: RegtestCluster
    gpg_home: Path
    recipient: str
    workdir: Path
    master_key: str = field(default_factory=lambda: secrets.token_hex(32))

    def settings_overrides(self) -> dict[str, Any]:
        """Settings that turn escrow on against the cluster, for the marketplace side."""
        return {
            **self.cluster.escrow_settings(),
            "wallet_master_key": self.master_key,
            "backup_gpg_recipient": self.recipient,
            "backup_gpg_home": self.gpg_home,
            "backup_dir": self.workdir / "backups",
            "confirmations": 2,
        }


# The marketplace side of each figure: ``measure(stack, runs) -> runs`` (see the module docstring).
MarketplaceMeasure = Callable[[EscrowStack, int], list[Run]]
MARKETPLACE_SIDE: dict[str, MarketplaceMeasure] = {}


@dataclass(frozen=True)
class _Escrow:
    name: str
    password: str
    address: str


@dataclass
class EscrowResult:
    figures: list[Figure]
    cluster_seconds: float
    notes: list[str]


def _parallel(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(function, items))


class _Clock:
    """Splits a timed sequence into phases: ``mark(name)`` ends the phase called ``name``."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._last = time.perf_counter()

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = now - self._last
        self._last = now


class _RawSide:
    """The raw RPC sequences, on one client per role (its first endpoint), all counted."""

    def __init__(self, stack: EscrowStack) -> None:
        self.stack = stack
        self.counter = CallCounter()
        cluster = stack.cluster
        self.wallets = {
            role: CountingWalletRpc(
                cluster.signer_urls[role][0], login=cluster.signer_login[role], counter=self.counter, timeout=300
            )
            for role in cluster.signer_urls
        }
        self._gpg = shutil.which("gpg") or "gpg"

    def close(self) -> None:
        for wallet in self.wallets.values():
            wallet.close()

    def _timed(self, step: Callable[[_Clock], int]) -> Run:
        before = self.counter.snapshot()
        started = time.perf_counter()
        clock = _Clock()
        gpg_runs = step(clock)
        seconds = time.perf_counter() - started
        return Run(seconds, self.counter.snapshot() - before, gpg_runs, clock.phases)

    def _close_all(self, roles: Sequence[str]) -> None:
        _parallel(lambda role: self.wallets[role].close_wallet(autosave=True), roles)

    def setup(self, name: str) -> tuple[Run, _Escrow]:
        password = secrets.token_hex(16)
        roles = list(self.wallets)
        addresses: list[str] = []

        def sequence(clock: _Clock) -> int:
            def create(role: str) -> None:
                wallet = self.wallets[role]
                wallet.create_wallet(name, password)
                wallet.auto_refresh(enable=False)

            _parallel(create, roles)
            clock.mark("create")
            infos = _parallel(lambda role: self.wallets[role].prepare_multisig(enable_experimental=True), roles)
            clock.mark("prepare")
            for round_index in range(MAX_ROUNDS):

                def step(role: str, infos: list[str] = infos, round_index: int = round_index) -> tuple[str, bool]:
                    wallet = self.wallets[role]
                    if round_index == 0:
                        made = wallet.make_multisig(infos, threshold=THRESHOLD, password=password)
                    else:
                        made = wallet.exchange_multisig_keys(infos, password=password)
                    return made.multisig_info, wallet.is_multisig().ready

                steps = _parallel(step, roles)
                clock.mark("make" if round_index == 0 else f"exchange round {round_index}")
                if all(ready for _, ready in steps):
                    break
                infos = [info for info, _ in steps]
            else:
                msg = f"the key exchange of {name} did not finish in {MAX_ROUNDS} rounds"
                raise RuntimeError(msg)

            def finish(role: str) -> str:
                wallet = self.wallets[role]
                address = wallet.get_address()
                wallet.store()
                return address

            addresses.extend(_parallel(finish, roles))
            if len(set(addresses)) != 1:
                raise RuntimeError(f"the three wallets of {name} report different addresses")
            clock.mark("address, store")
            encrypted = self._encrypt_wallet_files(name)
            clock.mark("gpg ×6")
            return encrypted

        run = self._timed(sequence)
        self._close_all(roles)  # not timed: the next run starts from endpoints with no wallet open
        return run, _Escrow(name, password, addresses[0])

    def _encrypt_wallet_files(self, name: str) -> int:
        count = 0
        for role, wallet_dir in self.stack.cluster.wallet_dir.items():
            target_dir = self.stack.workdir / "backups" / role
            target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            for file_name in (name, f"{name}.keys"):
                subprocess.run(
                    [
                        *(self._gpg, "--batch", "--yes", "--no-tty", "--trust-model", "always"),
                        *("--homedir", str(self.stack.gpg_home), "--recipient", self.stack.recipient),
                        *("--output", str(target_dir / f"{file_name}.gpg"), "--encrypt", str(wallet_dir / file_name)),
                    ],
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                count += 1
        return count

    def payout(self, escrow: _Escrow, destination: str) -> tuple[Run, tuple[str, ...]]:
        signers = [PROPOSER, COSIGNER]
        txids: list[str] = []

        def sequence(clock: _Clock) -> int:
            def open_wallet(role: str) -> None:
                wallet = self.wallets[role]
                wallet.open_wallet(escrow.name, escrow.password)
                wallet.auto_refresh(enable=False)

            def export(role: str) -> str:
                wallet = self.wallets[role]
                wallet.refresh()
                info = wallet.export_multisig_info()
                wallet.store()
                return info

            _parallel(open_wallet, signers)
            clock.mark("open")
            proposer_info, cosigner_info = _parallel(export, signers)
            clock.mark("refresh, export")

            def import_other(pair: tuple[str, str]) -> None:
                wallet = self.wallets[pair[0]]
                wallet.import_multisig_info([pair[1]])
                wallet.store()

            _parallel(import_other, [(PROPOSER, cosigner_info), (COSIGNER, proposer_info)])
            clock.mark("import")
            proposal = self.wallets[PROPOSER].sweep_all(destination)
            clock.mark("sweep_all")
            cosigner = self.wallets[COSIGNER]
            [description] = cosigner.describe_transfer(proposal.multisig_txset)
            if [r.address for r in description.recipients] != [destination] or description.amount_in != FUNDING:
                raise RuntimeError(f"the proposal of {escrow.name} does not pay what it should: {description}")
            signed = cosigner.sign_multisig(proposal.multisig_txset)
            cosigner.store()
            clock.mark("describe, sign")
            txids.extend(cosigner.submit_multisig(signed.tx_data_hex))
            clock.mark("submit")
            if not txids or txids != list(signed.tx_hash_list):
                raise RuntimeError(f"the payout of {escrow.name} was not submitted as signed")
            return 0

        run = self._timed(sequence)
        self._close_all(signers)
        return run, tuple(txids)


def measure(stack: EscrowStack, runs: int, console: Console) -> tuple[list[Figure], list[str]]:
    """The raw side of both figures (``runs`` runs each), then each registered marketplace side."""
    raw = _RawSide(stack)
    notes: list[str] = []
    try:
        setups: list[Run] = []
        escrows: list[_Escrow] = []
        for index in range(runs):
            with console.status(f"raw setup {index + 1}/{runs}"):
                run, escrow = raw.setup(f"bench-{index}-{secrets.token_hex(4)}")
            console.print(f"  raw setup {index + 1}: {run.seconds:.2f} s, {run.rpc_calls} calls", highlight=False)
            setups.append(run)
            escrows.append(escrow)
        with console.status("funding each escrow (not timed)"):
            for escrow in escrows:
                stack.cluster.pay(escrow.address, FUNDING)
            stack.cluster.mine(UNLOCK_BLOCKS)
        payouts: list[Run] = []
        arrivals: list[tuple[str, str]] = []
        for index, escrow in enumerate(escrows):
            destination = stack.cluster.new_personal_address()
            with console.status(f"raw payout {index + 1}/{runs}"):
                run, _ = raw.payout(escrow, destination)
            console.print(f"  raw payout {index + 1}: {run.seconds:.2f} s, {run.rpc_calls} calls", highlight=False)
            payouts.append(run)
            arrivals.append((escrow.name, destination))
        stack.cluster.mine(1)
        for name, destination in arrivals:
            received = stack.cluster.received(destination)
            if not 0 < received < FUNDING:
                raise RuntimeError(f"the payout of {name} did not arrive: {received} piconero at its address")
        notes.append(f"each of the {len(arrivals)} raw payouts was mined and arrived (1 XMR less the network fee)")
    finally:
        raw.close()
    figures = [Figure(SETUP, setups), Figure(PAYOUT, payouts)]
    for figure in figures:
        measure_marketplace = MARKETPLACE_SIDE.get(figure.key)
        if measure_marketplace is not None:
            with console.status(f"{figure.label} through the marketplace"):
                figure.marketplace = measure_marketplace(stack, runs)
    return figures, notes


def run_escrow_bench(runs: int, console: Console) -> EscrowResult:
    """Start a regtest cluster and a throwaway backup key, measure, stop everything."""
    workdir = Path(tempfile.mkdtemp(prefix="marketplace-bench-escrow-"))
    gpg_home = workdir / "gnupg"
    cluster: RegtestCluster | None = None
    try:
        recipient = make_throwaway_key(gpg_home, BACKUP_USER_ID)
        with console.status("starting a regtest cluster (monerod, 8 wallet-rpcs, 80 blocks)"):
            cluster = start_regtest()
        console.print(f"regtest cluster up in {cluster.startup_seconds:.1f} s", highlight=False)
        stack = EscrowStack(cluster, gpg_home, recipient, workdir)
        figures, notes = measure(stack, runs, console)
        return EscrowResult(figures, cluster.startup_seconds, notes)
    finally:
        if cluster is not None:
            cluster.stop()
        stop_gpg_agent(gpg_home)
        shutil.rmtree(workdir, ignore_errors=True)


# --- the table --------------------------------------------------------------------------------------

HEADERS = (
    "wait",
    "raw median s",
    "raw min–max s",
    "raw RPC calls",
    "raw opens",
    "through the marketplace s",
    "calls",
    "opens",
    "overhead",
)


def _calls(runs: list[Run]) -> str:
    counts = sorted({run.rpc_calls for run in runs})
    return "/".join(str(count) for count in counts)


def _opens(runs: list[Run]) -> str:
    return "/".join(str(count) for count in sorted({run.opens for run in runs}))


def _cells(figure: Figure) -> list[str]:
    seconds = [run.seconds for run in figure.raw]
    cells = [
        figure.label,
        f"{figure.raw_median:.2f}",
        f"{min(seconds):.2f}–{max(seconds):.2f}",
        _calls(figure.raw),
        _opens(figure.raw),
    ]
    overhead = figure.overhead
    if figure.marketplace is None or overhead is None:
        return [*cells, "not built yet", "—", "—", "—"]
    extra, ratio = overhead
    verdict = "met" if figure.target_met else "MISSED"
    return [
        *cells,
        f"{figure.marketplace_median:.2f}",
        _calls(figure.marketplace),
        _opens(figure.marketplace),
        f"{extra:+.2f} s, {ratio:.2f}× ({verdict})",
    ]


def breakdown(figure: Figure) -> str:
    """The raw sequence's calls by method (the first run's; every run made the same calls)."""
    calls = figure.raw[0].calls
    text = ", ".join(f"{method} ×{count}" for method, count in calls.items())
    gpg = figure.raw[0].gpg_runs
    return text + (f"; gpg --encrypt ×{gpg}" if gpg else "")


def phases(figure: Figure) -> str:
    """The raw sequence's phases, median seconds of each over the runs."""
    names = list(figure.raw[0].phases)
    return ", ".join(
        f"{name} {statistics.median(run.phases.get(name, 0.0) for run in figure.raw):.2f}" for name in names
    )


def print_table(console: Console, result: EscrowResult) -> None:
    runs = len(result.figures[0].raw) if result.figures else 0
    table = Table(
        title=f"Escrow on regtest, median of {runs} runs each (overhead target: under 20% or under 2 s)",
        title_justify="left",
    )
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if index == 0 else "right")
    for figure in result.figures:
        missed = figure.target_met is False
        table.add_row(*_cells(figure), style="bold red" if missed else None)
    console.print(table)
    for figure in result.figures:
        console.print(f"  raw {figure.label}: {breakdown(figure)}", highlight=False)
        console.print(f"    phases, median s: {phases(figure)}", highlight=False)
    if any(figure.marketplace is None for figure in result.figures):
        console.print(
            "  through the marketplace (order API and `marketplace worker`): comes with the escrow integration",
            highlight=False,
        )
    for note in result.notes:
        console.print(f"  {note}", highlight=False)


def markdown_table(result: EscrowResult) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|---|" + "---:|" * (len(HEADERS) - 1)]
    lines += ["| " + " | ".join(_cells(figure)) + " |" for figure in result.figures]
    lines.append("")
    for figure in result.figures:
        lines += [f"- raw {figure.label}: {breakdown(figure)}", f"  (phases, median s: {phases(figure)})"]
    lines += [f"- {note}" for note in result.notes]
    return "\n".join(lines)


def failed(result: EscrowResult) -> bool:
    return any(figure.target_met is False for figure in result.figures)


def versions() -> dict[str, str]:
    """monerod's and gpg's versions, for the record."""
    found: dict[str, str] = {}
    for name, command in (("monero", ["monerod", "--version"]), ("gpg", ["gpg", "--version"])):
        try:
            output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            output = ""
        first = output.strip().splitlines()[:1]
        found[name] = first[0] if first else "not found"
    return found
