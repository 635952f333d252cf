"""The worker's metrics: job runs, Monero RPC calls, the last probe, and its own ``/metrics`` port.

- ``record_job_run`` (``jobs.worker``): ``JOB_RUNS{kind,result}`` and ``JOB_DURATION{kind}``.
- ``record_rpc`` (``monero.rpc``, every attempt of every call): ``RPC_DURATION{service,method,
  endpoint}`` and, for a failed attempt, ``RPC_ERRORS{service,method,endpoint,error}`` with error
  ``transient`` or ``permanent`` as ``rpc_errors`` classifies it. ``method`` is the JSON-RPC
  method or the plain path (``/get_height``), ``endpoint`` the ``host:port`` of the configured
  URL: never a login, a password or a wallet name.
- ``PROBE`` (``jobs.worker.Worker.probe_once``): the last probe's results, exported at scrape time
  as ``DEPENDENCY_UP{dependency}`` (the names ``/ready`` uses), ``MONEROD_HEIGHT`` and
  ``SIGNER_SYNC_LAG{role,endpoint}`` (monerod's height minus the height of the wallet open at
  that endpoint; no sample for an endpoint with no wallet open). Held in memory and exported by a
  collector rather than gauges, so a dependency that is no longer configured leaves no series.

``observability.worker_server`` serves them on the worker's own port. This module imports nothing
of the database or the orders (``monero.rpc`` and ``jobs.worker`` import it).

The counters and histograms live in prometheus-client's default registry, created on first use.
**This module does not import prometheus-client** (nor does anything importing it at start):
``marketplace serve`` must set multiprocess mode before prometheus-client is first imported
(``observability.registry``), and the CLI imports ``monero.rpc`` and ``jobs.worker``. In the web
process the counters are created only if it calls an RPC (the development demo wallet), in
multiprocess mode like its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from marketplace.observability import names

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram
    from prometheus_client.core import Metric

# Job runs last from milliseconds (a deadline check) to minutes (a multisig payout on a slow
# machine); RPC calls from a millisecond (get_version) to a minute (a wallet open, a transfer).
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class _Metrics:
    job_runs: Counter
    job_duration: Histogram
    rpc_duration: Histogram
    rpc_errors: Counter


@cache
def _metrics() -> _Metrics:
    from prometheus_client import Counter, Histogram

    return _Metrics(
        job_runs=Counter(names.JOB_RUNS, "Job runs by kind and how they ended.", ["kind", "result"]),
        job_duration=Histogram(names.JOB_DURATION, "Time to run one job, by kind.", ["kind"], buckets=JOB_BUCKETS),
        rpc_duration=Histogram(
            names.RPC_DURATION,
            "Time of one attempt of a monerod or monero-wallet-rpc call.",
            ["service", "method", "endpoint"],
            buckets=RPC_BUCKETS,
        ),
        rpc_errors=Counter(
            names.RPC_ERRORS,
            "Failed attempts of monerod and monero-wallet-rpc calls.",
            ["service", "method", "endpoint", "error"],
        ),
    )


def endpoint_label(url: str) -> str:
    """``host:port`` of an RPC URL (no scheme, no login, no path): the ``endpoint`` label."""
    parts = urlsplit(url)
    host = parts.hostname or "unknown"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return f"{host}:{port}"


def record_job_run(kind: str, result: str, seconds: float) -> None:
    metrics = _metrics()
    metrics.job_runs.labels(kind, result).inc()
    metrics.job_duration.labels(kind).observe(seconds)


def record_rpc(service: str, method: str, endpoint: str, seconds: float, *, error: BaseException | None) -> None:
    _metrics().rpc_duration.labels(service, method, endpoint).observe(seconds)
    if error is not None:
        record_rpc_error(service, method, endpoint, error)


def record_rpc_error(service: str, method: str, endpoint: str, error: BaseException) -> None:
    """Count a failed attempt (``record_rpc`` does for the transport and JSON-RPC errors; a client
    that refuses an answer after the fact, monerod's ``status: BUSY``, calls this)."""
    kind = "transient" if getattr(error, "transient", False) is True else "permanent"
    _metrics().rpc_errors.labels(service, method, endpoint, kind).inc()


# --- the last probe ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbedDependency:
    """One dependency as the last probe found it. ``height``: monerod's chain height, or the
    height of the wallet open at a signer endpoint (None when unknown or none is open)."""

    name: str
    ok: bool
    height: int | None = None
    role: str | None = None
    url: str | None = None


class ProbeCollector:
    """Exports the last probe's results (see the module docstring); empty until a probe ran.

    A prometheus-client collector by its ``collect`` (``worker_server`` registers it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[ProbedDependency, ...] = ()

    def record(self, results: Iterable[ProbedDependency]) -> None:
        with self._lock:
            self._last = tuple(results)

    def clear(self) -> None:
        self.record(())

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        with self._lock:
            last = self._last
        if not last:
            return
        up = GaugeMetricFamily(
            names.DEPENDENCY_UP, "1 when the last probe of the dependency passed.", labels=["dependency"]
        )
        for item in last:
            up.add_metric([item.name], 1.0 if item.ok else 0.0)
        yield up
        daemon = next((item for item in last if item.role is None and item.height is not None and item.ok), None)
        if daemon is None or daemon.height is None:
            return
        yield GaugeMetricFamily(
            names.MONEROD_HEIGHT, "monerod's chain height at the last probe, in blocks.", value=daemon.height
        )
        lag = GaugeMetricFamily(
            names.SIGNER_SYNC_LAG,
            "monerod's height minus the height of the wallet open at the signer endpoint, in blocks.",
            labels=["role", "endpoint"],
        )
        for item in last:
            if item.role is not None and item.url is not None and item.height is not None and item.ok:
                lag.add_metric([item.role, endpoint_label(item.url)], float(daemon.height - item.height))
        yield lag


PROBE = ProbeCollector()
