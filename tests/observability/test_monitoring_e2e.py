"""End to end: a real Prometheus scrapes real targets, and an alert it fires reaches a receiver
through a real Alertmanager, routed by severity (tests/support/monitoring.py starts them)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.support.monitoring import (
    PrometheusApi,
    WebhookReceiver,
    alert_names,
    free_port,
    start_alertmanager,
    start_node_exporter,
    start_prometheus,
    wait_for,
)


def test_a_down_target_pages_through_alertmanager_and_a_warning_goes_to_mail(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    rules = tmp_path / "rules.yml"
    rules.write_text(
        """
groups:
  - name: fixture
    rules:
      - alert: TargetDown
        expr: up == 0
        labels: {severity: critical}
      - alert: NodeSeen
        expr: up{job="node"} == 1
        labels: {severity: warning}
""",
        encoding="utf-8",
    )
    with ExitStack() as stack:
        hook = stack.enter_context(WebhookReceiver())
        receivers: list[dict[str, Any]] = [
            {"name": name, "webhook_configs": [{"url": hook.url(f"/{name}"), "send_resolved": False}]}
            for name in ("pager", "mail", "chat")
        ]
        manager = stack.enter_context(
            start_alertmanager(
                tmp_path / "alertmanager",
                {
                    "route": {
                        "receiver": "chat",
                        "group_by": ["alertname"],
                        "group_wait": "1s",
                        "group_interval": "1s",
                        "routes": [
                            {"matchers": ['severity="critical"'], "receiver": "pager"},
                            {"matchers": ['severity="warning"'], "receiver": "mail"},
                        ],
                    },
                    "receivers": receivers,
                },
            )
        )
        node = stack.enter_context(start_node_exporter(tmp_path / "node"))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(rules)],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [manager.base_url.removeprefix("http://")]}]}]
            },
            "scrape_configs": [
                {"job_name": "node", "static_configs": [{"targets": [node.base_url.removeprefix("http://")]}]},
                {"job_name": "dead", "static_configs": [{"targets": [dead]}]},
            ],
        }
        prometheus = stack.enter_context(start_prometheus(tmp_path / "prometheus", config))
        api = PrometheusApi(prometheus.base_url)
        stack.callback(api.close)

        assert wait_for(lambda: api.values('node_cpu_seconds_total{mode="idle"}') or None, what="node CPU")
        paged = hook.wait_for(lambda d: d.path == "/pager", what="the page")
        mailed = hook.wait_for(lambda d: d.path == "/mail", what="the mail")
        assert alert_names(paged) == {"TargetDown"}
        assert paged.body["alerts"][0]["labels"]["job"] == "dead"
        assert alert_names(mailed) == {"NodeSeen"}
        assert hook.received("/chat") == []
