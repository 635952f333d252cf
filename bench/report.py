"""The results: a Rich table on the terminal, the same as Markdown for docs/performance.md, and the verdicts."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench.wrk import WrkResult

RATIO_TARGET = 0.3
P95_TARGET_MS = 50.0
TARGET_CONNECTIONS = 10


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


def verdicts(measurements: list[Measurement], target_key: str) -> list[Verdict]:
    """The issue's targets for the JSON listing endpoint, per server."""
    found: list[Verdict] = []
    for m in measurements:
        if m.endpoint.key != target_key:
            continue
        if m.result is None or m.ratio is None:
            found.append(Verdict(f"{m.server}: {m.endpoint.path} measured", met=False, detail=m.problem or "no result"))
            continue
        found.append(
            Verdict(
                f"{m.server}, {m.connections} connections: throughput ≥ {RATIO_TARGET}× bare",
                met=m.ratio >= RATIO_TARGET and m.result.errors == 0,
                detail=f"{m.ratio:.2f}×" + (f", {m.result.errors} errors" if m.result.errors else ""),
            )
        )
        if m.connections == TARGET_CONNECTIONS:
            found.append(
                Verdict(
                    f"{m.server}, {m.connections} connections: p95 < {P95_TARGET_MS:.0f} ms",
                    met=m.result.p95_ms < P95_TARGET_MS,
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
