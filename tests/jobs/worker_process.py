"""``marketplace worker`` in a real process with test handlers: ``python -m tests.jobs.worker_process worker``.

The command is the real one (``marketplace.cli.main.app``); only the registry's handlers are
replaced, before it runs, by ``handlers`` below. No hook for this exists in the product.

The one kind, ``effect``, records each run in ``scratch_runs`` and its effect in
``scratch_effects`` at most once per job (idempotent: a run after a crash finds it done), touches
``payload["started"]`` once the effect is recorded, and then, per ``payload["mode"]``:

- ``until_stop``: waits until the worker is asked to stop, then finishes (done);
- ``stuck``: never finishes by itself (at most ``STUCK_SECONDS``), whatever the worker is asked;
- ``stuck_first_run``: stuck on its first run, done on a later one.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from marketplace.cli.main import app
from marketplace.jobs import registry
from marketplace.jobs.worker import Handler, JobContext, JobOutcome
from marketplace.runtime import Runtime

STUCK_SECONDS = 120.0

SCRATCH_TABLES = (
    "CREATE TABLE scratch_runs (job_id INTEGER NOT NULL, attempts INTEGER NOT NULL)",
    "CREATE TABLE scratch_effects (job_id INTEGER PRIMARY KEY)",
)


def effect(ctx: JobContext) -> JobOutcome:
    with ctx.session() as db:
        db.execute(
            text("INSERT INTO scratch_runs VALUES (:job, :attempts)"), {"job": ctx.job.id, "attempts": ctx.job.attempts}
        )
    with ctx.session() as db:
        done = db.execute(
            text("SELECT count(*) FROM scratch_effects WHERE job_id = :job"), {"job": ctx.job.id}
        ).scalar_one()
        if not done:
            db.execute(text("INSERT INTO scratch_effects VALUES (:job)"), {"job": ctx.job.id})
    Path(str(ctx.job.payload["started"])).touch()
    mode = ctx.job.payload["mode"]
    stuck = mode == "stuck" or (mode == "stuck_first_run" and ctx.job.attempts == 0)
    deadline = time.monotonic() + STUCK_SECONDS
    while time.monotonic() < deadline:
        if stuck:
            time.sleep(0.05)
        elif mode == "until_stop" and not ctx.stopping:
            time.sleep(0.01)
        else:
            break
    return JobOutcome.done()


def handlers(runtime: Runtime) -> dict[str, Handler]:
    del runtime
    return {"effect": effect}


if __name__ == "__main__":
    registry.handlers = handlers
    app(prog_name="marketplace")
