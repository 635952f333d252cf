"""Count the pooled connections each request (and each thread) holds at the same time.

    app.state.catalog_version.read()          # prime long-lived connections first (see limits)
    with track_checkouts(database.engine) as tracker:
        parallel_requests(live_server, ["/", "/api/v1/listings"] * 4, timeout_s=10)
    assert tracker.max_per_request() <= 1, tracker.report()
    assert not tracker.over(1)                # {request id: peak} of the offenders

A request that holds two connections at once can deadlock the pool: with N such requests in
flight and N connections in the pool, each holds one and waits for a second.

The tracker listens to the engine's pool ``checkout`` and ``checkin`` events. A checkout is
charged to the request id in ``marketplace.logs.request_id_var`` (set by the request middleware,
and copied with the context into the thread pool that runs sync routes) and to the current thread;
the checkin releases it from both, whichever thread returns it.

Limits:

- Only this engine's pool is seen: a second engine, or a raw driver connection, is not.
- Checkouts outside any request (test setup, background work, a thread started by hand inside
  a request, which does not inherit the context) are charged to the request id ``None``;
  ``max_per_request`` leaves them out, ``peak_by_request[None]`` has them.
- Connections checked out before the block are not counted, and their checkin is ignored. A
  connection kept beyond its request (``CatalogVersionReader`` keeps one for the process)
  counts for the request that first checked it out, for as long as it stays out: prime such
  connections before the block, as above.
- The request id comes from the ``X-Request-ID`` header when the client sends a sane one: two
  requests sent with the same id are counted as one. Send distinct ids, or none.
- A connection ``detach()``-ed from its pool never checks in: it counts as held to the end.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from marketplace.logs import request_id_var


class CheckoutTracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Any, tuple[str | None, int]] = {}  # connection record -> (request id, thread id)
        self._by_request: Counter[str | None] = Counter()
        self._by_thread: Counter[int] = Counter()
        self.peak_by_request: dict[str | None, int] = {}
        self.peak_by_thread: dict[int, int] = {}
        self.thread_names: dict[int, str] = {}
        self.checkouts = 0

    def on_checkout(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        request_id = request_id_var.get()
        thread = threading.current_thread()
        key = thread.ident or 0
        with self._lock:
            self.checkouts += 1
            self._held[record] = (request_id, key)
            self.thread_names[key] = thread.name
            self._by_request[request_id] += 1
            self._by_thread[key] += 1
            self.peak_by_request[request_id] = max(
                self.peak_by_request.get(request_id, 0), self._by_request[request_id]
            )
            self.peak_by_thread[key] = max(self.peak_by_thread.get(key, 0), self._by_thread[key])

    def on_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        with self._lock:
            holder = self._held.pop(record, None)
            if holder is None:
                return  # checked out before tracking began
            request_id, key = holder
            self._by_request[request_id] -= 1
            self._by_thread[key] -= 1

    def max_per_request(self) -> int:
        """The most connections any one request held at the same time (0 if no request checked one out)."""
        with self._lock:
            return max((peak for request_id, peak in self.peak_by_request.items() if request_id is not None), default=0)

    def max_per_thread(self) -> int:
        """The most connections any one thread held at the same time, requests or not."""
        with self._lock:
            return max(self.peak_by_thread.values(), default=0)

    def over(self, limit: int) -> dict[str, int]:
        """The requests that held more than ``limit`` connections at once: {request id: peak}."""
        with self._lock:
            return {rid: peak for rid, peak in self.peak_by_request.items() if rid is not None and peak > limit}

    def held_by_this_thread(self) -> int:
        """Connections checked out during tracking by the calling thread and not yet returned."""
        key = threading.current_thread().ident or 0
        with self._lock:
            return self._by_thread[key]

    def held_now(self) -> int:
        """Connections checked out during tracking and not yet returned."""
        with self._lock:
            return len(self._held)

    def report(self) -> str:
        with self._lock:
            requests = ", ".join(f"{rid}: {peak}" for rid, peak in self.peak_by_request.items())
            threads = ", ".join(f"{self.thread_names[key]}#{key}: {peak}" for key, peak in self.peak_by_thread.items())
            return f"{self.checkouts} checkouts; peak per request {{{requests}}}; peak per thread {{{threads}}}"


@contextmanager
def track_checkouts(engine: Engine) -> Iterator[CheckoutTracker]:
    """Track ``engine``'s pool checkouts for the duration of the block (see the module doc)."""
    tracker = CheckoutTracker()
    event.listen(engine, "checkout", tracker.on_checkout)
    event.listen(engine, "checkin", tracker.on_checkin)
    try:
        yield tracker
    finally:
        event.remove(engine, "checkout", tracker.on_checkout)
        event.remove(engine, "checkin", tracker.on_checkin)
