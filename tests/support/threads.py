"""Run N callables in N threads released at the same instant; keep every outcome.

    def claim(worker: str) -> int:              # each call opens its own session
        with database.session() as session:
            return session.execute(update(Job).where(Job.id == 1, Job.state == "open").values(worker=worker)).rowcount

    outcomes = run_together([partial(claim, f"w{n}") for n in range(8)], timeout_s=10)
    assert sorted(outcome.unwrap() for outcome in outcomes) == [0] * 7 + [1]   # unwrap re-raises an error

Each call runs in a daemon thread of its own; the threads wait on a ``threading.Barrier`` so the
calls start together. A call that returns gives ``Outcome(value=...)``, one that raises (anything,
``BaseException`` included) gives ``Outcome(error=...)``: no exception is lost or re-raised.
If the calls are not all done within ``timeout_s`` the test fails, naming the stuck calls. A
thread stuck in a call cannot be killed: it is a daemon thread, so it never holds the process up,
and the test fails instead of waiting for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import pytest

T = TypeVar("T")

MAX_THREADS = 128


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one call gave: its value, or the exception it raised."""

    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> T:
        """The value; re-raises the call's exception if it raised one."""
        if self.error is not None:
            raise self.error
        return cast("T", self.value)


def call_name(call: Callable[..., Any]) -> str:
    """A readable name for a callable (functions, partials, lambdas)."""
    name = getattr(call, "__qualname__", None) or getattr(call, "__name__", None)
    if name is None and hasattr(call, "func"):
        return f"partial({call_name(call.func)})"
    return str(name) if name else repr(call)


def run_together(calls: Sequence[Callable[[], T]], *, timeout_s: float) -> list[Outcome[T]]:
    """Call every item of ``calls`` in its own thread, all released together; one outcome per call, in order."""
    count = len(calls)
    assert 1 <= count <= MAX_THREADS, f"run_together takes 1 to {MAX_THREADS} calls, not {count}"
    assert 0 < timeout_s <= 120, f"timeout_s must be in (0, 120], not {timeout_s}"
    barrier = threading.Barrier(count)
    outcomes: list[Outcome[T] | None] = [None] * count

    def worker(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=timeout_s)
        except threading.BrokenBarrierError as exc:
            outcomes[index] = Outcome(error=exc)
            return
        try:
            outcomes[index] = Outcome(value=call())
        except BaseException as exc:  # noqa: BLE001  every exception is the call's outcome, reported to the test
            outcomes[index] = Outcome(error=exc)

    threads = [
        threading.Thread(target=worker, args=(index, call), name=f"together-{index}", daemon=True)
        for index, call in enumerate(calls)
    ]
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [index for index, thread in enumerate(threads) if thread.is_alive()]
    if stuck:
        barrier.abort()
        names = ", ".join(f"#{index} {call_name(calls[index])}" for index in stuck)
        pytest.fail(f"run_together: {len(stuck)} of {count} calls still running after {timeout_s} s: {names}")
    return [cast("Outcome[T]", outcome) for outcome in outcomes]
