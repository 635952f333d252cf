"""Which handler carries out each kind of job, and what the worker probes: the one place they are wired.

``marketplace worker`` calls ``handlers(runtime)`` and ``probe(runtime)`` once at start. The
escrow handlers (``escrow/tasks.py``) and the probe of monerod and every signer endpoint join
here as they are built; a kind without a handler is never claimed (it waits in the queue, and
``marketplace jobs list`` shows it).
"""

from __future__ import annotations

from marketplace.jobs.health import Probe
from marketplace.jobs.worker import Handler
from marketplace.runtime import Runtime


def handlers(runtime: Runtime) -> dict[str, Handler]:
    """``{kind: handler}`` for the worker; see ``marketplace.jobs.worker`` for the handler contract."""
    del runtime  # the escrow handlers will take the signers and the daemon client from it
    return {}


def probe(runtime: Runtime) -> Probe | None:
    """The health check the worker runs every ``worker_probe_seconds``, or None when there is nothing to check.

    It must record each dependency under the names of ``jobs.health.expected_services`` (``monerod``,
    ``signer_service_name(role, url)``), which ``/ready`` requires when escrow is on.
    """
    del runtime
    return None
