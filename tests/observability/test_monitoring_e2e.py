"""The repository's Alertmanager configuration, run for real: alerts fired by a real Prometheus reach
the receiver of their severity (critical pages, warning mails, info goes to chat), with the
credentials read from their files, and ServiceDown silences HighErrorRate of the same job.

Debian's prometheus, prometheus-alertmanager and prometheus-node-exporter on loopback
(tests/support/monitoring.py); the pager and chat are a local webhook receiver, mail a local SMTP
sink. The rules here are the test's own (one alert of each severity, always true): the
repository's rules run against the marketplace in test_monitoring_regtest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.monitoring import (
    PAGER_TOKEN,
    SMTP_PASSWORD,
    Delivery,
    PrometheusApi,
    SmtpSink,
    WebhookReceiver,
    alert_names,
    free_port,
    http_client,
    local_alertmanager_config,
    start_alertmanager,
    start_node_exporter,
    start_prometheus,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = """
groups:
  - name: e2e
    rules:
      - alert: ServiceDown        # the repository's name: it inhibits HighErrorRate of its job
        expr: up{job="marketplace-web"} == 0
        labels: {severity: critical}
      - alert: HighErrorRate      # silenced while ServiceDown fires for the same job
        expr: up{job="marketplace-web"} == 0
        labels: {severity: critical}
      - alert: NodeScraped
        expr: up{job="node"} == 1
        labels: {severity: warning}
        annotations: {summary: "node-exporter answers"}
      - alert: JustSaying
        expr: vector(1)
        labels: {severity: info}
        annotations: {summary: "an info alert"}
"""


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as exits:
        yield exits


def _page_with_token(delivery: Delivery) -> bool:
    return delivery.path == "/pager" and delivery.headers.get("Authorization") == f"Bearer {PAGER_TOKEN}"


def test_each_severity_reaches_its_receiver_through_the_repository_alertmanager(
    tmp_path: Path, stack: ExitStack
) -> None:
    hook = stack.enter_context(WebhookReceiver())
    smtp = stack.enter_context(SmtpSink())
    config = local_alertmanager_config(
        DEPLOY / "alertmanager/alertmanager.yml", hook=hook, smtp=smtp, secrets_dir=tmp_path / "secrets"
    )
    manager = stack.enter_context(start_alertmanager(tmp_path / "alertmanager", config))
    node = stack.enter_context(start_node_exporter(tmp_path / "node"))
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES, encoding="utf-8")
    dead = f"127.0.0.1:{free_port()}"  # the web process, down: nothing listens there
    prometheus = stack.enter_context(
        start_prometheus(
            tmp_path / "prometheus",
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
                "rule_files": [str(rules)],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [manager.base_url[7:]]}]}]},
                "scrape_configs": [
                    {"job_name": "node", "static_configs": [{"targets": [node.base_url[7:]]}]},
                    {"job_name": "marketplace-web", "static_configs": [{"targets": [dead]}]},
                ],
            },
        )
    )
    api = PrometheusApi(prometheus.base_url)
    stack.callback(api.close)

    paged = hook.wait_for(_page_with_token, what="a page with the pager's token")
    mailed = smtp.wait_for(lambda mail: "NodeScraped" in mail.data, what="the warning's mail")
    chatted = hook.wait_for(lambda delivery: delivery.path == "/chat", what="the info in chat")

    assert alert_names(paged) == {"ServiceDown"}
    assert paged.body["alerts"][0]["labels"]["job"] == "marketplace-web"
    assert mailed.login == (config["global"]["smtp_auth_username"], SMTP_PASSWORD)
    (mail_receiver,) = [receiver for receiver in config["receivers"] if receiver["name"] == "mail"]
    assert mailed.recipients == [mail_receiver["email_configs"][0]["to"]]
    assert "JustSaying" in str(chatted.body)  # Slack's format: the title names the alert
    # HighErrorRate fires in Prometheus, and Alertmanager holds it back, inhibited by ServiceDown.
    assert "HighErrorRate" in {alert["labels"]["alertname"] for alert in api.alerts() if alert["state"] == "firing"}
    with http_client() as client:
        held = client.get(f"{manager.base_url}/api/v2/alerts", params={"filter": 'alertname="HighErrorRate"'}).json()
    assert [alert["status"]["state"] for alert in held] == ["suppressed"]
    assert held[0]["status"]["inhibitedBy"]
    delivered = {name for delivery in hook.received() for name in alert_names(delivery)}
    assert "HighErrorRate" not in delivered
    assert all(delivery.path in {"/pager", "/chat"} for delivery in hook.received())
    assert not any("ServiceDown" in mail.data or "JustSaying" in mail.data for mail in smtp.mails)
