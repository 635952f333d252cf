"""The runbook's daily check, proven: a real Prometheus scrapes a running marketplace under a scripted
workload with an escrow paid out on regtest, every dashboard panel's query returns data, and alerts
fired by that Prometheus reach their receivers through a real Alertmanager, routed by severity.

Everything is real and on loopback: ``marketplace serve --workers 2`` (metrics in multiprocess
mode), ``marketplace worker`` with its metrics port, both on one database (SQLite, then PostgreSQL)
and the session's regtest cluster; Debian's node-exporter, Prometheus (the repository's ``prometheus.yml`` with the
targets rewritten to the test's ports, 1 s scrape and evaluation intervals, the repository's rule
files) and Alertmanager (the repository's ``alertmanager.yml``: its secret files written by the
test, the pager's URL and the SMTP server local, grouping waits 1 s; tests/support/monitoring.py
``local_alertmanager_config``).

The workload (tests/observability/e2e_workload.py): visitors browse, unknown paths and a missing
token fail, one escrow order is paid, shipped, confirmed and paid out on regtest through the API.
What Prometheus then holds is checked against it (one ``unmatched`` series for 60 unknown paths,
the completed order, the escrow's money held then paid out, build info of both processes), every
panel of ``observability.dashboards.panel_queries()`` must return data, and three alerts travel:
BackupTooOld (warning, no backup was ever made) by mail, RestoreDrillTooOld (info) to chat, and,
once the test stops the worker, ServiceDown (critical) to the pager. Their ``for:`` is shortened
in a copy of the rules only (``SHORTENED``), so the test does not wait minutes or hours.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from marketplace.accounts.models import Role, User
from marketplace.accounts.sessions import issue_api_token
from marketplace.db.engine import Database
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import OrderState
from tests.conftest import TEST_SECRET_KEY
from tests.observability.e2e_workload import EscrowRun, browse
from tests.support.factories import create_user, insert_listing
from tests.support.monitoring import (
    PAGER_TOKEN,
    SMTP_PASSWORD,
    PrometheusApi,
    Service,
    SmtpSink,
    WebhookReceiver,
    alert_names,
    copy_rules,
    free_port,
    local_alertmanager_config,
    marketplace_command,
    marketplace_environment,
    prometheus_config,
    run_service,
    start_alertmanager,
    start_node_exporter,
    start_prometheus,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PRICE = 250_000_000_000  # 0.25 XMR
PANELS_WAIT_S = 90.0  # rate() windows need two scrapes after the workload; this only bounds a hang
ALERT_WAIT_S = 90.0
# In the copy of the rules only: alerts that would wait minutes (hours) before firing.
SHORTENED = {"ServiceDown": "2s", "BackupTooOld": "1s", "RestoreDrillTooOld": "1s"}
# Panels whose query may give only NaN on SQLite: a quantile of events that did not happen in its window.
# Measured: on SQLite each process waited for the write lock once, at start-up, before the first scrape
# (a guarded write inside a transaction that already holds the lock records no wait), so the rate of
# lock waits is 0 and their p95 NaN through the whole escrow. On PostgreSQL (row and advisory locks,
# each timed) every panel must give a number, as every other panel must on SQLite.
NAN_WHEN_IDLE = {"Write lock wait p95"}
# Grafana's variables, as Grafana would fill them (the panel queries use none today: any other fails).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


@pytest.fixture
def settings_overrides(escrow_settings: dict[str, Any]) -> dict[str, Any]:
    return {**escrow_settings, "payment_poll_seconds": 0}


@pytest.fixture
def marketplace_values(database_url: str, settings_overrides: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The settings of ``marketplace serve`` and ``marketplace worker``: production, escrow on regtest,
    a worker that polls often and probes every second (so its dependency metrics are fresh)."""
    return {
        "env": "production",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        **settings_overrides,
        "worker_poll_seconds": 0.1,
        "worker_probe_seconds": 1,
    }


def _token(database: Database, user: User) -> str:
    with database.session() as session:
        attached = session.get(User, user.id)
        assert attached is not None
        return issue_api_token(session, attached, "e2e")


def _address(service: Service) -> str:
    return service.base_url.removeprefix("http://")


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as exits:
        yield exits


def test_prometheus_scrapes_the_marketplace_under_an_escrow_workload_and_an_alert_pages(
    regtest: RegtestCluster, database: Database, marketplace_values: dict[str, Any], tmp_path: Path, stack: ExitStack
) -> None:
    database_url = str(marketplace_values["database_url"])
    # --- the market: a vendor paid on a regtest address, a buyer, a listing ---------------------
    vendor = create_user(database, Role.VENDOR)
    vendor_address = regtest.new_personal_address()
    with database.session() as session:
        session.execute(update(User).where(User.id == vendor.id).values(payout_address=vendor_address))
    buyer = create_user(database, Role.BUYER)
    listing = insert_listing(database, vendor, price_atomic=PRICE, stock=5)

    # --- the marketplace's processes ----------------------------------------------------------------
    web_port, worker_metrics_port, prometheus_port = free_port(), free_port(), free_port()
    values = {**marketplace_values, "worker_metrics_port": worker_metrics_port}
    env = marketplace_environment(values, tmp_path / "secrets")
    marketplace = marketplace_command()
    logs = tmp_path / "logs"
    web = stack.enter_context(
        run_service(
            "web",
            [marketplace, "serve", "--host", "127.0.0.1", "--port", str(web_port), "--workers", "2"],
            port=web_port,
            log_dir=logs,
            ready_path="/health",
            env=env,
        )
    )
    worker = stack.enter_context(
        run_service(
            "worker",
            [marketplace, "worker", "--worker-id", "e2e"],
            port=worker_metrics_port,
            log_dir=logs,
            ready_path="/metrics",
            env=env,
        )
    )

    # --- monitoring: node-exporter, Alertmanager, Prometheus -------------------------------------------
    hook = stack.enter_context(WebhookReceiver())
    smtp = stack.enter_context(SmtpSink())
    node = stack.enter_context(start_node_exporter(tmp_path / "node"))
    manager = stack.enter_context(
        start_alertmanager(
            tmp_path / "alertmanager",
            local_alertmanager_config(
                DEPLOY / "alertmanager/alertmanager.yml", hook=hook, smtp=smtp, secrets_dir=tmp_path / "am-secrets"
            ),
        )
    )
    rules = copy_rules(DEPLOY / "prometheus/rules", tmp_path / "rules", for_overrides=SHORTENED)
    prometheus = stack.enter_context(
        start_prometheus(
            tmp_path / "prometheus",
            prometheus_config(
                DEPLOY / "prometheus/prometheus.yml",
                targets={
                    "marketplace-web": [_address(web)],
                    "marketplace-worker": [_address(worker)],
                    "node": [_address(node)],
                    "alertmanager": [_address(manager)],
                    "prometheus": [f"127.0.0.1:{prometheus_port}"],
                },
                alertmanagers=[_address(manager)],
                rule_files=rules,
            ),
            port=prometheus_port,
        )
    )
    api = PrometheusApi(prometheus.base_url)
    stack.callback(api.close)
    wait_for(
        lambda: all(health == "up" for health in api.targets_up().values()) or None,
        what="every target up",
        describe=api.targets_up,
    )

    # --- the workload: visitors, failures, one escrow paid out on regtest -----------------------------
    statuses = browse(web.base_url, listing.id, vendor.username)
    assert statuses.get(404, 0) >= 60, statuses
    run = EscrowRun(
        base_url=web.base_url,
        database=database,
        regtest=regtest,
        buyer_token=_token(database, buyer),
        vendor_token=_token(database, vendor),
        listing_id=listing.id,
    )
    order_id = run.release(refund_address=regtest.new_personal_address())
    assert run.state(order_id) is OrderState.COMPLETED
    assert regtest.received(vendor_address) > 0

    # --- what Prometheus recorded is the workload ---------------------------------------------------------
    def scraped(expr: str, wanted: float) -> float | None:
        values = list(api.values(expr).values())
        return values[0] if values == [wanted] else None

    # 60 unknown paths are one series; the escrow's end is in the worker's database metrics.
    unmatched = 'count(marketplace_http_requests_total{route="unmatched"})'
    wait_for(lambda: scraped(unmatched, 1), what="one unmatched series", describe=lambda: api.values(unmatched))
    assert api.values('sum(marketplace_http_requests_total{route="unmatched", status_class="4xx"})') == {
        frozenset(): 60.0
    }
    completed = 'marketplace_orders{state="completed"}'
    wait_for(lambda: scraped(completed, 1), what="the completed order", describe=lambda: api.values(completed))
    assert list(api.values('marketplace_order_transitions_total{to_state="completed"}').values()) == [1.0]
    # The escrow held the buyer's payment while funded, and holds nothing once paid out.
    assert list(api.values("max_over_time(marketplace_escrow_held_piconero[10m])").values()) == [run.paid_atomic]
    assert list(api.values("marketplace_escrow_held_piconero").values()) == [0.0]
    processes = {dict(labels)["process"] for labels in api.values("marketplace_build_info")}
    assert processes == {"web", "worker"}

    # --- every dashboard panel's query returns data -----------------------------------------------------
    from marketplace.observability.dashboards import panel_queries

    queries = [(dashboard, panel, _substitute(expr)) for dashboard, panel, expr in panel_queries()]

    def has_data(panel: str, expr: str) -> bool:
        # A sample with a number: a histogram_quantile of no event is NaN, which Grafana shows as no value.
        values = api.values(expr).values()
        if panel in NAN_WHEN_IDLE and database_url.startswith("sqlite"):
            return bool(values)
        return any(math.isfinite(value) for value in values)

    def empty_panels() -> list[tuple[str, str, str]]:
        return [(dashboard, panel, expr) for dashboard, panel, expr in queries if not has_data(panel, expr)]

    wait_for(
        lambda: not empty_panels() or None,
        what="every panel with data",
        timeout_s=PANELS_WAIT_S,
        describe=lambda: [f"{dashboard} / {panel}: {expr}" for dashboard, panel, expr in empty_panels()],
    )

    # --- alerts travel, routed by severity -----------------------------------------------------------------
    # No backup and no restore drill was ever recorded (the worker says 0): a warning mails, an info chats.
    mailed = smtp.wait_for(lambda mail: "BackupTooOld" in mail.data, what="BackupTooOld mailed", timeout_s=ALERT_WAIT_S)
    assert mailed.login is not None
    assert mailed.login[1] == SMTP_PASSWORD
    chatted = hook.wait_for(
        lambda delivery: "RestoreDrillTooOld" in str(delivery.body),
        what="RestoreDrillTooOld in chat",
        timeout_s=ALERT_WAIT_S,
    )
    assert chatted.path == "/chat"
    # The worker stops: ServiceDown (critical) pages, with the pager's token.
    worker.stop()
    paged = hook.wait_for(
        lambda delivery: "ServiceDown" in alert_names(delivery), what="ServiceDown delivered", timeout_s=ALERT_WAIT_S
    )
    assert paged.path == "/pager", paged.path
    assert paged.headers.get("Authorization") == f"Bearer {PAGER_TOKEN}"
    (down,) = [alert for alert in paged.body["alerts"] if alert["labels"]["alertname"] == "ServiceDown"]
    assert down["labels"]["job"] == "marketplace-worker"
    assert down["labels"]["severity"] == "critical"
    assert down["annotations"]["runbook_url"].startswith("docs/runbook.md#")
    assert not any("ServiceDown" in mail.data for mail in smtp.mails)


def _substitute(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    leftover = re.findall(r"\$\w+", expr)
    assert not leftover, f"a Grafana variable the test does not fill: {leftover} in {expr}"
    return expr
