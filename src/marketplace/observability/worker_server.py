"""The worker's own ``/metrics`` port: ``worker_registry`` and ``serve_worker_metrics``.

``marketplace worker`` (not with ``--once``) serves, at
``http://<MARKETPLACE_WORKER_METRICS_HOST>:<MARKETPLACE_WORKER_METRICS_PORT>/metrics`` (default
127.0.0.1:9465; port 0: none), with ``prometheus_client.start_http_server`` in a daemon thread:

- everything of the process's default registry (``worker_metrics``' job and RPC counters and
  histograms, and whatever else the process records there, e.g. database errors);
- the last probe (``worker_metrics.PROBE``);
- what is read from the database at scrape time (``escrow_collector.EscrowCollector``);
- ``BUILD_INFO{process="worker"}``: the default registry's if it has a worker sample, else its own
  (one family either way).

The worker is one process and never uses multiprocess mode (``single_process``).
"""

from __future__ import annotations

import logging
import platform
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from marketplace import __version__
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.observability import names
from marketplace.observability.escrow_collector import EscrowCollector
from marketplace.observability.worker_metrics import PROBE
from marketplace.settings import Settings

log = logging.getLogger("marketplace.observability")


def _worker_build_info(metric: Metric) -> bool:
    """A build-info family with a sample of this worker (``process="worker"``)."""
    return metric.name == names.BUILD_INFO and any(
        sample.labels.get("process") == "worker" for sample in metric.samples
    )


class _Forward(Collector):
    """Everything of another registry (no ``describe``: registering it claims no names), except a
    build-info family without a worker sample (unset, or set by a web app built in this process, as
    in tests): ``_BuildInfo`` gives one then, so the output has exactly one build-info family."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            if metric.name == names.BUILD_INFO and not _worker_build_info(metric):
                continue
            yield metric


class _Probe(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from PROBE.collect()


class _BuildInfo(Collector):
    """``BUILD_INFO{process="worker"}``, unless the forwarded registry has a worker sample of its own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        if any(_worker_build_info(metric) for metric in self._registry.collect()):
            return
        info = GaugeMetricFamily(
            names.BUILD_INFO, "The running version (value 1).", labels=["version", "python_version", "process"]
        )
        info.add_metric([__version__, platform.python_version(), "worker"], 1.0)
        yield info


def worker_registry(
    database: Database,
    settings: Settings,
    *,
    kinds: Sequence[str] = (),
    clock: Callable[[], datetime] = utcnow,
    base: CollectorRegistry = REGISTRY,
) -> CollectorRegistry:
    """What the worker's ``/metrics`` serves: ``base`` (the default registry), the probe, the
    database collector (``kinds``: the job kinds to report even with no job), build info (one
    family: ``base``'s when it has a ``process="worker"`` sample, else the worker's own).
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(base))
    registry.register(_Probe())
    registry.register(EscrowCollector(database, settings, kinds=kinds, clock=clock))
    registry.register(_BuildInfo(base))
    return registry


def serve_worker_metrics(settings: Settings, registry: CollectorRegistry) -> tuple[WSGIServer, threading.Thread] | None:
    """Serve ``registry`` at ``http://<worker_metrics_host>:<worker_metrics_port>/metrics`` in a
    daemon thread; None when the port is 0. Raises ``OSError`` when the port is taken."""
    if settings.worker_metrics_port == 0:
        return None
    server, thread = start_http_server(
        settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=registry
    )
    host, port = server.server_address[:2]
    log.info("worker_metrics_listening", extra={"url": f"http://{_url_host(str(host))}:{port}/metrics"})
    return server, thread


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
