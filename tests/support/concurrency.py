"""The concurrency test harness: one import for its four pieces, each documented in its module.

- ``run_together(calls, timeout_s=)`` (``threads``): N callables in N threads released together by
  a barrier; one ``Outcome`` (value or exception) per call.
- ``interleave(participants, schedule)`` (``interleave``): generator participants advanced step by
  step in a chosen order; a step stuck on a lock is recorded as ``blocked``.
- ``serve(app)``, the ``live_server`` fixture and ``parallel_requests(base_url, requests, timeout_s=)``
  (``live_server``): the app over real HTTP on loopback, and N requests sent at the same instant.
- ``track_checkouts(engine)`` (``checkouts``): the most pooled connections one request (or thread)
  held at once.

Every piece is bounded in time and fails the test, naming what is stuck, rather than hang.
``tests/test_concurrency_harness.py`` shows each at work on SQLite and PostgreSQL.

    def claim(worker):                       # a check-then-act, paused where a race can slip in
        with database.session() as session:
            taken = session.execute(text("SELECT count(*) FROM claims")).scalar_one()
            yield "checked"
            if not taken:
                session.execute(text("INSERT INTO claims VALUES (:w)"), {"w": worker})
            yield "written"
        return not taken

    run = interleave({"a": lambda: claim("a"), "b": lambda: claim("b")}, ["a:checked", "b:checked", "a", "b"])
    assert run["a"].unwrap() and run["b"].unwrap()   # both claimed: the race, reproduced on purpose
"""

from __future__ import annotations

from tests.support.checkouts import CheckoutTracker, track_checkouts
from tests.support.interleave import Event, InterleaveError, Interleaving, Participant, interleave
from tests.support.live_server import HttpAnswer, HttpRequest, parallel_requests, require_loopback, serve
from tests.support.threads import Outcome, run_together

__all__ = [
    "CheckoutTracker",
    "Event",
    "HttpAnswer",
    "HttpRequest",
    "InterleaveError",
    "Interleaving",
    "Outcome",
    "Participant",
    "interleave",
    "parallel_requests",
    "require_loopback",
    "run_together",
    "serve",
    "track_checkouts",
]
