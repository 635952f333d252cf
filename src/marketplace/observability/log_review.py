"""The runbook's log review: warnings and errors of the app's JSON log lines, summarised by event.

``marketplace logs`` feeds this module the lines of files or of standard input, as the app wrote
them (``marketplace.logs``: one JSON object per line with ``time``, ``level``, ``event``) or as a
log collector shows them:

- ``docker compose logs``: ``web-1  | {...}`` (with ``-t``: ``web-1  | 2026-12-01T05:00:00Z {...}``);
- journald's short format: ``Dec 01 05:00:00 host marketplace[123]: {...}``;
- the bare line.

The JSON object is found in the line (the first ``{`` that starts one) and the prefix names the
record's source (the compose service, the journald identifier; else the file). What is counted and
reported, never fatal: a line that holds no JSON object (another service's output, a line cut by
journald), a JSON object that is not a log record, a line longer than :data:`MAX_LINE_BYTES`
(skipped without being held in memory). Invalid UTF-8 is replaced, not refused.

Records at ``level`` and above whose ``time`` is at or after ``since`` are grouped by event and
level: count, first and last time, the sources, and the latest example (its fields made plain
text, those named like secrets redacted, long strings cut, deep nesting flattened). The review
streams: memory is bounded by :data:`MAX_LINE_BYTES` and :data:`MAX_EVENTS`, whatever the input size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import orjson

from marketplace.errors import InvalidInput
from marketplace.logs import is_secret_field, plain_text

# A log line of the app is far shorter (a traceback is some kB): a longer line is skipped unread.
MAX_LINE_BYTES: Final = 1024 * 1024
# Distinct (event, level) groups kept; the records of any further event are counted together.
MAX_EVENTS: Final = 500
OTHER_EVENTS: Final = "(other events)"
# How much of a record an example keeps.
MAX_EXAMPLE_STRING: Final = 500
MAX_EXCEPTION_STRING: Final = 2000
MAX_EXAMPLE_DEPTH: Final = 4
MAX_EXAMPLE_ITEMS: Final = 30
MAX_EVENT_NAME: Final = 200
MAX_SOURCES: Final = 10
MAX_UNREADABLE_EXAMPLES: Final = 5
_UNREADABLE_TEXT = 120
# A record read from a line up to this long is held as read until the report; a longer one is cut first.
_HOLD_RAW_BYTES = 16 * 1024
# How many ``{`` of a line are tried as the start of its JSON object.
_JSON_STARTS = 4

LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

_RELATIVE = re.compile(r"(\d{1,9})([smhdw])")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# ``web-1  | ...`` (docker compose logs; the service name and replica).
_COMPOSE_PREFIX = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,127})\s+\|\s")
# ``Dec 01 05:00:00 host ident[pid]: ...`` (journalctl -o short).
_JOURNALD_PREFIX = re.compile(r"[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ ([^\s\[:]{1,128})(?:\[\d+\])?: ")


class LineSource(Protocol):
    """What the review reads: a binary file, standard input's buffer, a gzip file."""

    def readline(self, size: int = -1, /) -> bytes: ...


def parse_since(value: str, *, now: datetime) -> datetime:
    """``30m``, ``1h``, ``2d``, ``1w`` (before ``now``) or an ISO time (UTC unless it names its offset)."""
    text = value.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        try:
            return now - timedelta(**{_UNITS[unit]: amount})
        except OverflowError:
            raise InvalidInput(f"{value!r} reaches before the year 1", field="since") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{plain_text(value)!r} is neither a duration (30m, 1h, 2d, 1w) nor an ISO time (2026-12-01T05:00:00Z)",
            field="since",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class EventSummary:
    """The records of one event at one level."""

    event: str
    level: str
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    sources: set[str] = field(default_factory=set)
    # The latest record as read (small) or already as shown (see ``LogReview._line``).
    latest_entry: dict[str, Any] = field(default_factory=dict)

    @property
    def latest(self) -> dict[str, Any]:
        """The latest record as the report shows it (:func:`example`)."""
        return example(self.latest_entry)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "level": self.level,
            "count": self.count,
            "first": _iso(self.first),
            "last": _iso(self.last),
            "sources": sorted(self.sources),
            "latest": self.latest,
        }


@dataclass
class Unreadable:
    """A line that was not a log record: where it was and its start (plain text, cut)."""

    source: str
    line: int
    reason: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "reason": self.reason, "text": self.text}


@dataclass
class LogReview:
    """What a review found; feed it lines with :meth:`read`, then read :meth:`events` and the counts."""

    since: datetime
    level: str
    lines: int = 0
    records: int = 0  # JSON log records read, whatever their level and time
    matched: int = 0  # those at ``level`` and above, at or after ``since``
    not_json: int = 0
    not_a_record: int = 0
    too_long: int = 0
    read_errors: int = 0  # inputs whose reading failed part-way (a truncated or corrupt .gz): the rest is skipped
    unreadable_examples: list[Unreadable] = field(default_factory=list)
    _groups: dict[tuple[str, str], EventSummary] = field(default_factory=dict)
    _event_names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._threshold = LEVELS[self.level]

    # --- reading ---------------------------------------------------------------------------------

    def read(self, stream: LineSource, source: str) -> None:
        """Review every line of ``stream`` (binary, read line by line; ``source`` names it in the report)."""
        number = 0
        try:
            for number, line in _lines(stream):
                self.lines += 1
                if line is None:
                    self.too_long += 1
                    self._unreadable(source, number, "too_long", f"longer than {MAX_LINE_BYTES} bytes")
                    continue
                self._line(line.decode("utf-8", errors="replace"), source, number)
        except (OSError, EOFError) as exc:
            self.read_errors += 1
            self._unreadable(source, number + 1, "read_error", f"{type(exc).__name__}: {exc}")

    def _line(self, text: str, source: str, number: int) -> None:
        found = _find_object(text)
        if found is None:
            if text.strip():
                self.not_json += 1
                self._unreadable(source, number, "not_json", text)
            return
        prefix, entry = found
        moment, level = _record_shape(entry)
        if moment is None or level is None:
            self.not_a_record += 1
            self._unreadable(source, number, "not_a_record", text)
            return
        self.records += 1
        if LEVELS[level] < self._threshold or moment < self.since:
            return
        self.matched += 1
        event = self._event_name(entry["event"])
        group = self._group(event, level)
        group.count += 1
        if group.first is None or moment < group.first:
            group.first = moment
        if group.last is None or moment >= group.last:
            group.last = moment
            # Made plain when the report is made (most records are overtaken by a later one), unless
            # the line is big: then now, so that what is held stays small.
            group.latest_entry = entry if len(text) <= _HOLD_RAW_BYTES else example(entry)
        if len(group.sources) < MAX_SOURCES:
            group.sources.add(_source(prefix) or source)

    def _event_name(self, raw: str) -> str:
        """The event name as shown: plain text, cut (cached, for short names only: memory stays bounded)."""
        if len(raw) > MAX_EVENT_NAME:
            return plain_text(raw[: 4 * MAX_EVENT_NAME])[:MAX_EVENT_NAME] or "(no event)"
        name = self._event_names.get(raw)
        if name is None:
            name = plain_text(raw) or "(no event)"
            if len(self._event_names) < 2 * MAX_EVENTS:
                self._event_names[raw] = name
        return name

    def _group(self, event: str, level: str) -> EventSummary:
        key = (event, level)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= MAX_EVENTS:
                key = (OTHER_EVENTS, level)
                group = self._groups.get(key)
                if group is not None:
                    return group
                event = OTHER_EVENTS
            group = self._groups[key] = EventSummary(event, level)
        return group

    def _unreadable(self, source: str, number: int, reason: str, text: str) -> None:
        if len(self.unreadable_examples) < MAX_UNREADABLE_EXAMPLES:
            self.unreadable_examples.append(
                Unreadable(source, number, reason, _cut(plain_text(text), _UNREADABLE_TEXT))
            )

    # --- the result ------------------------------------------------------------------------------

    def events(self) -> list[EventSummary]:
        """The groups, the most severe level first, then the most frequent, then by name."""
        return sorted(self._groups.values(), key=lambda group: (-LEVELS[group.level], -group.count, group.event))

    @property
    def worst(self) -> str | None:
        """The highest level among the records that matched (None when none did)."""
        return max((group.level for group in self._groups.values()), key=LEVELS.__getitem__, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "level": self.level,
            "lines": self.lines,
            "records": self.records,
            "matched": self.matched,
            "worst": self.worst,
            "skipped": {
                "not_json": self.not_json,
                "not_a_record": self.not_a_record,
                "too_long": self.too_long,
                "read_errors": self.read_errors,
            },
            "skipped_examples": [item.to_dict() for item in self.unreadable_examples],
            "events": [group.to_dict() for group in self.events()],
        }


def _iso(moment: datetime | None) -> str | None:
    """As the app's log lines write times (milliseconds)."""
    return moment.isoformat(timespec="milliseconds") if moment is not None else None


def _lines(stream: LineSource) -> Iterator[tuple[int, bytes | None]]:
    """``(number, line)`` of each line (without its end); ``None`` for one over ``MAX_LINE_BYTES``, never held whole."""
    number = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) <= MAX_LINE_BYTES or chunk.endswith(b"\n"):
            yield number, chunk.rstrip(b"\r\n")
            continue
        while chunk and not chunk.endswith(b"\n"):  # the rest of the long line, a bounded piece at a time
            chunk = stream.readline(MAX_LINE_BYTES)
        yield number, None


def _find_object(text: str) -> tuple[str, dict[str, Any]] | None:
    """The line's prefix and the JSON object that ends it, if one does."""
    start = text.find("{")
    for _ in range(_JSON_STARTS):
        if start < 0:
            return None
        try:
            value = orjson.loads(text[start:].rstrip())
        except orjson.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return text[:start], value
        return None
    return None


def _record_shape(entry: dict[str, Any]) -> tuple[datetime | None, str | None]:
    """The record's time (aware) and level name, or Nones when it is not one of the app's log records."""
    time, level, event = entry.get("time"), entry.get("level"), entry.get("event")
    if not isinstance(time, str) or not isinstance(level, str) or not isinstance(event, str):
        return None, None
    level = level.upper()
    if level not in LEVELS:
        return None, None
    try:
        moment = datetime.fromisoformat(time)
    except ValueError:
        return None, None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)), level


def _source(prefix: str) -> str | None:
    """The compose service or journald identifier a line's prefix names."""
    for pattern in (_COMPOSE_PREFIX, _JOURNALD_PREFIX):
        found = pattern.match(prefix)
        if found:
            return plain_text(found.group(1))
    return None


def _cut(text: str, limit: int, *, keep_end: bool = False) -> str:
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :] if keep_end else text[: limit - 1] + "…"


def example(entry: dict[str, Any]) -> dict[str, Any]:
    """A record as the report shows it: plain text, secret-named fields redacted, strings cut, nesting bounded.

    An ``exception`` keeps its end, led by its headline (``exception_headline``) when the cut lost it.
    """
    shown: dict[str, Any] = {}
    for index, (name, value) in enumerate(entry.items()):
        if index >= MAX_EXAMPLE_ITEMS:
            shown["…"] = f"{len(entry) - MAX_EXAMPLE_ITEMS} more field(s)"
            break
        key = _cut(plain_text(str(name)), MAX_EVENT_NAME)
        if is_secret_field(key):
            shown[key] = "[redacted]"
        elif key == "exception" and isinstance(value, str):
            kept = _cut(plain_text(value, keep_newlines=True), MAX_EXCEPTION_STRING, keep_end=True)
            headline = _cut(exception_headline(plain_text(value, keep_newlines=True)), MAX_EXAMPLE_STRING)
            shown[key] = kept if headline in kept else f"{headline}\n{kept}"
        else:
            shown[key] = _bounded(value, 1)
    return shown


def exception_headline(traceback: str) -> str:
    """The line naming the exception a logged traceback ends with: ``Type: message``.

    Not simply the last line: SQLAlchemy's errors end with ``[SQL: ...]``, ``[parameters: ...]`` and
    ``(Background on this error at: ...)``. The headline is the first line after the last frame (the last
    indented line); a text without frames is its own first line.
    """
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    frames = [index for index, line in enumerate(lines) if line[:1].isspace()]
    after = frames[-1] + 1 if frames else 0
    return lines[after] if after < len(lines) else (lines[-1] if lines else "")


def _bounded(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _cut(plain_text(value), MAX_EXAMPLE_STRING)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= MAX_EXAMPLE_DEPTH:
        return _cut(plain_text(orjson.dumps(value).decode()), MAX_EXAMPLE_STRING)
    if isinstance(value, dict):
        items = list(value.items())
        result: dict[str, Any] = {}
        for name, item in items[:MAX_EXAMPLE_ITEMS]:
            key = _cut(plain_text(str(name)), MAX_EVENT_NAME)
            result[key] = "[redacted]" if is_secret_field(key) else _bounded(item, depth + 1)
        if len(items) > MAX_EXAMPLE_ITEMS:
            result["…"] = f"{len(items) - MAX_EXAMPLE_ITEMS} more field(s)"
        return result
    if isinstance(value, list):
        shown = [_bounded(item, depth + 1) for item in value[:MAX_EXAMPLE_ITEMS]]
        if len(value) > MAX_EXAMPLE_ITEMS:
            shown.append(f"… {len(value) - MAX_EXAMPLE_ITEMS} more item(s)")
        return shown
    return _cut(plain_text(str(value)), MAX_EXAMPLE_STRING)


def review(streams: Iterable[tuple[LineSource, str]], *, since: datetime, level: str) -> LogReview:
    """Review each ``(stream, source)`` in turn."""
    result = LogReview(since=since, level=level)
    for stream, source in streams:
        result.read(stream, source)
    return result
