"""deploy/prometheus: the configuration and rules load, and every alert is unit-tested firing and not firing."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy import DEPLOY, run, tool

PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alerts() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in RULE_FILES:
        for group in load(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["alert"] not in found, f"{rule['alert']} is defined twice"
                    found[rule["alert"]] = rule
    return found


def test_prometheus_config_is_valid_and_loads_the_rules() -> None:
    promtool = tool("promtool", "prometheus")

    result = run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


def test_prometheus_scrapes_each_part_and_sends_alerts_to_alertmanager() -> None:
    config = load(PROMETHEUS / "prometheus.yml")
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}

    assert targets == {
        "marketplace-web": ["web:8080"],
        "marketplace-worker": ["worker:9465"],
        "node": ["node-exporter:9100"],
        "alertmanager": ["alertmanager:9093"],
        "prometheus": ["localhost:9090"],
    }
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert config["rule_files"] == ["rules/*.yml"]


def test_rule_files_are_valid() -> None:
    promtool = tool("promtool", "prometheus")

    result = run(promtool, "check", "rules", *map(str, RULE_FILES))

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    promtool = tool("promtool", "prometheus")

    result = run(promtool, "test", "rules", *map(str, TEST_FILES))

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_test_file_loads_every_rule_file() -> None:
    """A test that loaded only some files would miss a rule another file must record first."""
    for path in TEST_FILES:
        loaded = {(path.parent / name).resolve() for name in load(path)["rule_files"]}
        assert loaded == {rule.resolve() for rule in RULE_FILES}, path.name


def test_every_alert_has_a_firing_and_a_non_firing_unit_test() -> None:
    cases: dict[str, set[bool]] = defaultdict(set)
    for path in TEST_FILES:
        for test in load(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                cases[case["alertname"]].add(bool(case.get("exp_alerts")))

    missing = {name: {True, False} - cases[name] for name in alerts() if cases[name] != {True, False}}

    assert missing == {}, "True = a firing case, False = a case where it does not fire"
    assert set(cases) <= set(alerts()), "a unit test names an alert that does not exist"


def test_the_alerts_the_issue_asks_for_exist() -> None:
    assert {
        "ServiceDown",
        "HighErrorRate",
        "SlowResponses",
        "WalletRpcUnreachable",
        "MonerodDown",
        "MonerodStalled",
        "OrderStuck",
        "PayoutNotConfirmed",
        "JobFailures",
        "DiskSpaceLow",
        "DiskFillingUp",
        "MemoryHigh",
        "CpuHigh",
        "BackupTooOld",
        "RestoreDrillTooOld",
        "TLSCertificateExpiring",
        "TargetMissing",
    } <= set(alerts())


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook_link(name: str) -> None:
    rule = alerts()[name]

    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["description"].strip()
    assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{name.lower()}"


def test_the_severity_table_of_deploy_readme_matches_the_rules() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    table = {
        severity: set(names.split(", "))
        for severity, names in re.findall(r"^\| (critical|warning|info) \| \w+ \| (.+) \|$", text, flags=re.MULTILINE)
    }
    by_rules: dict[str, set[str]] = defaultdict(set)
    for name, rule in alerts().items():
        by_rules[rule["labels"]["severity"]].add(name)

    assert table == by_rules
