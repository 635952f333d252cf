"""What the figures were measured on: CPU, cores, memory, load, Python and library versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

LIBRARIES = (
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "jinja2",
    "orjson",
    "uvicorn",
    "uvloop",
    "httptools",
    "granian",
)


def machine_facts() -> dict[str, str]:
    """Ordered facts, ready to print."""
    facts = {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count() or "?"),
        "RAM": _memory(),
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "wrk": _wrk_version(),
        "load average (1/5/15 min)": load_average(),
    }
    for name in LIBRARIES:
        try:
            facts[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            facts[name] = "not installed"
    return facts


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def _wrk_version() -> str:
    try:
        completed = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    first = (completed.stdout or completed.stderr).strip().splitlines()
    return first[0].split("Copyright")[0].strip() if first else "unknown"
