"""Which process this is (``web`` or ``worker``): the ``process`` label of the metrics both export.

Set once, early, by the process's entry point (``marketplace worker`` calls
``set_process_name("worker")``); the web process keeps the default. This module imports nothing
from prometheus-client, so calling it never fixes prometheus-client's value class (multiprocess
or not) before the caller has decided.
"""

from __future__ import annotations

from typing import Literal

ProcessName = Literal["web", "worker"]
PROCESS_NAMES: tuple[ProcessName, ...] = ("web", "worker")

_process_name: ProcessName = "web"


def set_process_name(name: ProcessName) -> None:
    """Name this process in the metrics' ``process`` label; call it before any metric is recorded."""
    global _process_name  # noqa: PLW0603  one value per process, set once at start
    if name not in PROCESS_NAMES:
        msg = f"process name must be one of {', '.join(PROCESS_NAMES)}, not {name!r}"
        raise ValueError(msg)
    _process_name = name


def process_name() -> ProcessName:
    """The name set by ``set_process_name``; ``web`` by default."""
    return _process_name
