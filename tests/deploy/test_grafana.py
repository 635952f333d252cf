"""The Grafana provisioning and dashboards: structure, freshness, and every panel query valid PromQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from marketplace.observability import dashboards, names
from tests.support.deploy import DEPLOY, run, tool

GRAFANA = DEPLOY / "grafana"
EXPORTED = {value for key, value in vars(names).items() if key.isupper() and value.startswith(names.PREFIX)}
RECORDED = {
    rule["record"]
    for path in (DEPLOY / "prometheus/rules").glob("*.yml")
    for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    for rule in group["rules"]
    if "record" in rule
}


def committed() -> dict[str, dict[str, object]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def test_committed_dashboards_are_generated_from_the_code() -> None:
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in (GRAFANA / "dashboards").glob("*.json")}

    assert on_disk == dashboards.rendered(), "run `python -m marketplace.observability.dashboards`"


def test_the_three_dashboards_of_the_runbook_exist_with_fixed_uids() -> None:
    titles = {d["title"]: d["uid"] for d in committed().values()}

    assert titles == {
        "System Overview": "marketplace-system",
        "HTTP Overview": "marketplace-http",
        "Escrow Overview": "marketplace-escrow",
    }


def test_provisioned_datasource_has_the_uid_every_panel_names() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text(encoding="utf-8"))
    (source,) = provisioned["datasources"]

    assert source["uid"] == dashboards.DATASOURCE_UID
    assert source["type"] == "prometheus"


def test_dashboard_provider_puts_them_in_one_folder() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning/dashboards/marketplace.yml").read_text(encoding="utf-8"))
    (provider,) = provisioned["providers"]

    assert provider["type"] == "file"
    assert provider["folder"] == "Marketplace"
    assert provider["options"]["path"]


@pytest.mark.parametrize("file_name", sorted(d.file_name for d in dashboards.DASHBOARDS))
def test_every_panel_has_a_unique_id_a_title_and_queries_on_the_provisioned_datasource(file_name: str) -> None:
    board = committed()[file_name]
    panels = board["panels"]
    assert isinstance(panels, list)
    assert panels

    ids = [panel["id"] for panel in panels]
    titles = [panel["title"] for panel in panels]
    assert len(set(ids)) == len(ids)
    assert len(set(titles)) == len(titles)
    assert "id" not in board, "a provisioned dashboard has no database id"
    for panel in panels:
        assert panel["title"]
        assert panel["datasource"]["uid"] == dashboards.DATASOURCE_UID
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert target["datasource"]["uid"] == dashboards.DATASOURCE_UID


def test_panel_queries_lists_every_target_of_every_dashboard() -> None:
    on_disk = sorted(
        (board["title"], panel["title"], target["expr"])
        for board in committed().values()
        for panel in board["panels"]
        for target in panel["targets"]
    )

    assert sorted(dashboards.panel_queries()) == on_disk
    assert len(on_disk) >= 30


def test_queries_use_no_grafana_variable() -> None:
    """The end-to-end test runs each query as written: no ``$__rate_interval`` to substitute."""
    assert [q for q in dashboards.panel_queries() if "$" in q[2]] == []


def test_every_metric_a_panel_reads_is_exported_or_recorded() -> None:
    unknown = set()
    for _, _, expr in dashboards.panel_queries():
        for name in re.findall(r"\b[a-z_]+:[a-z0-9_:]+\b|\bmarketplace_[a-z0-9_]+\b", expr):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            if name not in RECORDED and name not in EXPORTED and base not in EXPORTED:
                unknown.add(name)

    assert unknown == set()


def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (as a recording rule); a typo fails here, not on the dashboard."""
    promtool = tool("promtool", "prometheus")
    rules = {
        "groups": [
            {
                "name": "panels",
                "rules": [
                    {"record": f"panel:query:{i}", "expr": q[2]} for i, q in enumerate(dashboards.panel_queries())
                ],
            }
        ]
    }
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")

    result = run(promtool, "check", "rules", str(path))

    assert result.returncode == 0, result.stdout + result.stderr
