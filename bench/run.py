"""One benchmark run: seed a fresh database, then for each server measure every endpoint under wrk.

Everything is measured in the same run, one load at a time, and compared only within the run.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from bench import observability_cost
from bench.freshness import FreshnessReport, check_write_then_read
from bench.report import Endpoint, Measurement
from bench.seed import SEARCH_TERMS, SEARCH_WORD, SeededData, seed_database
from bench.servers import ServerFailed, ServerProcess, app_command, bare_command, free_port
from bench.wrk import WrkError, run_wrk, varied_request, write_script
from marketplace.cli.serve import ServerKind
from marketplace.listings.listing_sql import SortOrder
from marketplace.listings.models import CATEGORIES
from marketplace.settings import load_settings

BARE = "bare"
LISTINGS = "listings"
_SORTS = [sort.value for sort in SortOrder]
ENDPOINTS = (
    Endpoint(BARE, "bare: /bare (async def)", "/bare", on_bare_server=True),
    Endpoint("bare-sync", "bare: /bare-sync (def)", "/bare-sync", on_bare_server=True),
    Endpoint("bare-count", "bare: /bare-count (def + raw COUNT)", "/bare-count", on_bare_server=True),
    # The measurement: the same URL again and again (the first page everyone sees).
    Endpoint(LISTINGS, "GET /api/v1/listings", "/api/v1/listings", on_bare_server=False),
    # Thousands of different pages (sort × category × page × page size): what an answer costs
    # when it has to be computed, as with a cache that rarely holds the page asked for.
    Endpoint(
        "listings-varied",
        "GET /api/v1/listings, varied pages",
        "/api/v1/listings?sort=price_asc&category=books&page=2&page_size=30",
        on_bare_server=False,
        request_lua=varied_request(
            '"/api/v1/listings?sort=" .. pick(sorts) .. "&category=" .. pick(categories)'
            ' .. "&page=" .. math.random(1, 40) .. "&page_size=" .. pick(sizes)',
            sorts=_SORTS,
            categories=list(CATEGORIES),
            sizes=["10", "20", "24", "30", "50"],
        ),
    ),
    Endpoint(
        "search",
        "GET /api/v1/listings?q=…, varied words",
        f"/api/v1/listings?q={SEARCH_WORD}",
        on_bare_server=False,
        request_lua=varied_request(
            '"/api/v1/listings?q=" .. pick(terms) .. "&sort=" .. pick(sorts) .. "&page=" .. math.random(1, 5)',
            terms=SEARCH_TERMS,
            sorts=_SORTS,
        ),
    ),
    Endpoint("browse", "GET / (browse page)", "/", on_bare_server=False),
)
# Measured unless --endpoints says otherwise; the others are optional (docs/performance.md).
DEFAULT_ENDPOINTS = ("bare", "listings", "listings-varied", "search", "browse")
WARMUP_CONNECTIONS = 10


@dataclass(frozen=True)
class Options:
    servers: list[ServerKind]
    connections: list[int]
    endpoints: list[Endpoint]
    duration_s: int
    warmup_s: int
    listings: int
    workers: int
    freshness_rounds: int
    observability_rounds: int = observability_cost.DEFAULT_ROUNDS  # 0 skips the metrics-and-logging cost
    only_observability: bool = False


@dataclass
class RunResult:
    seeded: SeededData | None = None
    measurements: list[Measurement] = field(default_factory=list)
    freshness: dict[str, FreshnessReport] = field(default_factory=dict)
    server_log_errors: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    observability: observability_cost.CostResult | None = None


def production_env(data_dir: Path) -> dict[str, str]:
    """The environment of every server: production settings, a random key, a fresh data directory."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MARKETPLACE_")}
    env.update(
        MARKETPLACE_ENV="production",
        MARKETPLACE_SECRET_KEY=secrets.token_hex(32),
        MARKETPLACE_DATA_DIR=str(data_dir),
    )
    return env


def run_benchmark(options: Options, workdir: Path, console: Console) -> RunResult:
    result = RunResult()
    env = production_env(workdir / "data")
    settings = load_settings(
        env=env["MARKETPLACE_ENV"], secret_key=env["MARKETPLACE_SECRET_KEY"], data_dir=workdir / "data"
    )
    with console.status(f"seeding {options.listings:,} listings"):
        result.seeded = seed_database(settings.resolved_database_url, listings=options.listings)
    console.print(
        f"seeded {result.seeded.listings:,} listings ({result.seeded.visible_listings:,} publicly visible, "
        f"{result.seeded.images} images) and {len(result.seeded.vendor_usernames)} vendors in {workdir}"
    )
    scripts = {
        endpoint.key: write_script(workdir, endpoint.key, endpoint.request_lua) for endpoint in options.endpoints
    }
    if not options.only_observability:
        for kind in options.servers:
            _bench_server(
                kind, options=options, workdir=workdir, env=env, scripts=scripts, result=result, console=console
            )
    if options.observability_rounds > 0 and options.servers:
        kind = options.servers[0]
        connections = options.connections[0]
        console.print(f"[bold]{kind}[/bold]: the browse page with metrics and logging on and off, ×{connections}")
        result.observability = observability_cost.measure_cost(
            kind,
            workdir=workdir,
            env=env,
            workers=options.workers,
            connections=connections,
            seconds=options.duration_s,
            warmup_s=options.warmup_s,
            rounds=options.observability_rounds,
            console=console,
        )
    return result


def _bench_server(
    kind: ServerKind,
    *,
    options: Options,
    workdir: Path,
    env: dict[str, str],
    scripts: dict[str, Path],
    result: RunResult,
    console: Console,
) -> None:
    app_port, bare_port = free_port(), free_port()
    app = ServerProcess(
        f"marketplace serve --server {kind}",
        app_command(kind, app_port, options.workers),
        port=app_port,
        env=env,
        log_path=workdir / f"{kind}-app.log",
        ready_path="/health",
    )
    bare = ServerProcess(
        f"bare app on {kind}",
        bare_command(kind, bare_port, options.workers),
        port=bare_port,
        env=env,
        log_path=workdir / f"{kind}-bare.log",
        ready_path="/bare",
    )
    with app, bare:
        console.print(f"[bold]{kind}[/bold]: marketplace on {app.base_url}, bare app on {bare.base_url}")
        for endpoint in options.endpoints:
            server = bare if endpoint.on_bare_server else app
            script = scripts[endpoint.key]
            problem = _probe(server.base_url + endpoint.path, endpoint, result)
            if not problem and options.warmup_s > 0:
                try:  # fills caches and pools, compiles templates; not recorded
                    run_wrk(
                        server.base_url + endpoint.path,
                        connections=WARMUP_CONNECTIONS,
                        seconds=options.warmup_s,
                        script=script,
                    )
                except WrkError as exc:
                    problem = f"warm-up failed: {exc}"
            for connections in options.connections:
                measurement = Measurement(kind.value, endpoint, connections, problem=problem)
                result.measurements.append(measurement)
                if problem:
                    console.print(f"  [bold red]skipped[/bold red] {endpoint.path} ×{connections}: {problem}")
                    continue
                _measure(measurement, server, options, script, console)
        if result.seeded is not None and options.freshness_rounds > 0:
            with console.status("checking that writes are visible to the next read"):
                result.freshness[kind.value] = check_write_then_read(
                    app.base_url, result.seeded, rounds=options.freshness_rounds
                )
        app.check_alive()
        bare.check_alive()
    result.server_log_errors[app.name] = app.count_log_errors()
    result.server_log_errors[bare.name] = bare.count_log_errors()


def _measure(measurement: Measurement, server: ServerProcess, options: Options, script: Path, console: Console) -> None:
    label = f"{measurement.server} {measurement.endpoint.label} ×{measurement.connections}"
    try:
        with console.status(f"{label}: {options.duration_s} s of load"):
            measurement.result = run_wrk(
                server.base_url + measurement.endpoint.path,
                connections=measurement.connections,
                seconds=options.duration_s,
                script=script,
            )
        server.check_alive()
    except (WrkError, ServerFailed) as exc:
        measurement.problem = str(exc).splitlines()[0]
        console.print(f"  [bold red]failed[/bold red] {label}: {exc}")
        return
    r = measurement.result
    errors = f" [bold red]{r.errors} errors[/bold red]" if r.errors else ""
    console.print(
        f"  {label}: {r.requests_per_second:,.0f} req/s, p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms, "
        f"p99 {r.p99_ms:.1f} ms{errors}",
        highlight=False,
    )


def _probe(url: str, endpoint: Endpoint, result: RunResult) -> str:
    """One request first: the endpoint must answer 200 (a 404 is no throughput figure)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (our own http URL)
            body = response.read()
    except urllib.error.HTTPError as error:
        return f"answers {error.code}"
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return f"no answer: {exc}"
    if endpoint.key == LISTINGS:
        try:
            total = json.loads(body).get("total")
        except (ValueError, AttributeError):
            return "answers 200 but not with a JSON object"
        note = f"{endpoint.path} reports total={total} ({len(body):,} bytes per response)"
        if note not in result.notes:
            result.notes.append(note)
    elif endpoint.key == "browse":
        note = f"{endpoint.path} is {len(body):,} bytes of HTML"
        if note not in result.notes:
            result.notes.append(note)
    return ""
