"""``marketplace serve`` sets up prometheus-client's multiprocess mode before prometheus-client is
first imported (observability/registry.py refuses otherwise): the command-line program, with every
command of it (the worker's included), must load without importing prometheus-client."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_command_line_program_imports_no_prometheus_client() -> None:
    script = (
        "import sys, marketplace.cli.main; print(sorted(m for m in sys.modules if m.startswith('prometheus_client')))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"imported by the CLI: {result.stdout.strip()}"
