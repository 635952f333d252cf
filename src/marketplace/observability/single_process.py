"""The worker never uses prometheus-client's multiprocess mode: ``leave_multiprocess_mode``.

prometheus-client picks how every metric stores its values when it is first imported: with
``PROMETHEUS_MULTIPROC_DIR`` (or the old ``prometheus_multiproc_dir``) in the environment, in
memory-mapped files of that directory, one per process, which only a ``MultiProcessCollector``
reads back; otherwise in memory. The web server needs the files (several server processes answer
``/metrics``); the worker is one process serving its own port, and its scrape-time collectors
(``escrow_collector``) are custom collectors, which multiprocess mode cannot carry. A worker that
inherited the variable (a shared environment file, say) would write files the web process
reads, mixing the worker's job and RPC counts into the web's ``/metrics``.

So ``marketplace worker`` calls ``leave_multiprocess_mode`` first: it removes the variables
from the process environment and, when prometheus-client was imported already, switches its
value class back to the in-memory one before the worker creates any sample. This module imports
nothing of prometheus-client itself.
"""

from __future__ import annotations

import os
import sys

VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


def leave_multiprocess_mode() -> str | None:
    """Leave (or never enter) multiprocess mode in this process; the directory ignored, if any."""
    ignored = None
    for name in VARIABLES:
        value = os.environ.pop(name, None)
        if value is not None and ignored is None:
            ignored = value
    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        values.ValueClass = values.MutexValue  # type: ignore[attr-defined]
    return ignored
