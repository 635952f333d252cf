"""kill -9 on the escrow path: each order still reaches the end it would have reached, paid out once.

Each fault is a real SIGKILL of a real process on the session's regtest cluster:

- the worker (``marketplace worker`` in a process of its own, ``tests/orders/escrow_worker_process.py``:
  the real command and handlers, plus the fault) in the middle of a multisig setup; after signing a
  payout, before saving it; after saving it, before submitting it. The restarted worker is the
  test's own (``escrow_chain.Chain``, a fresh runtime: nothing carried over in memory), which
  claims the dead worker's job once its lease expired;
- the co-signer's monero-wallet-rpc right after it signed (before the signature was stored), with
  the worker alive: the wallet-rpc comes back, signs nothing before a fresh exchange, and signs
  the next attempt.

What is checked is what the parties and the operator would notice: the order's end state and
history, one confirmed settling payout, the payee paid exactly once (``regtest.received``), the
escrow emptied (what was paid out plus the network fee is what was received), and no transaction
of a lost attempt on the chain.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from marketplace.db.base import utcnow
from marketplace.escrow.signer import EscrowWallet, SignerRole
from marketplace.escrow.wallet_signer import WalletSigner
from marketplace.jobs.models import Job, JobState
from marketplace.monero.regtest import RegtestCluster
from marketplace.monero.rpc import SignResult, WalletRpc
from marketplace.orders import states
from marketplace.orders.models import EscrowPayout, OrderState, PayoutPurpose, PayoutState
from tests.conftest import TEST_SECRET_KEY
from tests.orders.conftest import Market
from tests.orders.escrow_chain import Chain, confirmed_payouts, payouts
from tests.orders.escrow_worker_process import FAULT, MARK

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 120.0  # a setup or a payout attempt takes seconds; this only bounds a hung process
LEASE_SECONDS = 3  # the dead worker's jobs are claimed again this soon (the smallest the settings allow)
UNLOCK_BLOCKS = 10  # a payment's outputs are spendable 10 blocks after it was mined, whatever N is
RELEASE_HISTORY = ["placed", "awaiting_payment", "funded", "paying_out", "completed"]
SECRET_FILES = ("wallet_master_key", "signer_buyer_login", "signer_vendor_login", "signer_arbiter_login")


@pytest.fixture
def settings_overrides(escrow_settings: dict[str, Any]) -> dict[str, Any]:
    return {**escrow_settings, "payment_poll_seconds": 0}


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    mark: Path

    def wait_for_mark(self) -> dict[str, Any]:
        """The fault's mark (the process reached the fault); fails with the log if it ends or hangs first."""
        deadline = time.monotonic() + WAIT_S
        while not self.mark.exists():
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited ({self.process.returncode}) before its fault:\n{self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not reach its fault within {WAIT_S} s:\n{self.text()}")
            time.sleep(0.05)
        facts: dict[str, Any] = json.loads(self.mark.read_text(encoding="utf-8"))
        return facts

    def killed(self) -> None:
        """Wait for the process to be dead of SIGKILL (its own or the test's)."""
        try:
            code = self.process.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not die within {WAIT_S} s:\n{self.text()}")
        assert code == -signal.SIGKILL, self.text()

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def start_worker(
    database_url: str, settings_overrides: dict[str, Any], tmp_path: Path
) -> Iterator[Callable[[str], WorkerProcess]]:
    """``marketplace worker`` in a process of its own with ``fault`` (see escrow_worker_process.py),
    set up through the environment only, secrets through ``*_FILE``."""
    started: list[WorkerProcess] = []
    secrets_dir = tmp_path / "worker-secrets"
    secrets_dir.mkdir(mode=0o700)

    def start(fault: str) -> WorkerProcess:
        env = {name: value for name, value in os.environ.items() if not name.startswith("MARKETPLACE_")}
        for name, value in settings_overrides.items():
            variable = f"MARKETPLACE_{name.upper()}"
            if name in SECRET_FILES:
                path = secrets_dir / name
                path.write_text(str(value), encoding="utf-8")
                env[f"{variable}_FILE"] = str(path)
            else:
                env[variable] = str(value)
        env.update(
            MARKETPLACE_ENV="production",
            MARKETPLACE_SECRET_KEY=TEST_SECRET_KEY,
            MARKETPLACE_DATABASE_URL=database_url,
            MARKETPLACE_DATA_DIR=str(tmp_path / "worker-data"),
            MARKETPLACE_WORKER_POLL_SECONDS="0.05",
            MARKETPLACE_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
            MARKETPLACE_WORKER_PROBE_SECONDS="3600",
        )
        mark = tmp_path / f"fault-{len(started)}.json"
        env[FAULT], env[MARK] = fault, str(mark)
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.orders.escrow_worker_process", "worker", "--worker-id", "doomed"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        started.append(WorkerProcess(process, log, mark))
        return started[-1]

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(WAIT_S)


# --- what the tests read ---------------------------------------------------------------------


def _job(market: Market, order_id: str, kind: str) -> Job:
    jobs = market.jobs(order_id, kind)
    assert len(jobs) == 1, jobs
    return jobs[0]


def _when_lease_expired(market: Market, order_id: str, kind: str) -> None:
    """Wait until the dead worker's lease on the order's ``kind`` job has expired (it still holds it)."""
    job = _job(market, order_id, kind)
    assert (job.state, job.claimed_by) == (JobState.RUNNING, "doomed")
    assert job.lease_expires_at is not None
    time.sleep(max(0.0, (job.lease_expires_at - utcnow()).total_seconds()) + 0.2)


def _when_due(market: Market, order_id: str, kind: str) -> None:
    job = _job(market, order_id, kind)
    time.sleep(max(0.0, (job.run_at - utcnow()).total_seconds()) + 0.2)


def _history(market: Market, order_id: str) -> list[str]:
    return [event["to_state"] for event in market.get(order_id)["history"]]


def _funded_and_unlocked(market: Market, chain: Chain, regtest: RegtestCluster, order_id: str) -> int:
    """Set up, pay and fund the order with the test's worker, then mine until its outputs can be spent."""
    chain.run(lambda: market.state(order_id) is OrderState.AWAITING_PAYMENT, what="setup")
    escrow = market.get(order_id)["escrow"]
    due: int = escrow["amount_due_atomic"]
    regtest.pay(escrow["address"], due)
    chain.run(lambda: market.state(order_id) is OrderState.FUNDED, what="funding")
    regtest.mine(UNLOCK_BLOCKS)
    return due


def _assert_released_once(
    market: Market, regtest: RegtestCluster, order_id: str, due: int, addresses: dict[str, str]
) -> EscrowPayout:
    """Completed; exactly one confirmed settling payout, paying the vendor once; the escrow emptied."""
    assert market.state(order_id) is OrderState.COMPLETED
    assert _history(market, order_id) == RELEASE_HISTORY
    confirmed = confirmed_payouts(market.database, order_id)
    assert len(confirmed) == 1, confirmed
    (payout,) = confirmed
    assert payout.purpose is PayoutPurpose.RELEASE
    assert [destination["role"] for destination in payout.destinations] == ["vendor"]
    paid = payout.destinations[0]["amount_atomic"]
    assert paid + payout.network_fee_atomic == due  # nothing left in the escrow
    assert regtest.received(addresses["vendor"]) == paid  # the vendor was paid once
    assert regtest.received(addresses["buyer"]) == 0
    shown = market.get(order_id)["escrow"]["payouts"]  # what the buyer sees: one payout, confirmed
    assert [(item["txids"], item["state"]) for item in shown] == [(list(payout.txids), "confirmed")]
    return payout


def _never_mined(regtest: RegtestCluster, txids: list[str]) -> bool:
    return not any(transaction.found for transaction in regtest.daemon.get_transactions(txids))


# --- 1. the worker killed during a multisig setup --------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_killed_during_multisig_setup_is_followed_by_a_new_setup_and_the_order_completes(
    market: Market,
    chains: Callable[[], Chain],
    start_worker: Callable[[str], WorkerProcess],
    regtest: RegtestCluster,
    addresses: dict[str, str],
) -> None:
    order_id = market.place(refund_address=addresses["buyer"])
    doomed = start_worker("setup")
    first_wallet = doomed.wait_for_mark()["wallet_name"]
    during = market.order(order_id)
    assert (during.state, during.escrow_setup_attempt, during.escrow_wallet_name) == (
        OrderState.PLACED,
        1,
        first_wallet,
    )

    doomed.process.send_signal(signal.SIGKILL)
    doomed.killed()

    assert market.get(order_id)["escrow"]["address"] is None  # nothing was shown to pay into
    for role in SignerRole:  # the dead attempt's wallets were made: they stay on disk, unused
        assert (regtest.wallet_dir[role] / f"{first_wallet}.keys").is_file()
    _when_lease_expired(market, order_id, states.SETUP_JOB)
    chain = chains()  # the restarted worker
    due = _funded_and_unlocked(market, chain, regtest, order_id)

    order = market.order(order_id)
    assert order.escrow_setup_attempt == 2
    assert order.escrow_wallet_name == EscrowWallet.for_attempt(order_id, 2).wallet_name
    backups = Path(market.settings.resolved_backup_dir)
    name = order.escrow_wallet_name
    assert sorted(str(path.relative_to(backups)) for path in backups.rglob("*.gpg")) == sorted(
        f"{role}/{name}{suffix}.gpg" for role in SignerRole for suffix in ("", ".keys")
    )  # the new attempt's wallets, backed up before the address was shown; nothing of the dead one
    assert market.post(market.buyer, order_id, "confirm", {}).status_code == 202
    chain.run(lambda: market.state(order_id) is OrderState.COMPLETED, what="release")

    _assert_released_once(market, regtest, order_id, due, addresses)


# --- 2. the worker killed between signing and recording a payout -----------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("fault", ["signed", "saved"])
def test_a_worker_killed_between_signing_and_recording_a_payout_pays_out_exactly_once(
    fault: str,
    *,
    market: Market,
    chains: Callable[[], Chain],
    start_worker: Callable[[str], WorkerProcess],
    regtest: RegtestCluster,
    addresses: dict[str, str],
) -> None:
    order_id = market.place(refund_address=addresses["buyer"])
    due = _funded_and_unlocked(market, chains(), regtest, order_id)
    assert market.post(market.buyer, order_id, "confirm", {}).status_code == 202

    doomed = start_worker(fault)
    died_at = doomed.wait_for_mark()
    doomed.killed()  # by its own SIGKILL: "signed" right after both signatures, "saved" before submitting

    saved = payouts(market.database, order_id)
    if fault == "signed":
        assert saved == []  # the signed transaction was in the dead worker's memory only
    else:
        assert [(payout.attempt, payout.state) for payout in saved] == [(1, PayoutState.SIGNED)]
        assert _never_mined(regtest, saved[0].txids)  # saved, never submitted
    assert market.state(order_id) is OrderState.PAYING_OUT
    _when_lease_expired(market, order_id, states.PAYOUT_JOB)
    chain = chains()  # the restarted worker
    chain.run(lambda: market.state(order_id) is OrderState.COMPLETED, what="release after the crash")

    payout = _assert_released_once(market, regtest, order_id, due, addresses)
    attempts = [(item.attempt, item.state) for item in payouts(market.database, order_id)]
    if fault == "signed":
        # A new attempt (a fresh exchange, a new proposal); the lost one can never be mined now.
        assert attempts == [(1, PayoutState.CONFIRMED)]
        assert set(payout.txids).isdisjoint(died_at["txids"])
        assert _never_mined(regtest, died_at["txids"])
    else:
        assert attempts == [(1, PayoutState.CONFIRMED)]  # the saved attempt itself was submitted and mined
        assert payout.txids == saved[0].txids


# --- 3. the co-signer's wallet-rpc killed right after it signed --------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cosigner_killed_right_after_signing_signs_nothing_before_a_fresh_exchange_and_pays_out_once(
    market: Market,
    chains: Callable[[], Chain],
    regtest: RegtestCluster,
    addresses: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = chains()
    order_id = market.place(refund_address=addresses["buyer"])
    due = _funded_and_unlocked(market, chain, regtest, order_id)
    escrow = EscrowWallet(order_id, market.order(order_id).escrow_wallet_name or "")
    stack = chain.runtime.escrow_stack()
    assert stack is not None
    cosigner = stack.signer(SignerRole.VENDOR)  # the buyer confirms: the buyer proposes, the vendor co-signs
    assert isinstance(cosigner, WalletSigner)
    vendor_urls = [url.rstrip("/") for url in regtest.signer_urls["vendor"]]
    calls: list[tuple[str, str]] = []  # (what, url) of the vendor's wallet-rpcs: "export" and "sign"
    lost: list[SignResult] = []
    real_export, real_sign = WalletRpc.export_multisig_info, WalletRpc.sign_multisig

    def export_multisig_info(rpc: WalletRpc) -> str:
        info = real_export(rpc)
        if rpc.url in vendor_urls:
            calls.append(("export", rpc.url))
        return info

    def sign_multisig(rpc: WalletRpc, tx_data_hex: str) -> SignResult:
        signed = real_sign(rpc, tx_data_hex)
        if rpc.url in vendor_urls:
            calls.append(("sign", rpc.url))
            if not lost:  # the first signature: kill its wallet-rpc before the signature is stored
                lost.append(signed)
                assert cosigner.endpoint_of(escrow) == rpc.url
                index = vendor_urls.index(rpc.url)
                regtest.kill("vendor", index)
                regtest.restart("vendor", index)
        return signed

    monkeypatch.setattr(WalletRpc, "export_multisig_info", export_multisig_info)
    monkeypatch.setattr(WalletRpc, "sign_multisig", sign_multisig)
    assert market.post(market.buyer, order_id, "confirm", {}).status_code == 202

    chain.run(
        lambda: (
            bool(lost)
            and (_job(market, order_id, states.PAYOUT_JOB).attempts > 0 or bool(payouts(market.database, order_id)))
        ),
        what="the first attempt",
    )
    job = _job(market, order_id, states.PAYOUT_JOB)  # refused to sign again on the restarted wallet-rpc
    assert (job.state, job.attempts, (job.last_error or "").split(":")[0]) == (
        JobState.QUEUED,
        1,
        "FreshExchangeRequired",
    )
    assert payouts(market.database, order_id) == []  # the first attempt failed before it was saved
    assert market.state(order_id) is OrderState.PAYING_OUT
    _when_due(market, order_id, states.PAYOUT_JOB)
    chain.run(lambda: market.state(order_id) is OrderState.COMPLETED, what="release after the co-signer's restart")

    payout = _assert_released_once(market, regtest, order_id, due, addresses)
    assert [(item.attempt, item.state) for item in payouts(market.database, order_id)] == [(1, PayoutState.CONFIRMED)]
    (first,) = lost
    assert set(payout.txids).isdisjoint(first.tx_hash_list)
    assert _never_mined(regtest, list(first.tx_hash_list))
    # The co-signer's wallet-rpc that was killed signed once more after its restart, and only
    # after a fresh export (the next attempt's exchange).
    url = next(at for what, at in calls if what == "sign")
    on_it = [what for what, at in calls if at == url]
    after_restart = on_it[on_it.index("sign") + 1 :]
    assert after_restart == ["export", "sign"]
    assert cosigner.health()[vendor_urls.index(url)].restarts_detected >= 1
