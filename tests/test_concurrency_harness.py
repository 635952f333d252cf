"""The concurrency harness proves itself: it reproduces a race, shows a lock at work, keeps every
outcome, serves real parallel requests and counts the connections a request holds.

The database tests run on SQLite and PostgreSQL on a scratch table of their own. What they show
about the two databases (checked, not assumed):

- A plain check-then-insert loses on both: two sessions read "nobody has claimed it", both
  insert. On SQLite the second INSERT waits for the first writer's lock (Python 3.11's driver
  starts the transaction at the first write, so the read took no lock), then goes ahead.
- A conditional ``UPDATE ... WHERE state = 'open'`` with its row count checked does not lose:
  the second waits (SQLite: the database write lock; PostgreSQL: the row lock) and then matches
  no row.
- ``SELECT ... FOR UPDATE`` makes the second reader wait on PostgreSQL, so it sees the first
  one's claim; SQLite has no such lock (SQLAlchemy leaves ``FOR UPDATE`` out), the second reads
  the stale state and overwrites the first claim.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial

import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import column, select, table, text, update
from starlette.requests import Request

from marketplace.db.engine import Database
from marketplace.web.dependencies import runtime_of
from tests.support.concurrency import (
    HttpRequest,
    InterleaveError,
    interleave,
    parallel_requests,
    require_loopback,
    run_together,
    track_checkouts,
)

JOBS = table("scratch_jobs", column("id"), column("state"), column("worker"))
# Each database step waits for its lock at most a few seconds (SQLite's busy timeout is 5 s).
TIMEOUT_S = 10.0


@pytest.fixture
def scratch(database: Database) -> Database:
    """Two scratch tables: ``scratch_claims`` (no constraint at all) and ``scratch_jobs`` (job 1 open)."""
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE scratch_claims (job INTEGER NOT NULL, worker VARCHAR(20) NOT NULL)"))
        connection.execute(
            text("CREATE TABLE scratch_jobs (id INTEGER PRIMARY KEY, state VARCHAR(20) NOT NULL, worker VARCHAR(20))")
        )
        connection.execute(text("INSERT INTO scratch_jobs (id, state) VALUES (1, 'open')"))
    return database


def _claims(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return list(connection.execute(text("SELECT worker FROM scratch_claims ORDER BY worker")).scalars())


def _job(database: Database) -> tuple[str, str | None]:
    with database.engine.connect() as connection:
        state, worker = connection.execute(text("SELECT state, worker FROM scratch_jobs WHERE id = 1")).one()
    return state, worker


# --- run_together -------------------------------------------------------------------------


def test_run_together_runs_the_calls_at_once_and_returns_every_outcome() -> None:
    # Every call waits for all the others inside it: this only passes if they run at the same time.
    inside = threading.Barrier(4)

    def value() -> str:
        inside.wait(timeout=5)
        return "value"

    def value_error() -> str:
        inside.wait(timeout=5)
        raise ValueError("boom")

    def key_error() -> str:
        inside.wait(timeout=5)
        raise KeyError("missing")

    def exits() -> str:
        inside.wait(timeout=5)
        raise SystemExit(3)

    outcomes = run_together([value, value_error, key_error, exits], timeout_s=TIMEOUT_S)

    assert [outcome.ok for outcome in outcomes] == [True, False, False, False]
    assert outcomes[0].unwrap() == "value"
    assert isinstance(outcomes[1].error, ValueError)
    assert isinstance(outcomes[2].error, KeyError)
    assert isinstance(outcomes[3].error, SystemExit)
    with pytest.raises(ValueError, match="boom"):
        outcomes[1].unwrap()


def test_run_together_fails_naming_the_stuck_call() -> None:
    release = threading.Event()

    def quick() -> int:
        return 1

    def stuck_forever() -> int:
        release.wait(timeout=TIMEOUT_S)
        return 2

    try:
        with pytest.raises(pytest.fail.Exception, match=r"1 of 2 calls still running .* #1 .*stuck_forever"):
            run_together([quick, stuck_forever], timeout_s=0.3)
    finally:
        release.set()


def test_run_together_lets_exactly_one_of_eight_conditional_claims_win(scratch: Database) -> None:
    def claim(worker: str) -> int:
        with scratch.session() as session:
            result = session.execute(
                text("UPDATE scratch_jobs SET state = 'claimed', worker = :worker WHERE id = 1 AND state = 'open'"),
                {"worker": worker},
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    outcomes = run_together([partial(claim, f"w{n}") for n in range(8)], timeout_s=TIMEOUT_S)

    matched = [outcome.unwrap() for outcome in outcomes]
    assert sorted(matched) == [0] * 7 + [1]
    assert _job(scratch) == ("claimed", f"w{matched.index(1)}")


# --- interleave ----------------------------------------------------------------------------


def _check_then_insert(database: Database, worker: str) -> Iterator[str]:
    with database.session() as session:
        taken = session.execute(text("SELECT count(*) FROM scratch_claims WHERE job = 1")).scalar_one()
        yield "checked"
        if taken:
            return False
        session.execute(text("INSERT INTO scratch_claims (job, worker) VALUES (1, :worker)"), {"worker": worker})
        yield "inserted"
    yield "committed"
    return True


def test_interleaving_reproduces_a_check_then_insert_race(scratch: Database) -> None:
    run = interleave(
        {"a": lambda: _check_then_insert(scratch, "a"), "b": lambda: _check_then_insert(scratch, "b")},
        ["a:checked", "b:checked", "a:inserted", "b:inserted", "a:committed", "b:committed"],
        timeout_s=TIMEOUT_S,
    )

    assert (run["a"].unwrap(), run["b"].unwrap()) == (True, True), run
    assert _claims(scratch) == ["a", "b"]  # the job was claimed twice
    assert run["a"].labels == run["b"].labels == ["checked", "inserted", "committed"]
    if scratch.engine.dialect.name == "sqlite":
        # SQLite has one writer at a time: b's INSERT waited for a's commit, then went ahead anyway.
        assert run["b"].blocked, run
        assert run.seq("b", "reached", "inserted") > run.seq("a", "step", "committed"), run


def test_the_same_schedule_with_the_check_run_after_the_first_commit_does_not_race(scratch: Database) -> None:
    run = interleave(
        {"a": lambda: _check_then_insert(scratch, "a"), "b": lambda: _check_then_insert(scratch, "b")},
        ["a:committed", "b:checked", "b"],
        timeout_s=TIMEOUT_S,
    )

    assert (run["a"].unwrap(), run["b"].unwrap()) == (True, False), run
    assert _claims(scratch) == ["a"]
    assert run["a"].labels == ["checked", "inserted", "committed"]
    assert run["b"].labels == ["checked"]  # b saw a's claim and stopped


def _conditional_claim(database: Database, worker: str) -> Iterator[str]:
    with database.session() as session:
        state = session.execute(text("SELECT state FROM scratch_jobs WHERE id = 1")).scalar_one()
        yield "checked"
        assert state == "open"
        result = session.execute(
            text("UPDATE scratch_jobs SET state = 'claimed', worker = :worker WHERE id = 1 AND state = 'open'"),
            {"worker": worker},
        )
        matched = result.rowcount  # type: ignore[attr-defined]
        yield "updated"
    yield "committed"
    return matched


def test_a_conditional_update_waits_for_the_first_claim_and_then_matches_no_row(scratch: Database) -> None:
    run = interleave(
        {"a": lambda: _conditional_claim(scratch, "a"), "b": lambda: _conditional_claim(scratch, "b")},
        ["a:checked", "b:checked", "a:updated", "b:updated", "a:committed", "b:committed"],
        timeout_s=TIMEOUT_S,
    )

    assert (run["a"].unwrap(), run["b"].unwrap()) == (1, 0), run
    assert _job(scratch) == ("claimed", "a")
    # Both read "open"; b's UPDATE waited for a's lock (SQLite: the database's; PostgreSQL: the row's)...
    assert run["b"].blocked, run
    # ... until a committed.
    assert run.seq("b", "reached", "updated") > run.seq("a", "step", "committed"), run


def _locking_claim(database: Database, worker: str) -> Iterator[str]:
    with database.session() as session:
        state = session.execute(select(JOBS.c.state).where(JOBS.c.id == 1).with_for_update()).scalar_one()
        yield "locked"
        if state != "open":
            return False
        session.execute(update(JOBS).where(JOBS.c.id == 1).values(state="claimed", worker=worker))
    yield "committed"
    return True


def test_select_for_update_makes_the_second_reader_wait_on_postgresql_only(scratch: Database) -> None:
    run = interleave(
        {"a": lambda: _locking_claim(scratch, "a"), "b": lambda: _locking_claim(scratch, "b")},
        ["a:locked", "b:locked", "a:committed", "b:committed"],
        timeout_s=TIMEOUT_S,
    )

    if scratch.engine.dialect.name == "postgresql":
        # b's SELECT ... FOR UPDATE waited for a's transaction, then read a's claim.
        assert run["b"].blocked, run
        assert run.seq("b", "reached", "locked") > run.seq("a", "step", "committed"), run
        assert (run["a"].unwrap(), run["b"].unwrap()) == (True, False), run
        assert _job(scratch) == ("claimed", "a")
    else:
        # No row lock on SQLite: both read "open", both claimed, b's write replaced a's.
        assert (run["a"].unwrap(), run["b"].unwrap()) == (True, True), run
        assert _job(scratch) == ("claimed", "b")


def test_interleave_keeps_a_participants_exception_and_lets_the_others_finish() -> None:
    def fails() -> Iterator[str]:
        yield "started"
        raise RuntimeError("participant failed")

    def counts() -> Iterator[str]:
        for step in range(3):
            yield f"step {step}"
        return "done"

    run = interleave({"a": fails, "b": counts}, ["a", "b", "a", "a", "b"], timeout_s=TIMEOUT_S)

    assert isinstance(run["a"].error, RuntimeError)
    with pytest.raises(RuntimeError, match="participant failed"):
        run["a"].unwrap()
    assert run["b"].unwrap() == "done"
    assert [event.kind for event in run["a"].trace] == ["step", "reached", "step", "raised", "skipped"]
    assert run["b"].labels == ["step 0", "step 1", "step 2"]
    assert [event.kind for event in run["b"].trace][-4:] == ["reached", "released", "reached", "finished"]


def test_interleave_refuses_a_schedule_naming_no_participant() -> None:
    def one() -> Iterator[str]:
        yield "x"

    with pytest.raises(InterleaveError, match="'c'"):
        interleave({"a": one}, ["a", "c"])


def test_interleave_fails_naming_the_stuck_participant_and_closes_the_others() -> None:
    release = threading.Event()
    closed: list[str] = []

    def stuck() -> Iterator[str]:
        yield "before"
        release.wait(timeout=TIMEOUT_S)
        yield "after"

    def waiting() -> Iterator[str]:
        try:
            yield "first"
            yield "second"
        except GeneratorExit:
            closed.append("waiting")
            release.set()  # as a rollback would release a lock
            raise

    expected = (
        r"stuck: stuck \(in a step, after 'before'\); waiting \(waiting for a step, after 'first'\); "
        r"still running .*: none"
    )
    try:
        with pytest.raises(pytest.fail.Exception, match=expected):
            interleave({"stuck": stuck, "waiting": waiting}, ["stuck", "waiting"] + ["stuck"] * 4, timeout_s=0.8)
    finally:
        release.set()
    assert closed == ["waiting"]  # its generator was closed at its yield, so its ``with`` blocks unwound


# --- parallel_requests and the live server -----------------------------------------------------


def test_parallel_requests_get_one_answer_each_from_the_live_server(live_server: str) -> None:
    requests = [HttpRequest("GET", "/health", headers={"X-Request-ID": f"health-{n}"}) for n in range(4)]
    requests += [HttpRequest("GET", "/ready", headers={"X-Request-ID": f"ready-{n}"}) for n in range(4)]

    answers = parallel_requests(live_server, requests, timeout_s=TIMEOUT_S)

    assert [answer.status for answer in answers] == [200] * 8, [answer.text for answer in answers]
    assert [answer.headers["x-request-id"] for answer in answers] == [r.headers["X-Request-ID"] for r in requests]
    assert answers[0].json() == {"status": "ok"}
    assert answers[4].json()["status"] == "ready"


def test_parallel_requests_to_a_claim_route_get_one_success(app: FastAPI, scratch: Database, live_server: str) -> None:
    @app.post("/harness/claim/{worker}")
    def claim(worker: str, request: Request) -> dict[str, str]:
        db: Database = runtime_of(request).database
        with db.session() as session:
            result = session.execute(
                text("UPDATE scratch_jobs SET state = 'claimed', worker = :worker WHERE id = 1 AND state = 'open'"),
                {"worker": worker},
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise HTTPException(status_code=409, detail="already claimed")
        return {"claimed_by": worker}

    answers = parallel_requests(
        live_server, [HttpRequest("POST", f"/harness/claim/w{n}") for n in range(8)], timeout_s=TIMEOUT_S
    )

    statuses = [answer.status for answer in answers]
    assert sorted(statuses) == [200] + [409] * 7, [answer.text for answer in answers]
    winner = answers[statuses.index(200)]
    assert winner.json() == {"claimed_by": winner.request.path.rsplit("/", 1)[1]}
    assert _job(scratch) == ("claimed", winner.json()["claimed_by"])


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "https://10.0.0.1:8080", "http://0.0.0.0:80", "ftp://127.0.0.1/", "http://127.0.0.1.nip.io"],
)
def test_parallel_requests_only_go_to_loopback(url: str) -> None:
    with pytest.raises(AssertionError):
        require_loopback(url)
    with pytest.raises(AssertionError):
        parallel_requests(url, ["/health"], timeout_s=1)


def test_loopback_urls_are_allowed() -> None:
    for url in ("http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:8000", "https://127.0.0.2"):
        require_loopback(url)


# --- track_checkouts ------------------------------------------------------------------------


def test_the_checkout_tracker_sees_a_request_holding_two_connections(
    app: FastAPI, database: Database, live_server: str
) -> None:
    @app.get("/harness/nested-sessions")
    def nested_sessions(request: Request) -> dict[str, int]:
        db: Database = runtime_of(request).database
        with db.session() as outer:
            outer.execute(text("SELECT 1"))
            with db.session() as inner:
                inner.execute(text("SELECT 1"))
        return {"sessions": 2}

    requests = [HttpRequest("GET", "/harness/nested-sessions", headers={"X-Request-ID": "nested"})]
    requests += [HttpRequest("GET", "/ready", headers={"X-Request-ID": f"plain-{n}"}) for n in range(3)]

    with track_checkouts(database.engine) as tracker:
        answers = parallel_requests(live_server, requests, timeout_s=TIMEOUT_S)
        with database.session() as outside:  # outside any request
            outside.execute(text("SELECT 1"))

    assert [answer.status for answer in answers] == [200] * 4, [answer.text for answer in answers]
    assert tracker.peak_by_request == {"nested": 2, "plain-0": 1, "plain-1": 1, "plain-2": 1, None: 1}, tracker.report()
    assert tracker.max_per_request() == 2
    assert tracker.over(1) == {"nested": 2}
    assert tracker.max_per_thread() == 2
    assert tracker.held_now() == 0


def test_the_checkout_tracker_counts_one_connection_for_a_plain_request(database: Database, live_server: str) -> None:
    with track_checkouts(database.engine) as tracker:
        answers = parallel_requests(live_server, ["/ready"] * 4, timeout_s=TIMEOUT_S)

    assert [answer.status for answer in answers] == [200] * 4
    assert tracker.checkouts == 4
    assert tracker.max_per_request() == 1, tracker.report()
    assert not tracker.over(1)
    assert None not in tracker.peak_by_request
