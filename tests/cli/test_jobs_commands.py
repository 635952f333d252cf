"""``marketplace jobs list / retry`` and ``marketplace worker --once``: what an operator sees, and the exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from marketplace.cli.exit_codes import ExitCode
from marketplace.db.base import utcnow
from marketplace.db.engine import Database, make_engine
from marketplace.jobs import queue
from marketplace.jobs.models import Job, JobState
from marketplace.logs import request_id_var
from tests.cli.conftest import Run
from tests.jobs.conftest import add_job, read_job


@pytest.fixture
def jobs_db(production_env: str) -> Iterator[Database]:
    """The commands' database, with one done, one failed and one queued job."""
    database = Database(make_engine(production_env))
    done = add_job(database, "watch_payment", order_id="order-done")
    failed = add_job(database, "submit_payout", order_id="order-failed", max_attempts=1)
    now = utcnow()
    for job_id, error in ((done, None), (failed, "RpcUnavailable: monerod at http://127.0.0.1:18081 did not answer")):
        job = queue.claim(database, "w1", lease_seconds=60, now=now)
        assert job is not None
        assert job.id == job_id
        with database.session() as db:
            if error is None:
                queue.complete(db, job, "w1", now=now)
            else:
                queue.retry_later(db, job, "w1", error, now=now)
    add_job(database, "expire_order", order_id="order-later", run_at=now + timedelta(hours=1))
    yield database
    database.dispose()


def test_jobs_list_shows_each_job_newest_first(run: Run, jobs_db: Database) -> None:
    listed = run("jobs", "list", "--json")
    table = run("jobs", "list")

    assert listed.exit_code == 0, listed.output
    jobs = json.loads(listed.stdout)["jobs"]
    assert [(job["kind"], job["order_id"], job["state"], job["attempts"]) for job in jobs] == [
        ("expire_order", "order-later", "queued", 0),
        ("submit_payout", "order-failed", "failed", 1),
        ("watch_payment", "order-done", "done", 0),
    ]
    assert jobs[1]["last_error"] == "RpcUnavailable: monerod at http://127.0.0.1:18081 did not answer"
    assert jobs[0]["run_at"].endswith("+00:00")
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0] == "3 job(s), newest first"
    assert f"{jobs[1]['id']} submit_payout order=order-failed state=failed attempts=1/1 run_at=" in table.stdout
    assert "    last error: RpcUnavailable: monerod at http://127.0.0.1:18081 did not answer" in table.stdout


def test_jobs_list_filters_failed_jobs_and_states(run: Run, jobs_db: Database) -> None:
    failed = run("jobs", "list", "--failed", "--json")
    queued = run("jobs", "list", "--state", "queued", "--json")
    limited = run("jobs", "list", "--limit", "1", "--json")
    running = run("jobs", "list", "--state", "running")

    assert [job["kind"] for job in json.loads(failed.stdout)["jobs"]] == ["submit_payout"]
    assert [job["kind"] for job in json.loads(queued.stdout)["jobs"]] == ["expire_order"]
    assert [job["kind"] for job in json.loads(limited.stdout)["jobs"]] == ["expire_order"]
    assert running.exit_code == 0
    assert "no jobs" in running.stdout


def test_jobs_list_shows_the_request_id_of_each_job_and_finds_the_jobs_of_one_request(
    run: Run, jobs_db: Database
) -> None:
    token = request_id_var.set("checkout-4711")
    try:
        traced = add_job(jobs_db, "escrow.setup", order_id="order-traced")
    finally:
        request_id_var.reset(token)

    found = run("jobs", "list", "--request-id", "checkout-4711", "--json")
    none = run("jobs", "list", "--request-id", "no-such-request", "--json")
    table = run("jobs", "list")

    assert found.exit_code == 0, found.output
    assert [(job["id"], job["request_id"]) for job in json.loads(found.stdout)["jobs"]] == [(traced, "checkout-4711")]
    assert json.loads(none.stdout)["jobs"] == []
    lines = table.stdout.splitlines()
    assert lines[1].startswith(f"{traced} escrow.setup order=order-traced state=queued")
    assert lines[1].endswith(" request=checkout-4711")
    assert all(line.endswith(" request=-") for line in lines[2:] if not line.startswith(" "))


def test_jobs_list_refuses_contradicting_filters(run: Run, jobs_db: Database) -> None:
    both = run("jobs", "list", "--failed", "--state", "queued", "--json")
    unknown = run("jobs", "list", "--state", "stuck", "--json")

    assert both.exit_code == ExitCode.CRITICAL
    assert json.loads(both.stdout)["field"] == "state"
    assert unknown.exit_code == ExitCode.CRITICAL
    assert json.loads(unknown.stdout)["error"] == "usage"


def test_jobs_retry_puts_a_failed_job_back_in_the_queue(run: Run, jobs_db: Database) -> None:
    (failed,) = [job for job in _all(jobs_db) if job.state is JobState.FAILED]

    retried = run("jobs", "retry", str(failed.id))

    assert retried.exit_code == 0, retried.output
    assert f"job {failed.id} (submit_payout) is queued again" in retried.stdout
    job = read_job(jobs_db, failed.id)
    assert (job.state, job.attempts, job.finished_at) == (JobState.QUEUED, 0, None)
    again = queue.claim(jobs_db, "w2", lease_seconds=60, now=utcnow())
    assert again is not None
    assert again.id == failed.id


def test_jobs_retry_refuses_a_job_that_is_not_failed_or_does_not_exist(run: Run, jobs_db: Database) -> None:
    (done,) = [job for job in _all(jobs_db) if job.state is JobState.DONE]

    not_failed = run("jobs", "retry", str(done.id))
    as_json = run("jobs", "retry", str(done.id), "--json")
    missing = run("jobs", "retry", "999999", "--json")

    assert not_failed.exit_code == ExitCode.CRITICAL
    assert f"job {done.id} is done, not failed" in not_failed.stderr
    assert json.loads(as_json.stdout) == {
        "error": "conflict",
        "message": f"job {done.id} is done, not failed: only a failed job can be retried",
        "state": "done",
    }
    assert missing.exit_code == ExitCode.CRITICAL
    assert json.loads(missing.stdout)["error"] == "not_found"
    assert read_job(jobs_db, done.id).state is JobState.DONE


def test_worker_once_with_nothing_it_can_run_exits_0(run: Run, jobs_db: Database) -> None:
    # The registry has no handlers yet: the queued jobs are not claimed.
    result = run("worker", "--once", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"job": None}
    assert [job.state for job in _all(jobs_db)] == [JobState.QUEUED, JobState.FAILED, JobState.DONE]


def test_worker_refuses_to_start_on_a_schema_behind_the_code(run: Run, development_data_dir: object) -> None:
    result = run("worker", "--once")

    assert result.exit_code == ExitCode.CRITICAL
    assert "marketplace db upgrade" in result.stderr


def _all(database: Database) -> list[Job]:
    with database.session() as db:
        jobs = queue.list_jobs(db)
        db.expunge_all()
        return jobs
