"""``marketplace dev docs``: writes the generated references and tells when they are stale."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run


def test_docs_are_written_then_checked(run: Run, tmp_path: Path) -> None:
    docs = tmp_path / "docs"

    written = run("dev", "docs", "--docs-dir", str(docs))
    configuration = (docs / "configuration.md").read_text(encoding="utf-8")
    current = run("dev", "docs", "--docs-dir", str(docs), "--check")
    (docs / "configuration.md").write_text("# hand-edited\n", encoding="utf-8")
    stale = run("dev", "docs", "--docs-dir", str(docs), "--check")

    assert written.exit_code == 0, written.output
    assert "MARKETPLACE_SECRET_KEY_FILE" in configuration
    assert "## `marketplace users create`" in (docs / "cli.md").read_text(encoding="utf-8")
    assert current.exit_code == 0
    assert "up to date" in current.stdout
    assert stale.exit_code == 1
    assert "configuration.md is out of date" in stale.stderr
    assert "marketplace dev docs" in stale.stderr
    assert (docs / "configuration.md").read_text(encoding="utf-8") == "# hand-edited\n"  # --check writes nothing
