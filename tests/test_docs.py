"""The generated references in docs/ are complete and current (regenerate with `marketplace dev docs`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.cli.exit_codes import ExitCode
from marketplace.docs_reference import env_var, generated_documents, has_file_variant
from marketplace.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    field = Settings.model_fields[name]

    assert f"`{env_var(name)}`" in page, f"{env_var(name)} is not in docs/configuration.md: run `marketplace dev docs`"
    assert field.description, f"the setting {name} has no description= in settings.py"
    assert field.description.replace("|", "\\|") in page, f"{name}'s description in docs/configuration.md is stale"
    if has_file_variant(field):
        assert f"`{env_var(name)}_FILE`" in page


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return generated_documents()


@pytest.mark.parametrize("name", ["configuration.md", "cli.md", "api.md"])
def test_generated_docs_are_current(generated: dict[str, str], name: str) -> None:
    text = generated[name]
    path = DOCS / name
    assert path.exists(), f"docs/{name} is missing: run `marketplace dev docs`"
    assert path.read_text(encoding="utf-8") == text, f"docs/{name} is out of date: run `marketplace dev docs`"


def test_the_api_reference_lists_the_contract() -> None:
    page = (DOCS / "api.md").read_text(encoding="utf-8")
    for row in (
        "| POST | `/api/v1/accounts` |",
        "| POST | `/api/v1/tokens` |",
        "| GET | `/api/v1/me` |",
        "| PUT | `/api/v1/me/payout-address` |",
        "| GET | `/api/v1/listings` |",
        "| PATCH | `/api/v1/listings/{listing_id}` |",
    ):
        assert row in page


def test_every_command_is_in_the_cli_reference() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    for title in ("marketplace serve", "marketplace db upgrade", "marketplace users create", "marketplace dev seed"):
        assert f"## `{title}`" in page


def test_the_cli_reference_has_the_one_exit_code_table_and_the_main_help_points_to_it() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")

    assert page.count("## Exit codes") == 1
    for code in ExitCode:
        assert f"| {code.value} | {code.name.lower()} | {code.meaning} |" in page
    main_help = page.split("## `marketplace`", 1)[1].split("## `marketplace ", 1)[0]
    assert "Exit codes: 0 ok, 1 warning, 2 critical; docs/cli.md explains them." in main_help
