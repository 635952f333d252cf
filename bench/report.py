"""The results: a Rich table on the terminal, the same as Markdown for docs/performance.md, and the verdicts."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench.wrk import WrkResult

TARGET_CONNECTIONS = 10
# The listing count the targets were set for (docs/performance.md).
TARGET_LISTINGS = 10_000


@dataclass(frozen=True)
class Target:
    """An issue's target for one endpoint: throughput over the bare endpoint's, and p95 at 10 connections."""

    endpoint_key: str
    min_ratio: float
    max_p95_ms: float | None = None
    # Connection counts at which the ratio must hold; None: every count measured.
    ratio_connections: tuple[int, ...] | None = (TARGET_CONNECTIONS,)


TARGETS = (
    # Issue 2: the first page everyone sees, at every load measured.
    Target("listings", min_ratio=0.3, max_p95_ms=50.0, ratio_connections=None),
    # Issue 5: pages that must be computed, at 10 connections.
    Target("listings-varied", min_ratio=0.10, max_p95_ms=20.0),
    Target("search", min_ratio=0.05, max_p95_ms=30.0),
    Target("browse", min_ratio=0.15),
)


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str  # requested by wrk, or only probed first when ``request_lua`` makes each request's path
    on_bare_server: bool
    request_lua: str = ""


@dataclass
class Measurement:
    server: str
    endpoint: Endpoint
    connections: int
    result: WrkResult | None = None
    ratio: float | None = None
    problem: str = ""  # why there is no result


@dataclass(frozen=True)
class Verdict:
    description: str
    met: bool
    detail: str


def add_ratios(measurements: list[Measurement], reference_key: str) -> None:
    """Each row's throughput over the bare ``async def`` endpoint's, same server, same connections."""
    reference = {
        (m.server, m.connections): m.result.requests_per_second
        for m in measurements
        if m.endpoint.key == reference_key and m.result is not None
    }
    for m in measurements:
        base = reference.get((m.server, m.connections))
        if m.result is not None and base:
            m.ratio = m.result.requests_per_second / base


def verdicts(measurements: list[Measurement], targets: tuple[Target, ...] = TARGETS) -> list[Verdict]:
    """Each target measured in this run, per server: met or not, with the figure."""
    found: list[Verdict] = []
    for target in targets:
        for m in measurements:
            if m.endpoint.key != target.endpoint_key:
                continue
            found.extend(_target_verdicts(target, m))
    return found


def _target_verdicts(target: Target, m: Measurement) -> list[Verdict]:
    name = f"{m.server}, {m.endpoint.label}, {m.connections} connections"
    wanted = target.ratio_connections is None or m.connections in target.ratio_connections
    if not wanted and m.connections != TARGET_CONNECTIONS:
        return []
    if m.result is None or m.ratio is None:
        return [Verdict(f"{name}: measured", met=False, detail=m.problem or "no result")]
    found = []
    if wanted:
        errors = f", {m.result.errors} errors" if m.result.errors else ""
        found.append(
            Verdict(
                f"{name}: throughput ≥ {target.min_ratio:.2f}× bare",
                met=m.ratio >= target.min_ratio and m.result.errors == 0,
                detail=f"{m.ratio:.2f}×{errors}",
            )
        )
    if target.max_p95_ms is not None and m.connections == TARGET_CONNECTIONS:
        found.append(
            Verdict(
                f"{name}: p95 < {target.max_p95_ms:.0f} ms",
                met=m.result.p95_ms < target.max_p95_ms,
                detail=f"{m.result.p95_ms:.1f} ms",
            )
        )
    return found


_HEADERS = (
    "server",
    "endpoint",
    "conn.",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "ratio to bare",
    "HTTP errors",
    "socket errors",
)


def _cells(m: Measurement) -> list[str]:
    head = [m.server, m.endpoint.label, str(m.connections)]
    if m.result is None:
        return [*head, "—", "—", "—", "—", "—", m.problem or "not measured", "—"]
    r = m.result
    return [
        *head,
        f"{r.requests_per_second:,.0f}",
        f"{r.p50_ms:.1f}",
        f"{r.p95_ms:.1f}",
        f"{r.p99_ms:.1f}",
        f"{m.ratio:.2f}×" if m.ratio is not None else "—",
        str(r.non_2xx),
        str(r.socket_errors),
    ]


def print_table(console: Console, measurements: list[Measurement], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(_HEADERS):
        table.add_column(header, justify="left" if index < 2 else "right")
    previous_server = None
    for m in measurements:
        if previous_server is not None and m.server != previous_server:
            table.add_section()
        previous_server = m.server
        bad = m.result is None or m.result.errors > 0
        table.add_row(*_cells(m), style="bold red" if bad else None)
    console.print(table)


def markdown_table(measurements: list[Measurement]) -> str:
    lines = [
        "| " + " | ".join(_HEADERS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(_HEADERS))) + "|",
    ]
    lines.extend("| " + " | ".join(_cells(m)) + " |" for m in measurements)
    return "\n".join(lines)


def print_verdicts(console: Console, found: list[Verdict]) -> None:
    for verdict in found:
        mark = "[green]MET   [/green]" if verdict.met else "[bold red]MISSED[/bold red]"
        console.print(f"  {mark} {verdict.description}: {verdict.detail}", highlight=False)
