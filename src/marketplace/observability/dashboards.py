"""The three Grafana dashboards (System, HTTP and Escrow Overview), written as code.

``deploy/grafana/dashboards/*.json`` is generated from this module
(``python -m marketplace.observability.dashboards`` rewrites it; ``tests/deploy/test_grafana.py``
fails when a file is stale). ``panel_queries()`` lists every panel's PromQL for the end-to-end
test, which runs each one against a Prometheus scraping a running marketplace.

Rules the queries follow:

- no Grafana variable at all (no ``$__rate_interval``, no ``$instance``): every query is plain
  PromQL that Prometheus's HTTP API answers as written. Rate windows are ``[5m]`` (at least four
  scrapes at the default 15 s interval).
- a counter that only appears with its first event (errors, failures, disputes) falls back to
  ``0 *`` a series that is always there (``... or ... * 0``): the panel shows 0 instead of
  "No data", and still shows nothing at all when the process that exports it is not scraped.
- the recording rules of ``deploy/prometheus/rules/*.yml`` (names with ``:``) carry the
  long expressions; the dashboards and the alerts share them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketplace.observability import names

DATASOURCE_UID = "marketplace-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
FOLDER_UID = "marketplace"
OPEN_STATES = "placed|awaiting_payment|funded|shipped|disputed|paying_out"


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    targets: tuple[Target, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    file_name: str
    description: str
    panels: tuple[Panel, ...]


def _t(expr: str, legend: str = "") -> tuple[Target, ...]:
    return (Target(expr, legend),)


def _quantile(q: float, by: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (marketplace:http_request_duration_seconds_bucket:rate5m))"


SYSTEM = Dashboard(
    uid="marketplace-system",
    title="System Overview",
    file_name="system-overview.json",
    description="Hosts (node-exporter) and the processes of each service: CPU, memory, disk, network.",
    panels=(
        Panel("CPU used per host", _t("instance:node_cpu_utilisation:rate5m", "{{instance}}"), "percentunit"),
        Panel("Memory used per host", _t("instance:node_memory_utilisation:ratio", "{{instance}}"), "percentunit"),
        Panel(
            "Disk space used per mount",
            _t("instance_mountpoint:node_filesystem_usage:ratio", "{{instance}} {{mountpoint}}"),
            "percentunit",
        ),
        Panel(
            "Disk I/O",
            (
                Target("sum by (instance) (rate(node_disk_read_bytes_total[5m]))", "{{instance}} read"),
                Target("sum by (instance) (rate(node_disk_written_bytes_total[5m]))", "{{instance}} written"),
            ),
            "Bps",
        ),
        Panel(
            "Network",
            (
                Target("sum by (instance) (rate(node_network_receive_bytes_total[5m]))", "{{instance}} received"),
                Target("sum by (instance) (rate(node_network_transmit_bytes_total[5m]))", "{{instance}} sent"),
            ),
            "Bps",
        ),
        Panel(
            "CPU per service",
            _t("sum by (job) (rate(process_cpu_seconds_total[5m]))", "{{job}}"),
            "percentunit",
            description="CPU seconds per second of each scraped process (the web workers in multiprocess mode "
            "export no process metrics: see docs/observability.md).",
        ),
        Panel("Memory per service", _t("sum by (job) (process_resident_memory_bytes)", "{{job}}"), "bytes"),
        Panel("Scrape targets up", _t("up", "{{job}} {{instance}}"), "short"),
    ),
)

_HTTP_TOTAL = "sum by (route) (marketplace:http_requests:rate5m)"
HTTP = Dashboard(
    uid="marketplace-http",
    title="HTTP Overview",
    file_name="http-overview.json",
    description="The web process: request rate, errors and latency by route template, database errors and lock waits.",
    panels=(
        Panel("Requests per second by route", _t(_HTTP_TOTAL, "{{route}}"), "reqps"),
        Panel(
            "Server errors (5xx share)",
            _t("marketplace:http_error_ratio:rate5m", "{{job}}"),
            "percentunit",
            description="Share of responses that are 5xx, over 5 minutes (the HighErrorRate alert's input).",
        ),
        Panel(
            "Responses by status class",
            _t("sum by (status_class) (marketplace:http_requests:rate5m)", "{{status_class}}"),
            "reqps",
        ),
        Panel("p50 latency by route", _t(_quantile(0.5, "route"), "{{route}}"), "s"),
        Panel("p95 latency by route", _t(_quantile(0.95, "route"), "{{route}}"), "s"),
        Panel("p99 latency by route", _t(_quantile(0.99, "route"), "{{route}}"), "s"),
        Panel(
            "Database errors",
            _t(
                f"sum by (process) (rate({names.DB_ERRORS}[5m])) or sum by (process) ({names.BUILD_INFO}) * 0",
                "{{process}}",
            ),
            "short",
        ),
        Panel(
            "Write lock wait p95",
            _t(
                f"histogram_quantile(0.95, sum by (le, process) (rate({names.DB_LOCK_WAIT}_bucket[5m])))",
                "{{process}}",
            ),
            "s",
        ),
    ),
)

_RPC_COUNT = f"{names.RPC_DURATION}_count"
ESCROW = Dashboard(
    uid="marketplace-escrow",
    title="Escrow Overview",
    file_name="escrow-overview.json",
    description="Orders and their escrow: states, time in state, stuck orders, XMR held, payouts, Monero RPC, jobs.",
    panels=(
        Panel("Orders by state", _t(f"sum by (state) ({names.ORDERS})", "{{state}}"), "short"),
        Panel(
            "Oldest order per open state (time in state)",
            _t("state:marketplace_order_oldest_age_seconds:max", "{{state}}"),
            "s",
        ),
        Panel(
            "Stuck orders (oldest age / stuck threshold)",
            _t(
                "state:marketplace_order_oldest_age_seconds:max"
                " / on (state) group_left () marketplace:order_stuck_threshold_seconds",
                "{{state}}",
            ),
            "percentunit",
            description="Above 100% an order has been in its state longer than its threshold: OrderStuck fires.",
        ),
        Panel("XMR held in escrow", _t(f"sum({names.ESCROW_HELD}) / 1e12", "XMR"), "short", kind="stat"),
        Panel(
            "Payouts awaiting confirmation",
            (
                Target(f"sum({names.PAYOUTS_AWAITING_CONFIRMATION})", "payouts"),
                Target(f"max({names.PAYOUT_OLDEST_UNCONFIRMED_AGE})", "oldest (s)"),
            ),
            "short",
        ),
        Panel(
            "Disputes opened and resolved (24 h)",
            (
                Target(
                    f'sum(increase({names.ORDER_TRANSITIONS}{{to_state="disputed"}}[24h]))'
                    f' or sum({names.ORDERS}{{state="disputed"}}) * 0',
                    "opened",
                ),
                Target(
                    f'sum(increase({names.ORDER_TRANSITIONS}{{from_state="disputed"}}[24h]))'
                    f' or sum({names.ORDERS}{{state="disputed"}}) * 0',
                    "resolved",
                ),
            ),
            "short",
        ),
        Panel(
            "Monero RPC p95 latency",
            _t(
                f"histogram_quantile(0.95, sum by (le, service, method) (rate({names.RPC_DURATION}_bucket[5m])))",
                "{{service}} {{method}}",
            ),
            "s",
        ),
        Panel(
            "Monero RPC errors",
            _t(
                f"sum by (service, method) (rate({names.RPC_ERRORS}[5m]))"
                f" or sum by (service, method) (rate({_RPC_COUNT}[5m])) * 0",
                "{{service}} {{method}}",
            ),
            "short",
        ),
        Panel("monerod height", _t(f"max({names.MONEROD_HEIGHT})", "height"), "short"),
        Panel(
            "Signer sync lag",
            _t(f"max by (role, endpoint) ({names.SIGNER_SYNC_LAG})", "{{role}} {{endpoint}}"),
            "short",
            description="Blocks between monerod and the wallet open at each signer endpoint (no series for an "
            "endpoint with no wallet open at the last probe).",
        ),
        Panel("Dependencies up", _t(names.DEPENDENCY_UP, "{{dependency}}"), "short"),
        Panel("Jobs by kind and state", _t(f"sum by (kind, state) ({names.JOBS})", "{{kind}} {{state}}"), "short"),
        Panel(
            "Job runs by result",
            _t(f"sum by (kind, result) (rate({names.JOB_RUNS}[5m]))", "{{kind}} {{result}}"),
            "short",
        ),
        Panel(
            "Job failures (1 h)",
            _t(
                f'sum by (kind) (increase({names.JOB_RUNS}{{result="failed"}}[1h]))'
                f" or sum by (kind) (increase({names.JOB_RUNS}[1h])) * 0",
                "{{kind}}",
            ),
            "short",
        ),
    ),
)

DASHBOARDS = (SYSTEM, HTTP, ESCROW)


def panel_queries() -> list[tuple[str, str, str]]:
    """Every panel query: ``(dashboard title, panel title, PromQL)``, one row per target.

    The queries use no Grafana variable: they run as written through ``/api/v1/query``.
    """
    return [
        (dashboard.title, panel.title, target.expr)
        for dashboard in DASHBOARDS
        for panel in dashboard.panels
        for target in panel.targets
    ]


def _panel_json(panel: Panel, panel_id: int) -> dict[str, Any]:
    width = 8 if panel.kind == "stat" else 12
    column = (panel_id - 1) % 2
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": width, "x": column * 12, "y": ((panel_id - 1) // 2) * 8},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": target.expr,
                "legendFormat": target.legend,
                "range": True,
            }
            for index, target in enumerate(panel.targets)
        ],
    }


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (provisioned from a file: no ``id``, a fixed ``uid``)."""
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["marketplace"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [],
        "panels": [_panel_json(panel, index) for index, panel in enumerate(dashboard.panels, start=1)],
    }


def rendered() -> dict[str, str]:
    """``{file name: JSON text}`` of every dashboard, as committed under ``deploy/grafana/dashboards``."""
    return {d.file_name: json.dumps(dashboard_json(d), indent=2, sort_keys=True) + "\n" for d in DASHBOARDS}


def write(directory: Path) -> list[Path]:
    """Write every dashboard's JSON into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in rendered().items():
        path = directory / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - `python -m marketplace.observability.dashboards [DIR]`
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("deploy/grafana/dashboards")
    for path in write(target):
        print(path)  # noqa: T201
