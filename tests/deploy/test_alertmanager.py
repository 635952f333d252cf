"""deploy/alertmanager: amtool accepts it, severities route to their receiver, no credential is in the file."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from tests.support.deploy import DEPLOY, http_json, run, tool

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


def post(alertmanager: str, *alerts: dict[str, str]) -> None:
    http_json("POST", f"{alertmanager}/api/v2/alerts", [{"labels": labels} for labels in alerts])


def states(alertmanager: str, count: int) -> dict[tuple[str, str], str]:
    """``{(alertname, its job, state or dependency): "active" | "suppressed"}`` once Alertmanager holds ``count``."""
    seen: dict[tuple[str, str], str] = {}
    for _ in range(50):  # the inhibitor sees new alerts asynchronously: a bounded wait, no timing assert
        seen = {
            (
                a["labels"]["alertname"],
                next(a["labels"][k] for k in ("job", "state", "dependency") if k in a["labels"]),
            ): a["status"]["state"]
            for a in http_json("GET", f"{alertmanager}/api/v2/alerts")
        }
        if len(seen) == count and "unprocessed" not in seen.values():
            return seen
        time.sleep(0.1)
    return seen


def test_service_down_silences_the_error_rate_of_its_own_job_only(alertmanager: str) -> None:
    post(
        alertmanager,
        {"alertname": "HighErrorRate", "job": "marketplace-web", "severity": "critical"},
        {"alertname": "HighErrorRate", "job": "marketplace-api", "severity": "critical"},
    )
    assert set(states(alertmanager, 2).values()) == {"active"}

    post(
        alertmanager,
        {"alertname": "ServiceDown", "job": "marketplace-web", "instance": "web:8080", "severity": "critical"},
    )

    assert states(alertmanager, 3) == {
        ("ServiceDown", "marketplace-web"): "active",
        ("HighErrorRate", "marketplace-web"): "suppressed",
        ("HighErrorRate", "marketplace-api"): "active",
    }


def test_an_unreachable_wallet_rpc_silences_stuck_orders_and_payouts(alertmanager: str) -> None:
    post(
        alertmanager,
        {"alertname": "OrderStuck", "state": "paying_out", "severity": "warning"},
        {"alertname": "PayoutNotConfirmed", "job": "marketplace-worker", "severity": "critical"},
        {"alertname": "JobBacklog", "job": "marketplace-worker", "severity": "warning"},
    )
    assert set(states(alertmanager, 3).values()) == {"active"}

    post(
        alertmanager,
        {
            "alertname": "WalletRpcUnreachable",
            "dependency": "signer:arbiter:http://wallet-arbiter:18083",
            "severity": "critical",
        },
    )

    assert states(alertmanager, 4) == {
        ("WalletRpcUnreachable", "signer:arbiter:http://wallet-arbiter:18083"): "active",
        ("OrderStuck", "paying_out"): "suppressed",
        ("PayoutNotConfirmed", "marketplace-worker"): "suppressed",
        ("JobBacklog", "marketplace-worker"): "active",
    }
