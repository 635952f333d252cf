"""The worker's own metrics: job runs, Monero RPC attempts, the last probe, and its /metrics port.

Counters live in prometheus-client's process-wide registry, so each test reads the change it made
(labels unique to the test: a job kind, an endpoint's port).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import httpx2
import orjson
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from marketplace import __version__
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.jobs.health import HealthCheck
from marketplace.jobs.worker import JobContext, JobOutcome, Worker
from marketplace.monero.rpc import DaemonRpc, WalletRpc
from marketplace.monero.rpc_errors import RpcUnavailable, WalletNotOpen
from marketplace.observability import names, worker_metrics
from marketplace.observability.worker_server import serve_worker_metrics, worker_registry
from marketplace.settings import Settings, load_settings
from tests.jobs.conftest import add_job


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- jobs ------------------------------------------------------------------------------------


def test_each_job_run_counts_by_kind_and_result_with_its_duration(database: Database) -> None:
    def done(ctx: JobContext) -> JobOutcome:
        return JobOutcome.done()

    def broken(ctx: JobContext) -> JobOutcome:
        raise ValueError("no such order")

    def waiting(ctx: JobContext) -> JobOutcome:
        return JobOutcome.reschedule(ctx.now + timedelta(minutes=5), "confirmations")

    handlers = {"metrics.done": done, "metrics.broken": broken, "metrics.waiting": waiting}
    for kind in ("metrics.done", "metrics.done", "metrics.broken", "metrics.waiting"):
        add_job(database, kind)
    before = {kind: sample(names.JOB_DURATION + "_count", kind=kind) for kind in handlers}
    runs = [("metrics.done", "done"), ("metrics.broken", "failed"), ("metrics.waiting", "rescheduled")]
    runs_before = {run: sample(names.JOB_RUNS, kind=run[0], result=run[1]) for run in runs}

    worker = Worker(database, handlers, worker_id="metrics-1", lease_seconds=60)
    while worker.run_once() is not None:
        pass

    assert {run: sample(names.JOB_RUNS, kind=run[0], result=run[1]) - runs_before[run] for run in runs} == {
        ("metrics.done", "done"): 2,
        ("metrics.broken", "failed"): 1,
        ("metrics.waiting", "rescheduled"): 1,
    }
    assert {kind: sample(names.JOB_DURATION + "_count", kind=kind) - before[kind] for kind in handlers} == {
        "metrics.done": 2,
        "metrics.broken": 1,
        "metrics.waiting": 1,
    }


# --- RPC -------------------------------------------------------------------------------------


def _answer(request: httpx2.Request) -> httpx2.Response:
    method = orjson.loads(request.content).get("method")
    if method == "get_version":
        return httpx2.Response(200, json={"id": "0", "jsonrpc": "2.0", "result": {"version": 65562}})
    if method == "get_height":
        return httpx2.Response(
            200, json={"id": "0", "jsonrpc": "2.0", "error": {"code": -13, "message": "No wallet file"}}
        )
    return httpx2.Response(
        200, json={"id": "0", "jsonrpc": "2.0", "error": {"code": -1, "message": "Failed to open wallet"}}
    )


def test_rpc_attempts_are_timed_per_method_and_endpoint_and_failures_counted_transient_or_permanent() -> None:
    endpoint = "127.0.0.1:28083"
    wallet = WalletRpc(
        f"http://{endpoint}/",
        login=("rpcuser", "rpc-password-7"),
        transport=httpx2.MockTransport(_answer),
        retry_delay=0,
    )
    with wallet:
        wallet.get_version()
        wallet.get_version()
        with pytest.raises(WalletNotOpen):
            wallet.get_height()
        with pytest.raises(Exception, match="Failed to open wallet"):
            wallet.open_wallet("escrow-wallet-4f2a9c", "wallet-password-55")

    labels = {"service": "wallet", "endpoint": endpoint}
    assert sample(names.RPC_DURATION + "_count", method="get_version", **labels) == 2
    assert sample(names.RPC_DURATION + "_count", method="get_height", **labels) == 1
    assert sample(names.RPC_ERRORS, method="get_height", error="permanent", **labels) == 1
    assert sample(names.RPC_ERRORS, method="open_wallet", error="permanent", **labels) == 1
    assert sample(names.RPC_ERRORS, method="get_version", error="permanent", **labels) == 0
    exported = generate_latest(REGISTRY).decode()
    for secret in ("rpcuser", "rpc-password-7", "escrow-wallet-4f2a9c", "wallet-password-55"):
        assert secret not in exported


def test_a_daemon_that_refuses_connections_counts_one_transient_error_per_attempt() -> None:
    port = _free_port()  # nothing listens there: a real refused connection
    endpoint = f"127.0.0.1:{port}"
    with DaemonRpc(f"http://{endpoint}", timeout=5, retry_delay=0) as daemon, pytest.raises(RpcUnavailable):
        daemon.get_height()

    # /get_height is a read: sent once and retried twice (MAX_RETRIES), each attempt counted.
    labels = {"service": "daemon", "method": "/get_height", "endpoint": endpoint}
    assert sample(names.RPC_ERRORS, error="transient", **labels) == 3
    assert sample(names.RPC_DURATION + "_count", **labels) == 3


def test_a_busy_daemon_answer_counts_as_a_transient_error() -> None:
    endpoint = "127.0.0.1:28081"

    def busy(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"status": "BUSY"})

    daemon = DaemonRpc(f"http://{endpoint}", transport=httpx2.MockTransport(busy), retry_delay=0)
    with daemon, pytest.raises(RpcUnavailable, match="daemon busy"):
        daemon.get_height()

    labels = {"service": "daemon", "method": "/get_height", "endpoint": endpoint}
    assert sample(names.RPC_ERRORS, error="transient", **labels) == 1
    assert sample(names.RPC_ERRORS, error="permanent", **labels) == 0


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("http://127.0.0.1:18081", "127.0.0.1:18081"),
        ("http://user:secret@wallet.internal:18083/json_rpc", "wallet.internal:18083"),
        ("https://node.example", "node.example:443"),
        ("http://[::1]:18081", "[::1]:18081"),
    ],
)
def test_the_endpoint_label_is_host_and_port_only(url: str, label: str) -> None:
    assert worker_metrics.endpoint_label(url) == label


# --- the probe and the /metrics port ----------------------------------------------------------


@pytest.fixture
def probe_cleared() -> Iterator[None]:
    worker_metrics.PROBE.clear()
    yield
    worker_metrics.PROBE.clear()


def _scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (item.name, tuple(sorted(item.labels.items()))): item.value
        for family in text_string_to_metric_families(text)
        for item in family.samples
    }


def _checks(*, signer_height: int | None, with_vendor: bool = True) -> list[HealthCheck]:
    checks = [
        HealthCheck("monerod", ok=True, detail="height 120, fakechain", height=120),
        HealthCheck(
            "signer:buyer:http://127.0.0.1:18083",
            ok=True,
            height=signer_height,
            role="buyer",
            url="http://127.0.0.1:18083",
        ),
    ]
    if with_vendor:
        checks.append(
            HealthCheck(
                "signer:vendor:http://127.0.0.1:18084",
                ok=False,
                detail="cannot connect",
                role="vendor",
                url="http://127.0.0.1:18084",
            )
        )
    return checks


def _serve(settings: Settings, database: Database) -> tuple[str, object]:
    port = _free_port()
    served = serve_worker_metrics(
        load_settings(**{**settings.model_dump(), "worker_metrics_port": port}),
        worker_registry(database, settings, kinds=["escrow.watch"]),
    )
    assert served is not None
    return f"http://127.0.0.1:{port}/metrics", served[0]


def test_the_worker_port_serves_the_probe_the_database_and_the_process_metrics(
    database: Database, settings: Settings, probe_cleared: None
) -> None:
    results = iter([_checks(signer_height=115), _checks(signer_height=None, with_vendor=False)])
    worker = Worker(database, {}, worker_id="metrics-probe", probe=lambda: next(results))
    add_job(database, "escrow.watch", run_at=utcnow() - timedelta(seconds=30))
    url, server = _serve(settings, database)
    try:
        worker.probe_once()
        first = _scrape(httpx2.get(url, trust_env=False).text)
        worker.probe_once()
        second = _scrape(httpx2.get(url, trust_env=False).text)
    finally:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]

    up = {dict(key)["dependency"]: value for (name, key), value in first.items() if name == names.DEPENDENCY_UP}
    assert up == {
        "monerod": 1.0,
        "signer:buyer:http://127.0.0.1:18083": 1.0,
        "signer:vendor:http://127.0.0.1:18084": 0.0,
    }
    assert first[(names.MONEROD_HEIGHT, ())] == 120
    lag = {key: value for (name, key), value in first.items() if name == names.SIGNER_SYNC_LAG}
    assert lag == {(("endpoint", "127.0.0.1:18083"), ("role", "buyer")): 5.0}  # no wallet height: no sample
    assert first[(names.JOBS, (("kind", "escrow.watch"), ("state", "queued")))] == 1
    assert first[(names.ORDERS, (("state", "placed"),))] == 0
    assert any(name == names.BUILD_INFO and dict(key)["process"] == "worker" for name, key in first)
    # The next probe replaces the last: a dependency gone and a wallet closed leave no stale series.
    assert {dict(key)["dependency"] for (name, key) in second if name == names.DEPENDENCY_UP} == {
        "monerod",
        "signer:buyer:http://127.0.0.1:18083",
    }
    assert not any(name == names.SIGNER_SYNC_LAG for name, _ in second)


def test_port_zero_serves_nothing(database: Database, settings: Settings) -> None:
    settings = load_settings(**{**settings.model_dump(), "worker_metrics_port": 0})
    assert serve_worker_metrics(settings, worker_registry(database, settings)) is None


@pytest.mark.parametrize("set_elsewhere", ["", "web", "worker"])
def test_build_info_is_exported_once_whoever_defines_it(
    database: Database, settings: Settings, set_elsewhere: str
) -> None:
    base = CollectorRegistry()
    info = Gauge(names.BUILD_INFO, "Build.", ["version", "python_version", "process"], registry=base)
    if set_elsewhere:  # by the web app's metrics (a web app built in the same process, as in tests), or the worker's
        info.labels("9.9.9", "3.11.0", set_elsewhere).set(1)

    text = generate_latest(worker_registry(database, settings, base=base)).decode()

    assert text.count(f"# TYPE {names.BUILD_INFO} gauge") == 1
    samples = _scrape(text)
    versions = [dict(key)["version"] for name, key in samples if name == names.BUILD_INFO]
    assert versions == (["9.9.9"] if set_elsewhere == "worker" else [__version__])


def test_the_cli_and_the_rpc_clients_import_no_prometheus_client_before_serve_chooses_its_mode() -> None:
    # marketplace serve sets multiprocess mode before prometheus-client is first imported; the
    # worker's metrics must not import it on their way in (the CLI imports the worker and the RPC).
    code = (
        "import sys, marketplace.cli.main, marketplace.monero.rpc, marketplace.jobs.worker, "
        "marketplace.escrow.stack; print('prometheus_client' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False"
