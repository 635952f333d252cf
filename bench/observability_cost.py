"""What metrics and logging cost on the browse page (issue 9): the same app with them on and off, in the same run.

Four ``marketplace serve`` processes on the same database: as shipped (metrics on, one INFO log
line per request), metrics only (``MARKETPLACE_LOG_LEVEL=WARNING``: no request logged), logging
only (``MARKETPLACE_METRICS_ENABLED=false``), and neither. Only one is under load at a time; their
rounds alternate (forwards, then backwards ...) so that a change of the machine's load touches
all and none always goes first.

Two figures per variant: requests per second (the median of the rounds), and **CPU time per
request**: the user and system CPU seconds all the server's processes used during a round
(``/proc``, the whole process group) divided by the requests answered. On a quiet machine both
say the same; on a shared one throughput swings with what else runs (rounds of one server seen
to differ by more than 2x within a minute) while CPU per request barely moves. So the verdict
(target: at most 10% more with both on than with neither) is on CPU per request; both are printed.
"""

from __future__ import annotations

import os
import statistics
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from bench.servers import ServerProcess, app_command, free_port
from bench.wrk import WrkResult, run_wrk, write_script
from marketplace.cli.serve import ServerKind

PATH = "/"  # the browse page
TARGET = 0.10
DEFAULT_ROUNDS = 4
MAX_ROUND_SECONDS = 10
WARMUP_CONNECTIONS = 10

BOTH = "metrics and logging"
NEITHER = "neither"
_METRICS_OFF = {"MARKETPLACE_METRICS_ENABLED": "false"}
_REQUEST_LOGGING_OFF = {"MARKETPLACE_LOG_LEVEL": "WARNING"}
VARIANTS: dict[str, dict[str, str]] = {
    BOTH: {},
    "metrics only": _REQUEST_LOGGING_OFF,
    "logging only": _METRICS_OFF,
    NEITHER: {**_METRICS_OFF, **_REQUEST_LOGGING_OFF},
}


@dataclass
class Variant:
    name: str
    runs: list[WrkResult] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # CPU milliseconds per request, per round

    @property
    def rps(self) -> float:
        return statistics.median(r.requests_per_second for r in self.runs)

    @property
    def cpu_ms_per_request(self) -> float:
        return statistics.median(self.cpu_ms)


@dataclass
class CostResult:
    server: str
    connections: int
    seconds: int
    variants: dict[str, Variant] = field(default_factory=dict)

    def extra_cpu(self, name: str) -> float:
        """How much more CPU a request takes in variant ``name`` than with neither (medians of the rounds)."""
        base = self.variants[NEITHER].cpu_ms_per_request
        return self.variants[name].cpu_ms_per_request / base - 1 if base else 0.0

    @property
    def cost(self) -> float:
        return self.extra_cpu(BOTH)

    @property
    def throughput_cost(self) -> float:
        """The share of throughput lost with both on (negative: within the noise, on was faster)."""
        base = self.variants[NEITHER].rps
        return 1 - self.variants[BOTH].rps / base if base else 0.0

    @property
    def errors(self) -> int:
        return sum(r.errors for variant in self.variants.values() for r in variant.runs)

    @property
    def met(self) -> bool:
        return self.cost <= TARGET and not self.errors


def group_cpu_seconds(server: ServerProcess) -> float:
    """User + system CPU seconds used so far by every live process of ``server``'s process group."""
    if server.process is None:
        return 0.0
    group = server.process.pid
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group:  # pgrp
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure_cost(
    kind: ServerKind,
    *,
    workdir: Path,
    env: dict[str, str],
    workers: int,
    connections: int,
    seconds: int,
    warmup_s: int,
    rounds: int = DEFAULT_ROUNDS,
    console: Console,
) -> CostResult:
    """Serve the app in each variant and load the browse page on each in turn, ``rounds`` times."""
    seconds = min(seconds, MAX_ROUND_SECONDS)
    result = CostResult(kind.value, connections, seconds)
    servers: dict[str, ServerProcess] = {}
    for name, changes in VARIANTS.items():
        port = free_port()
        variant_env = {**env, **changes}
        # each its own metrics directory: a server empties its directory when it starts
        variant_env["MARKETPLACE_METRICS_DIR"] = str(workdir / f"metrics-{port}")
        servers[name] = ServerProcess(
            name,
            app_command(kind, port, workers),
            port=port,
            env=variant_env,
            log_path=workdir / f"{kind}-observability-{port}.log",
            ready_path="/health",
        )
        result.variants[name] = Variant(name)
    script = write_script(workdir, "observability-cost")
    with ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(server)  # each stopped on the way out, whatever happens
        for server in servers.values():
            if warmup_s > 0:
                run_wrk(server.base_url + PATH, connections=WARMUP_CONNECTIONS, seconds=warmup_s, script=script)
        order = list(servers)
        for round_number in range(1, rounds + 1):
            for name in order if round_number % 2 else reversed(order):
                label = f"{name}, round {round_number}/{rounds}"
                _measure_round(
                    servers[name], result.variants[name], result=result, label=label, script=script, console=console
                )
    return result


def _measure_round(
    server: ServerProcess, variant: Variant, *, result: CostResult, label: str, script: Path, console: Console
) -> None:
    cpu_before = group_cpu_seconds(server)
    with console.status(f"{result.server} browse page, {label}"):
        measured = run_wrk(
            server.base_url + PATH, connections=result.connections, seconds=result.seconds, script=script
        )
    cpu_ms = (group_cpu_seconds(server) - cpu_before) * 1000 / max(measured.requests, 1)
    server.check_alive()
    variant.runs.append(measured)
    variant.cpu_ms.append(cpu_ms)
    console.print(
        f"  {label}: {measured.requests_per_second:,.0f} req/s, "
        f"{cpu_ms:.3f} ms CPU per request, p50 {measured.p50_ms:.1f} ms, p95 {measured.p95_ms:.1f} ms",
        highlight=False,
    )


def summary(result: CostResult) -> str:
    verdict = "met" if result.met else "MISSED"
    errors = f", {result.errors} errors (not valid)" if result.errors else ""
    both, neither = result.variants[BOTH], result.variants[NEITHER]
    return (
        f"{verdict}: with metrics and logging a browse page takes {result.cost * 100:+.1f}% CPU per request "
        f"(target at most +{TARGET * 100:.0f}%): {both.cpu_ms_per_request:.3f} ms against "
        f"{neither.cpu_ms_per_request:.3f} ms (metrics alone {result.extra_cpu('metrics only') * 100:+.1f}%, "
        f"logging alone {result.extra_cpu('logging only') * 100:+.1f}%); throughput {both.rps:,.0f} req/s against "
        f"{neither.rps:,.0f} ({result.throughput_cost * 100:+.1f}% fewer); {result.server}, "
        f"{result.connections} connections, {len(both.runs)} rounds of {result.seconds} s each{errors}"
    )


def markdown(result: CostResult) -> str:
    rows = ["| variant | req/s (median) | CPU ms per request (median) | rounds (CPU ms) |", "|---|---:|---:|---|"]
    rows += [
        f"| {v.name} | {v.rps:,.0f} | {v.cpu_ms_per_request:.3f} | {', '.join(f'{c:.3f}' for c in v.cpu_ms)} |"
        for v in result.variants.values()
    ]
    return "\n".join([*rows, "", f"- {summary(result)}"])
