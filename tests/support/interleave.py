"""Interleave database sessions (or any code) on purpose, one step at a time.

A participant is a generator function that ``yield``s a label wherever it may be paused, e.g.
after reading, after writing, after committing. Each runs in a thread of its own; the
orchestrator lets them take steps in the order of ``schedule``:

    def claim(worker: str) -> Iterator[str]:
        with database.session() as session:
            state = session.execute(text("SELECT state FROM jobs WHERE id = 1")).scalar_one()
            yield "read"
            matched = session.execute(text("UPDATE jobs SET state = 'taken' WHERE id = 1 AND state = 'open'")).rowcount
            yield "written"
        yield "committed"
        return matched

    run = interleave({"a": lambda: claim("a"), "b": lambda: claim("b")},
                     ["a:read", "b:read", "a:written", "b:written", "a:committed", "b:committed"])
    assert run["b"].blocked                       # b's UPDATE waited for a's lock ...
    assert run.seq("b", "reached", "written") > run.seq("a", "step", "committed")  # ... until a committed
    assert (run["a"].unwrap(), run["b"].unwrap()) == (1, 0)  # and then matched no row

Schedule entries:

- ``"a"``: let ``a`` take one step (run to its next ``yield``, or to its end).
- ``"a:label"``: let ``a`` take steps until it stands at ``label`` (none if it already does), or
  ends: a participant may return early (a check that found the row taken) or raise; its
  ``finished`` or ``raised`` event shows it, and ``labels`` what it reached.

A step that does not reach its next ``yield`` within ``block_after_s`` is recorded as ``blocked``
(it is waiting for a lock, most likely) and the orchestrator moves on; the step goes on in its
thread and its ``reached`` event is recorded when it comes. The next entry for a blocked
participant first waits (``block_after_s`` again) for that step to end, then takes its own
steps; if the step is still blocked, the entry is recorded as ``blocked`` once more and skipped.
An entry for a participant that has ended is recorded as ``skipped``. After the schedule every
participant runs freely to its end. All of it is bounded by ``timeout_s``: past it the
participants still waiting for a step are closed (``GeneratorExit`` at their ``yield``, so
their ``with`` blocks roll back) and the test fails, naming the participants that are stuck.

The result has one ``Participant`` per name (``value``/``error``, ``blocked``, ``labels``,
``trace``) and the whole ordered ``events`` list. Event kinds: ``step`` (the orchestrator let a
participant go; ``label`` is the target of an ``a:label`` entry), ``reached`` (it stopped at a
``yield``), ``blocked``, ``skipped``, ``released`` (runs freely to its end), ``finished``
(returned), ``raised`` (raised; the exception is the participant's ``error``), ``closed``
(closed by an aborted run). Events are numbered (``seq``) in the order the orchestrator saw them;
only assert an order between events that cannot happen at the same time (e.g. a ``reached`` of a
participant that was blocked, after the ``step`` of the one holding the lock).

Each participant's code runs entirely in its own thread (SQLite connections are opened with
``check_same_thread=False`` anyway). Create sessions inside the generator, not before it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

ParticipantFn = Callable[[], Generator[Any, None, Any]]

DEFAULT_BLOCK_AFTER_S = 0.3
DEFAULT_TIMEOUT_S = 10.0
_CLOSE_GRACE_S = 2.0


class InterleaveError(AssertionError):
    """The schedule names a participant that does not exist."""


@dataclass(frozen=True)
class Event:
    seq: int
    participant: str
    kind: str
    label: str | None = None

    def __str__(self) -> str:
        return f"{self.seq:3d} {self.participant}: {self.kind}" + (f" {self.label}" if self.label is not None else "")


@dataclass
class Participant:
    """One participant's end: its return value or exception, and its own events in order."""

    name: str
    value: Any = None
    error: BaseException | None = None
    trace: list[Event] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """Whether any of its steps was recorded as blocked."""
        return any(event.kind == "blocked" for event in self.trace)

    @property
    def labels(self) -> list[str | None]:
        """The labels it reached, in order."""
        return [event.label for event in self.trace if event.kind == "reached"]

    def unwrap(self) -> Any:
        """The return value; re-raises the participant's exception if it raised one."""
        if self.error is not None:
            raise self.error
        return self.value


@dataclass
class Interleaving:
    participants: dict[str, Participant]
    events: list[Event]

    def __getitem__(self, name: str) -> Participant:
        return self.participants[name]

    def seq(self, participant: str, kind: str, label: str | None = None) -> int:
        """The number of the first event of ``participant`` of ``kind`` (and ``label``, if given)."""
        for event in self.events:
            if event.participant == participant and event.kind == kind and (label is None or event.label == label):
                return event.seq
        raise AssertionError(f"no {kind} {label or ''} event for {participant}:\n{self}")

    def __str__(self) -> str:
        return "\n".join(str(event) for event in self.events)


class _Runner:
    """A participant in its thread; its fields are guarded by the orchestration's condition."""

    def __init__(self, name: str, make: ParticipantFn, board: _Board) -> None:
        self.name = name
        self.make = make
        self.board = board
        self.granted = 0  # steps the orchestrator allowed
        self.taken = 0  # steps that reached a yield or the end
        self.free = False
        self.abort = False
        self.done = False
        self.position: str | None = None
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"interleave-{name}", daemon=True)

    @property
    def pending(self) -> bool:
        return not self.done and self.taken < self.granted

    def _run(self) -> None:
        generator: Generator[Any, None, Any] | None = None
        board = self.board
        try:
            generator = self.make()
            while True:
                with board.cond:
                    while not (self.abort or self.free or self.granted > self.taken):
                        board.cond.wait()
                    if self.abort:
                        break
                try:
                    label = next(generator)
                except StopIteration as stop:
                    with board.cond:
                        self.value = stop.value
                        board.record(self.name, "finished")
                    return
                with board.cond:
                    self.position = None if label is None else str(label)
                    self.taken += 1
                    board.record(self.name, "reached", self.position)
            generator.close()
            with board.cond:
                board.record(self.name, "closed")
        except BaseException as exc:  # noqa: BLE001  the participant's exception is its outcome
            with board.cond:
                self.error = exc
                board.record(self.name, "raised", type(exc).__name__)
        finally:
            with board.cond:
                self.done = True
                board.cond.notify_all()


class _Board:
    """The shared condition and the event log."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.events: list[Event] = []
        self._numbers = itertools.count(1)

    def record(self, participant: str, kind: str, label: str | None = None) -> None:
        """Append an event (call with ``cond`` held) and wake everyone waiting."""
        self.events.append(Event(next(self._numbers), participant, kind, label))
        self.cond.notify_all()


def _parse(entry: str, names: Sequence[str]) -> tuple[str, str | None]:
    name, colon, label = entry.partition(":")
    if name not in names:
        raise InterleaveError(f"schedule entry {entry!r} names no participant (participants: {', '.join(names)})")
    return name, label if colon else None


def interleave(
    participants: Mapping[str, ParticipantFn],
    schedule: Sequence[str],
    *,
    block_after_s: float = DEFAULT_BLOCK_AFTER_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Interleaving:
    """Run ``participants`` step by step in the order of ``schedule``, then each to its end (see the module doc)."""
    assert participants, "interleave needs at least one participant"
    assert all(name and ":" not in name for name in participants), "participant names are non-empty, without ':'"
    assert 0 < block_after_s < timeout_s <= 120, "0 < block_after_s < timeout_s <= 120"
    names = list(participants)
    steps = [_parse(entry, names) for entry in schedule]
    board = _Board()
    runners = {name: _Runner(name, make, board) for name, make in participants.items()}
    deadline = time.monotonic() + timeout_s
    for runner in runners.values():
        runner.thread.start()
    try:
        done = _orchestrate(runners, steps, board, block_after_s, deadline)
    except _Timeout:
        done = False
    if not done:
        with board.cond:
            stuck = [_whereabouts(runner) for runner in runners.values() if not runner.done]
        still_running = _abort(runners, board)
        with board.cond:
            log = "\n".join(str(event) for event in board.events)
        pytest.fail(
            f"interleave: not done within {timeout_s} s; stuck: {'; '.join(stuck)}; "
            f"still running {_CLOSE_GRACE_S} s after closing: {', '.join(still_running) or 'none'}\n{log}"
        )
    for runner in runners.values():
        runner.thread.join(_CLOSE_GRACE_S)
    with board.cond:
        events = list(board.events)
    return Interleaving(
        participants={
            name: Participant(
                name=name,
                value=runner.value,
                error=runner.error,
                trace=[event for event in events if event.participant == name],
            )
            for name, runner in runners.items()
        },
        events=events,
    )


class _Timeout(Exception):
    """The deadline passed during the schedule (internal, never escapes)."""


def _orchestrate(
    runners: Mapping[str, _Runner],
    steps: Sequence[tuple[str, str | None]],
    board: _Board,
    block_after_s: float,
    deadline: float,
) -> bool:
    """Play the schedule, then let everyone run to the end; whether all ended before ``deadline``."""
    with board.cond:
        for name, label in steps:
            _take(runners[name], label, board, block_after_s, deadline)
        for runner in runners.values():
            if not runner.done:
                runner.free = True
                board.record(runner.name, "released")
        return _wait(board, lambda: all(runner.done for runner in runners.values()), deadline)


def _wait(board: _Board, predicate: Callable[[], bool], until: float) -> bool:
    """Wait (``cond`` held) until ``predicate`` holds or ``until`` passes; whether it holds."""
    while not predicate():
        left = until - time.monotonic()
        if left <= 0:
            return False
        board.cond.wait(left)
    return True


def _settle(runner: _Runner, board: _Board, block_after_s: float, deadline: float) -> bool:
    """Wait for the runner's current step; whether it ended (reached a yield or its end) in time."""
    until = min(time.monotonic() + block_after_s, deadline)
    if _wait(board, lambda: not runner.pending, until):
        return True
    if time.monotonic() >= deadline:
        raise _Timeout
    return False


def _take(runner: _Runner, label: str | None, board: _Board, block_after_s: float, deadline: float) -> None:
    """Carry out one schedule entry (``cond`` held)."""
    if runner.pending and not _settle(runner, board, block_after_s, deadline):
        board.record(runner.name, "blocked", label)
        return
    if runner.done:
        board.record(runner.name, "skipped", label)
        return
    if label is not None and runner.position == label:
        return
    while True:
        runner.granted += 1
        board.record(runner.name, "step", label)
        if not _settle(runner, board, block_after_s, deadline):
            board.record(runner.name, "blocked", label)
            return
        if label is None or runner.position == label or runner.done:
            return


def _whereabouts(runner: _Runner) -> str:
    where = "at the start" if runner.position is None and not runner.taken else f"after {runner.position!r}"
    doing = "in a step" if runner.pending or runner.free else "waiting for a step"
    return f"{runner.name} ({doing}, {where})"


def _abort(runners: Mapping[str, _Runner], board: _Board) -> list[str]:
    """Close every participant waiting for a step; the names of those still running after a grace period."""
    with board.cond:
        for runner in runners.values():
            runner.abort = True
        board.cond.notify_all()
    until = time.monotonic() + _CLOSE_GRACE_S
    for runner in runners.values():
        runner.thread.join(max(0.0, until - time.monotonic()))
    return [name for name, runner in runners.items() if runner.thread.is_alive()]
