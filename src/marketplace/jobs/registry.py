"""Which handler carries out each kind of job, and what the worker probes: the one place they are wired.

``marketplace worker`` calls ``handlers(runtime)`` and ``probe(runtime)`` once at start. With
escrow on, the order's handlers (``orders.tasks``) carry its jobs out on the runtime's escrow
stack, and the probe asks monerod and every signer endpoint; with escrow off there is nothing to
carry out or probe. At start it queues the periodic jobs (erasing old shipping details).
A kind without a handler is never claimed (it waits in the queue, and
``marketplace jobs list`` shows it).
"""

from __future__ import annotations

from marketplace.db.base import utcnow
from marketplace.jobs.health import HealthCheck, Probe
from marketplace.jobs.worker import Handler
from marketplace.runtime import Runtime


def handlers(runtime: Runtime) -> dict[str, Handler]:
    """``{kind: handler}`` for the worker; see ``marketplace.jobs.worker`` for the handler contract.

    Raises ``EscrowConfigurationError`` when escrow is on but cannot work (the worker does not start).
    """
    stack = runtime.escrow_stack()
    if stack is None:
        return {}
    from marketplace.orders import tasks  # imported here: the orders import the jobs

    with runtime.database.session() as db:
        tasks.schedule_periodic(db, utcnow())
    return tasks.handlers(stack, runtime.settings)


def probe(runtime: Runtime) -> Probe | None:
    """The health check the worker runs every ``worker_probe_seconds``, or None when escrow is off.

    It records each dependency under the names of ``jobs.health.expected_services`` (``monerod``,
    ``signer_service_name(role, url)``), which ``/ready`` requires when escrow is on.
    """
    stack = runtime.escrow_stack()
    if stack is None:
        return None

    def check() -> list[HealthCheck]:
        return [
            HealthCheck(
                name=result.name,
                ok=result.ok,
                detail=result.detail,
                latency_ms=result.latency_ms,
                height=result.height,
                role=result.role,
                url=result.url,
            )
            for result in stack.probe()
        ]

    return check
