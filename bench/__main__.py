"""``python -m bench``: the HTTP benchmark of issue 2 (see docs/performance.md for how to read it).

Default run (about 12 minutes): 10,000 listings; for uvicorn and then granian, 2 workers each,
every default endpoint for 20 s at 10 and then 50 connections after a 2 s warm-up; then the
write-then-read check; then the cost of metrics and logging on the browse page
(``bench/observability_cost.py``, issue 9; alone with ``--observability-only``); then the peak
memory of one upload for the worst image files (``bench/image_memory.py``, issue 6; alone with
``--images-only``); then the escrow figures on a
regtest cluster (``bench/escrow.py``, issue 7; alone with ``--escrow-only``). Exit status 0 when
every run was clean and the check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench import escrow, image_memory, observability_cost
from bench import escrow_marketplace as _registers_the_marketplace_side  # noqa: F401
from bench.machine import load_average, machine_facts
from bench.report import (
    TARGET_LISTINGS,
    Verdict,
    add_ratios,
    markdown_table,
    print_table,
    print_verdicts,
    verdicts,
)
from bench.run import BARE, DEFAULT_ENDPOINTS, ENDPOINTS, Options, RunResult, run_benchmark
from bench.servers import ServerFailed
from bench.wrk import WrkError, wrk_path
from marketplace.cli.serve import ServerKind
from marketplace.monero.regtest import RegtestMissingError, check_binaries
from marketplace.monero.rpc_errors import RpcError


def _int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError("expected positive integers separated by commas")
    return values


def _servers(text: str) -> list[ServerKind]:
    try:
        return [ServerKind(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"servers are {', '.join(ServerKind)}") from None


def parse_options(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, help="seconds of load per measurement (default 20; 5 with --quick)")
    parser.add_argument(
        "--warmup", type=int, help="seconds of unrecorded load per endpoint (default 2; 1 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="a development run: shorter loads")
    parser.add_argument("--servers", type=_servers, default=list(ServerKind), help="comma-separated (default: all)")
    parser.add_argument("--connections", type=_int_list, default=[10, 50], help="comma-separated (default 10,50)")
    keys = [endpoint.key for endpoint in ENDPOINTS]
    parser.add_argument(
        "--endpoints",
        default=",".join(DEFAULT_ENDPOINTS),
        help=f"comma-separated, from {','.join(keys)} (default {','.join(DEFAULT_ENDPOINTS)})",
    )
    parser.add_argument("--listings", type=int, default=10_000, help="listings in the database (default 10000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server (default 2)")
    parser.add_argument("--freshness-rounds", type=int, default=10, help="write-then-read rounds (0 to skip)")
    parser.add_argument("--markdown", type=Path, help="also write the results as Markdown to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server logs)")
    parser.add_argument(
        "--images-only",
        action="store_true",
        help="only the peak memory of one upload for each worst-case image file (about 15 s; no wrk needed)",
    )
    parser.add_argument(
        "--escrow-only",
        action="store_true",
        help="only the escrow figures on a regtest cluster (about 2 minutes; no wrk needed)",
    )
    parser.add_argument(
        "--observability-rounds",
        type=int,
        default=observability_cost.DEFAULT_ROUNDS,
        help="on/off rounds of the metrics-and-logging cost on the browse page (default 4; 0 to skip)",
    )
    parser.add_argument(
        "--observability-only",
        action="store_true",
        help="only the metrics-and-logging cost on the browse page (seeds, then about 3 minutes)",
    )
    parser.add_argument(
        "--escrow-runs",
        type=int,
        default=escrow.DEFAULT_RUNS,
        help=f"runs of each escrow figure, whose median is reported (default {escrow.DEFAULT_RUNS})",
    )
    args = parser.parse_args(argv)
    if args.escrow_runs < 1:
        parser.error("--escrow-runs must be at least 1")
    wanted = {key.strip() for key in args.endpoints.split(",") if key.strip()}
    if unknown := wanted - set(keys):
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    wanted.add(BARE)  # every ratio needs it
    options = Options(
        servers=args.servers,
        connections=args.connections,
        endpoints=[endpoint for endpoint in ENDPOINTS if endpoint.key in wanted],
        duration_s=args.duration or (5 if args.quick else 20),
        warmup_s=args.warmup if args.warmup is not None else (1 if args.quick else 2),
        listings=args.listings,
        workers=args.workers,
        freshness_rounds=args.freshness_rounds,
        observability_rounds=max(args.observability_rounds, 1 if args.observability_only else 0),
        only_observability=args.observability_only,
    )
    return options, args


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def _missing_tool(*, needs_wrk: bool) -> str:
    """What is missing to run (monerod and monero-wallet-rpc; wrk unless only the escrow figures
    are asked for), checked before any figure is measured; empty when nothing is."""
    try:
        check_binaries()
        if needs_wrk:
            wrk_path()
    except (RegtestMissingError, WrkError) as exc:
        return str(exc)
    return ""


def main(argv: list[str] | None = None) -> int:
    options, args = parse_options(argv)
    # Ctrl-C and kill both unwind normally (even when started with SIGINT ignored, as `cmd &` does).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    console = Console()
    if not console.is_terminal:  # piped or redirected: wide enough for the table
        console = Console(width=150)
    if args.images_only:
        images = _image_memory(console)
        if args.markdown:
            args.markdown.write_text(f"## Peak memory of one upload\n\n{images}\n", encoding="utf-8")
            console.print(f"wrote {args.markdown}")
        return 0
    missing = _missing_tool(needs_wrk=not args.escrow_only)
    if missing:
        console.print(f"[bold red]{missing}[/bold red]")
        return 2
    if args.escrow_only:
        return _escrow_only(console, args)
    facts = {**machine_facts(), **escrow.versions()}
    busy = os.getloadavg()[0]
    if busy > 0.5 * (os.cpu_count() or 1):
        console.print(
            f"[bold yellow]the machine is busy (load {busy:.1f}): the figures will be noisy; "
            "run again when it is quiet[/bold yellow]"
        )
    console.print(
        "[bold]Machine[/bold]: " + "; ".join(f"{key} {value}" for key, value in facts.items()), highlight=False
    )
    runs = len(options.servers) * len(options.endpoints) * len(options.connections)
    console.print(
        f"{runs} measurements of {options.duration_s} s (+{options.warmup_s} s warm-up per endpoint), "
        f"{options.workers} workers per server, wrk -t2",
        highlight=False,
    )
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="marketplace-bench-"))
    try:
        result = run_benchmark(options, workdir, console)
    except ServerFailed as exc:
        console.print(f"[bold red]a server failed:[/bold red] {exc}", highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/bold red]: servers stopped, no results")
        return 130
    finally:
        if args.keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    return _report(console, options=options, args=args, result=result, elapsed=elapsed, facts=facts)


def _report_observability(
    console: Console, *, args: argparse.Namespace, result: RunResult, facts: dict[str, str]
) -> int:
    cost = result.observability
    if cost is None:
        return 1
    console.print(f"\n[bold]Metrics and logging[/bold]: {observability_cost.summary(cost)}", highlight=False)
    if args.markdown:
        lines = ["## Machine", "", *(f"- {key}: {value}" for key, value in facts.items())]
        lines += [f"- load average after: {load_average()}", "", "## Metrics and logging", ""]
        lines += [observability_cost.markdown(cost), ""]
        args.markdown.write_text("\n".join(lines), encoding="utf-8")
        console.print(f"wrote {args.markdown}")
    return 0 if cost.met else 1


def _report(
    console: Console,
    *,
    options: Options,
    args: argparse.Namespace,
    result: RunResult,
    elapsed: float,
    facts: dict[str, str],
) -> int:
    if options.only_observability:
        return _report_observability(console, args=args, result=result, facts=facts)
    add_ratios(result.measurements, BARE)
    title = (
        f"HTTP load, {options.duration_s} s per row, {options.workers} workers, wrk -t2 "
        "(ratio: req/s over the bare async def endpoint's, same server, same connections)"
    )
    console.print()
    print_table(console, result.measurements, title)
    for note in result.notes:
        console.print(f"  {note}", highlight=False)
    failed = False
    if any(m.result is None or m.result.errors for m in result.measurements):
        failed = True
        console.print("[bold red]Some measurements failed or had errors: their figures are not valid.[/bold red]")
    for name, count in result.server_log_errors.items():
        if count:
            failed = True
            console.print(f"[bold red]{name} logged {count} errors or tracebacks[/bold red]")
    console.print("\n[bold]Targets[/bold] (issue 2: the first page; issue 5: computed pages, search, browse):")
    found = verdicts(result.measurements)
    print_verdicts(console, found)
    if not found:
        console.print("  (not measured in this run)")
    if options.listings != TARGET_LISTINGS:
        console.print(f"  (the targets are set for {TARGET_LISTINGS:,} listings; this run has {options.listings:,})")
    console.print(
        "\n[bold]A write is visible to the next read[/bold] (create, image, edit, hide, delete, suspend; read at once):"
    )
    freshness_lines = []
    for server, report in result.freshness.items():
        verdict = "PASS" if report.passed else "FAIL"
        failed = failed or not report.passed
        line = f"{server}: {verdict} ({report.checks - len(report.failures)}/{report.checks} checks)"
        freshness_lines.append(line)
        colour = "green" if report.passed else "bold red"
        console.print(f"  [{colour}]{line}[/{colour}]", highlight=False)
        for failure in report.failures[:10]:
            console.print(f"    {failure}", highlight=False)
    cost = result.observability
    if cost is not None:
        failed = failed or bool(cost.errors)
        console.print(f"\n[bold]Metrics and logging[/bold]: {observability_cost.summary(cost)}", highlight=False)
    console.print()
    started = time.monotonic()
    images = _image_memory(console)
    console.print()
    escrow_result = _escrow(console, args.escrow_runs)
    failed = failed or escrow_result is None or escrow.failed(escrow_result)
    elapsed += time.monotonic() - started
    load_after = load_average()
    console.print(
        f"\ntook {elapsed / 60:.1f} min; load average after (includes this run's own load): {load_after}",
        highlight=False,
    )
    if args.markdown:
        _write_markdown(
            args.markdown,
            result=result,
            found=found,
            freshness_lines=freshness_lines,
            images=images,
            escrow_result=escrow_result,
            facts=facts,
            elapsed=elapsed,
            load_after=load_after,
        )
        console.print(f"wrote {args.markdown}")
    return 1 if failed else 0


def _image_memory(console: Console) -> str:
    """Measure and print the peak memory of one upload per worst-case file; gives the Markdown table."""
    with tempfile.TemporaryDirectory(prefix="marketplace-bench-images-") as workdir:
        budget, rows = image_memory.measure(Path(workdir))
    image_memory.print_table(console, budget, rows)
    return image_memory.markdown_table(budget, rows)


def _escrow(console: Console, runs: int) -> escrow.EscrowResult | None:
    """Measure and print the escrow figures; None (and a red line) when a run failed."""
    try:
        result = escrow.run_escrow_bench(runs, console)
    except (RpcError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        console.print(f"[bold red]the escrow figures failed:[/bold red] {exc}", highlight=False)
        return None
    escrow.print_table(console, result)
    return result


def _escrow_only(console: Console, args: argparse.Namespace) -> int:
    facts = {**machine_facts(), **escrow.versions()}
    console.print(
        "[bold]Machine[/bold]: " + "; ".join(f"{key} {value}" for key, value in facts.items()), highlight=False
    )
    started = time.monotonic()
    result = _escrow(console, args.escrow_runs)
    elapsed = time.monotonic() - started
    load_after = load_average()
    console.print(
        f"\ntook {elapsed / 60:.1f} min; load average after (includes this run's own load): {load_after}",
        highlight=False,
    )
    if result is None:
        return 1
    if args.markdown:
        lines = ["## Machine", "", *(f"- {key}: {value}" for key, value in facts.items())]
        lines += [f"- load average after: {load_after}", "", "## Escrow", "", escrow.markdown_table(result), ""]
        args.markdown.write_text("\n".join(lines), encoding="utf-8")
        console.print(f"wrote {args.markdown}")
    return 1 if escrow.failed(result) else 0


def _write_markdown(
    path: Path,
    *,
    result: RunResult,
    found: list[Verdict],
    freshness_lines: list[str],
    images: str,
    escrow_result: escrow.EscrowResult | None,
    facts: dict[str, str],
    elapsed: float,
    load_after: str,
) -> None:
    lines = [
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        f"- load average after: {load_after}",
    ]
    lines += ["", "## Results", "", markdown_table(result.measurements), ""]
    lines += [f"- {note}" for note in result.notes]
    lines += ["", "## Targets", ""]
    lines += [f"- {'met' if v.met else 'MISSED'}: {v.description}: {v.detail}" for v in found]
    lines += ["", "## A write is visible to the next read", "", *(f"- {line}" for line in freshness_lines)]
    if result.observability is not None:
        lines += ["", "## Metrics and logging", "", observability_cost.markdown(result.observability)]
    lines += ["", "## Peak memory of one upload", "", images]
    lines += ["", "## Escrow", "", escrow.markdown_table(escrow_result) if escrow_result else "(failed)"]
    lines += ["", f"Run took {elapsed / 60:.1f} min.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
