"""docs/runbook.md: one section per alert, each with its diagnosis and remedy, and no remedy that loses data."""

from __future__ import annotations

import re

import pytest

from tests.deploy.test_prometheus import alerts
from tests.support.deploy import ROOT

RUNBOOK = ROOT / "docs" / "runbook.md"


def sections() -> dict[str, str]:
    """``{anchor: text}`` of each ``## `` section, anchors as GitHub makes them (lower case, spaces to dashes)."""
    parts = re.split(r"^## (.+)$", RUNBOOK.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {
        re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-"): body
        for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_alert_links_to_its_own_section_with_a_diagnosis_and_a_remedy(name: str) -> None:
    anchor = alerts()[name]["annotations"]["runbook_url"].split("#", 1)[1]
    body = sections().get(anchor)

    assert body is not None, f"docs/runbook.md has no '## {name}' section"
    assert "**What**" in body
    assert "**Do**" in body


def test_every_alert_section_belongs_to_an_alert() -> None:
    general = {"daily-check", "silencing-during-planned-work"}

    assert set(sections()) - general == {name.lower() for name in alerts()}


def test_no_remedy_deletes_the_sqlite_write_ahead_log() -> None:
    """The old runbook's fix for "database is locked" was `rm marketplace.db-wal`: it loses committed data."""
    commands = re.findall(r"^\s*(?:sudo\s+)?rm\s.*$", RUNBOOK.read_text(encoding="utf-8"), flags=re.MULTILINE)

    assert [line for line in commands if "-wal" in line or "-shm" in line] == []
    assert "Never delete `marketplace.sqlite3-wal`" in sections()["databaseerrors"]


def test_no_credential_on_a_command_line() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")

    assert re.findall(r"curl[^\n]*\s(?:-u|--user)\s", text) == []
