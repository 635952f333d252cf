"""``marketplace worker`` (carry out durable jobs) and ``marketplace jobs`` (see and retry them)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from marketplace.cli.context import database, settings_or_exit
from marketplace.cli.output import JsonOutput, report
from marketplace.db import migrate
from marketplace.errors import Conflict, InvalidInput
from marketplace.jobs import queue, registry
from marketplace.jobs.models import Job, JobState
from marketplace.jobs.worker import Worker
from marketplace.observability.process import set_process_name
from marketplace.observability.single_process import leave_multiprocess_mode
from marketplace.runtime import build_runtime

app = typer.Typer(help="Durable jobs: list them, retry a failed one.", no_args_is_help=True)

log = logging.getLogger("marketplace.worker")


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run at most one due job, then exit (no health probe).")] = False,
    worker_id: str | None = typer.Option(
        None,
        "--worker-id",
        help="This worker's name in the job table; unique among running workers (default host:pid:random).",
    ),
    json_output: JsonOutput = False,
) -> None:
    """Carry out durable jobs (escrow steps) until SIGTERM or SIGINT, and record the health of monerod and the signers.

    On SIGTERM the job in progress gets MARKETPLACE_WORKER_STOP_GRACE_SECONDS to finish its step,
    otherwise it goes back to the queue; then the worker exits 0. Logs one JSON line per job start
    and end. With --once, JSON: {"job": id or null, "kind", "order_id", "result", "error"}.
    Without --once it serves its Prometheus metrics at
    http://MARKETPLACE_WORKER_METRICS_HOST:MARKETPLACE_WORKER_METRICS_PORT/metrics (port 0: none).
    """
    ignored_metrics_dir = leave_multiprocess_mode()  # before anything records a metric
    set_process_name("worker")
    settings = settings_or_exit()
    if ignored_metrics_dir is not None:
        log.warning(
            "metrics_multiprocess_ignored",
            extra={"detail": "PROMETHEUS_MULTIPROC_DIR is set; the worker serves its own metrics and ignores it"},
        )
    runtime = build_runtime(settings)
    metrics_server = None
    try:
        if migrate.current_revision(runtime.database.engine) != migrate.head_revision():
            raise Conflict("the database schema is not current: run `marketplace db upgrade` first")
        instance = Worker(
            runtime.database,
            registry.handlers(runtime),
            worker_id=worker_id,
            lease_seconds=settings.worker_lease_seconds,
            poll_seconds=settings.worker_poll_seconds,
            stop_grace_seconds=settings.worker_stop_grace_seconds,
            probe=registry.probe(runtime),
            probe_seconds=settings.worker_probe_seconds,
        )
        instance.install_signal_handlers()
        if not once:
            from marketplace.observability.worker_server import serve_worker_metrics, worker_registry

            metrics = worker_registry(runtime.database, settings, kinds=sorted(instance.handlers))
            try:
                metrics_server = serve_worker_metrics(settings, metrics)
            except OSError as error:
                raise Conflict(
                    f"cannot serve the worker's metrics on {settings.worker_metrics_host}:"
                    f"{settings.worker_metrics_port}: {error.strerror or error}; choose another "
                    "MARKETPLACE_WORKER_METRICS_PORT (0: none)"
                ) from None
            instance.run_forever()
            return
        run = instance.run_once()
    finally:
        if metrics_server is not None:
            metrics_server[0].shutdown()
            metrics_server[0].server_close()
        runtime.close()
    if run is None:
        report({"job": None}, "no job was due", json_output=json_output)
        return
    report(
        {"job": run.job_id, "kind": run.kind, "order_id": run.order_id, "result": run.result.value, "error": run.error},
        f"job {run.job_id} ({escape(run.kind)}): {run.result.value}" + (f": {escape(run.error)}" if run.error else ""),
        json_output=json_output,
    )


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "order_id": job.order_id,
        "state": job.state.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": _when(job.run_at),
        "claimed_by": job.claimed_by,
        "lease_expires_at": _when(job.lease_expires_at),
        "last_error": job.last_error,
        "created_at": _when(job.created_at),
        "finished_at": _when(job.finished_at),
    }


@app.command("list")
def list_command(
    failed: Annotated[bool, typer.Option("--failed", help="Only failed jobs (the same as --state failed).")] = False,
    state: JobState | None = typer.Option(None, "--state", help="Only jobs in this state."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many jobs, newest first."),
    json_output: JsonOutput = False,
) -> None:
    """List jobs, newest first: id, kind, order, state, attempts, when it runs, the last error.

    JSON: {"jobs": [{"id", "kind", "order_id", "state", "attempts", "max_attempts", "run_at",
    "claimed_by", "lease_expires_at", "last_error", "created_at", "finished_at"}]}.
    """
    if failed and state not in (None, JobState.FAILED):
        raise InvalidInput(f"--failed and --state {state} contradict each other", field="state")
    settings = settings_or_exit()
    with database(settings) as db, db.session() as session:
        rows = [_row(job) for job in queue.list_jobs(session, state=JobState.FAILED if failed else state, limit=limit)]
    lines = [f"{len(rows)} job(s), newest first" if rows else "no jobs"]
    for row in rows:
        lines.append(
            f"[bold]{row['id']}[/bold] {escape(row['kind'])} order={escape(row['order_id'] or '-')} "
            f"state={row['state']} attempts={row['attempts']}/{row['max_attempts']} run_at={row['run_at']}"
        )
        if row["last_error"]:
            lines.append(f"    last error: {escape(row['last_error'])}")
    report({"jobs": rows}, *lines, json_output=json_output)


@app.command("retry")
def retry_command(
    job_id: int = typer.Argument(..., min=1, help="The failed job's id (see `marketplace jobs list --failed`)."),
    json_output: JsonOutput = False,
) -> None:
    """Put a failed job back in the queue, due now, its failures forgotten; a job that is not failed is refused.

    JSON: the job as `jobs list` shows it.
    """
    settings = settings_or_exit()
    with database(settings) as db, db.session() as session:
        row = _row(queue.retry(session, job_id))
    report(row, f"job {job_id} ({escape(row['kind'])}) is queued again", json_output=json_output)
