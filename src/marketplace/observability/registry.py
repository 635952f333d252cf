"""Where the web process's metrics live, across ``marketplace serve``'s worker processes.

``marketplace serve`` runs one or more server worker processes; Prometheus scrapes one of them
at random. So that every scrape sees the sum of all of them, the web process uses
prometheus-client's *multiprocess mode*: each process writes its samples to memory-mapped files
in one directory (``MARKETPLACE_METRICS_DIR``, default ``<data_dir>/metrics``) and ``/metrics``
reads and merges every file there.

How it is switched on: prometheus-client chooses how it stores a value (in memory, or in those
files) once, when it is first imported, from the ``PROMETHEUS_MULTIPROC_DIR`` environment
variable. ``prepare_multiprocess_dir`` (called by ``marketplace serve`` before the server starts)
empties the directory and sets the variable; the server's worker processes inherit it. It
refuses to run if prometheus-client is already imported in that process (the value class would
be the wrong one: metrics would silently never reach the files). Without the variable (tests,
the app built in-process) the default, in-memory registry is used, as in any one-process program.

The limits of multiprocess mode, which every metric defined for the web process respects:

- a gauge must say how the processes' values combine (``multiprocess_mode``: ``livemax``,
  ``sum`` ...); ``all`` (the default) would add a ``pid`` label, a new series per process;
- no custom collectors in the web process (a collector runs in whichever process is scraped and
  cannot see the others): what is read from the database at scrape time is the worker's job;
- the directory holds files per process id: a server worker replaced by a new one leaves its
  files behind (its counts stay in the sums, as counters should), so the directory grows with
  restarts until the next ``marketplace serve`` empties it. A process stopping cleanly marks
  itself dead (``mark_process_dead``), which drops its ``live*`` gauges (build info);
- ``/metrics`` reads every file on each scrape: it runs in the thread pool (a plain ``def``
  route), never on the event loop, so a scrape under load does not stall requests.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# The files prometheus-client's multiprocess mode writes: <type>_<pid>.db
_METRIC_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_\d+\.db")


def prepare_multiprocess_dir(directory: Path) -> Path:
    """Empty ``directory`` of metric files (creating it) and point prometheus-client at it, for this
    process and those it starts. Only prometheus-client's own files are removed, nothing else."""
    if "prometheus_client" in sys.modules:
        msg = (
            "prometheus_client was imported before the metrics directory was set: "
            "its values would not be shared between the server's processes"
        )
        raise RuntimeError(msg)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if _METRIC_FILE.fullmatch(entry.name) and entry.is_file():
            entry.unlink()
    os.environ[MULTIPROC_VARIABLE] = str(directory)
    return directory


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, or None when this process keeps its metrics in memory."""
    return os.environ.get(MULTIPROC_VARIABLE) or None


def render() -> tuple[bytes, str]:
    """The text exposition of every metric (of every process, in multiprocess mode) and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]  # prometheus-client leaves it untyped
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead() -> None:
    """Say this server process is gone (on a clean stop): its ``live*`` gauges leave the sums."""
    directory = multiprocess_dir()
    if directory is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]
