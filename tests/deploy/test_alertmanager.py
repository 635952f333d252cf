"""deploy/alertmanager: amtool accepts it, severities route to their receiver, no credential is in the file."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, run, tool

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
# Fields that would carry a credential inline; Alertmanager 0.25 has a *_file twin for each one used here.
INLINE_SECRETS = {
    "smtp_auth_password",
    "auth_password",
    "api_url",
    "credentials",
    "password",
    "routing_key",
    "service_key",
    "api_key",
    "bot_token",
    "smtp_auth_secret",
    "auth_secret",
}


def load() -> Any:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [
            item for key, value in node.items() for item in [(f"{path}.{key}", value), *walk(value, f"{path}.{key}")]
        ]
    if isinstance(node, list):
        return [item for index, value in enumerate(node) for item in walk(value, f"{path}[{index}]")]
    return []


def test_amtool_accepts_the_configuration() -> None:
    amtool = tool("amtool", "prometheus-alertmanager")

    result = run(amtool, "check-config", str(CONFIG))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 inhibit rules" in result.stdout
    assert "3 receivers" in result.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [("critical", "pager"), ("warning", "mail"), ("info", "chat"), ("unknown", "mail")],
)
def test_each_severity_routes_to_its_receiver(severity: str, receiver: str) -> None:
    amtool = tool("amtool", "prometheus-alertmanager")

    result = run(
        amtool, "config", "routes", "test", f"--config.file={CONFIG}", f"severity={severity}", "alertname=ServiceDown"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_no_credential_is_written_in_the_file() -> None:
    inline = [path for path, _ in walk(load()) if path.rsplit(".", 1)[-1] in INLINE_SECRETS]
    files = sorted(str(value) for path, value in walk(load()) if path.endswith("_file"))

    assert inline == []
    assert files == [
        "/run/secrets/alertmanager/chat_webhook_url",
        "/run/secrets/alertmanager/pager_token",
        "/run/secrets/alertmanager/smtp_password",
    ]


def test_inhibitions_silence_the_consequences_of_an_outage() -> None:
    rules = {
        (rule["source_matchers"][0], rule["target_matchers"][0]): rule.get("equal", [])
        for rule in load()["inhibit_rules"]
    }

    assert rules[('alertname="ServiceDown"', 'alertname="HighErrorRate"')] == ["job"]
    assert ('alertname="WalletRpcUnreachable"', 'alertname=~"OrderStuck|PayoutNotConfirmed"') in rules
