"""``marketplace dev``: the whole local stack on regtest, paying from its demo wallet, demo data,
generated reference docs (development only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from marketplace.cli.context import console, database, err_console, settings_or_exit
from marketplace.cli.exit_codes import ExitCode
from marketplace.cli.output import JsonOutput, report
from marketplace.db import migrate
from marketplace.errors import Conflict, Forbidden
from marketplace.settings import Settings

# Its help is the callback's docstring (`marketplace dev` runs the stack; the subcommands follow).
app = typer.Typer()

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The stack's data directory (default: MARKETPLACE_DATA_DIR, or ./data)."),
]


def _development_settings(data_dir: Path | None) -> Settings:
    settings = settings_or_exit()
    if not settings.is_development:
        raise Forbidden("the development stack is for development only; set MARKETPLACE_ENV=development")
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


@app.callback(invoke_without_command=True)
def stack(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address the site listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port the site listens on.")] = 8080,
    data_dir: DataDirOption = None,
    block_seconds: Annotated[
        float, typer.Option("--block-seconds", min=0.5, max=3600, help="Mine a block this often (seconds).")
    ] = 5.0,
) -> None:
    """Run the whole marketplace on a local Monero regtest chain, in the foreground, until Ctrl-C.

    Development only (MARKETPLACE_ENV=development). Starts regtest monerod (offline, loopback; the
    chain is kept in <data-dir>/regtest, so a second start continues it), one monero-wallet-rpc per
    signer role (buyer, vendor, arbiter), the demo buyer's wallet holding regtest coins (mined to it
    on the first start), migrates the database and seeds the demo data, then runs `marketplace
    serve` and `marketplace worker` with the escrow settings, and mines a block every
    --block-seconds. Prints the URL and the demo sign-ins (buyer, vendor, arbiter, admin). Ctrl-C
    (or SIGTERM) stops every process: web and worker, the wallets (they save), monerod. A process
    that stops on its own stops the whole stack (exit 2, saying which). Logs: <data-dir>/logs and
    <data-dir>/regtest. To start afresh, stop it and delete the data directory.
    """
    if ctx.invoked_subcommand is not None:
        return
    from marketplace.devstack.stack import StackError, StackInfo, run_stack
    from marketplace.monero.regtest import RegtestMissingError

    settings = _development_settings(data_dir)

    def on_ready(info: StackInfo) -> None:
        table = Table(title="Demo accounts (development only)")
        table.add_column("username")
        table.add_column("role")
        table.add_column("password", overflow="fold", min_width=20)
        for username, role, password in info.credentials:
            table.add_row(username, role, password)
        console.print(table)
        console.print(
            f"The marketplace runs at [bold]{info.url}[/bold] (regtest height {info.height}; started in "
            f"{info.startup_seconds:.1f} s{', first start' if info.first_start else ''}).\n"
            + (f"The worker's metrics: {info.worker_metrics_url}\n" if info.worker_metrics_url else "")
            + f'A block is mined every {block_seconds:g} s. Pay an order with the "Pay from demo wallet" button or '
            f"`marketplace dev pay ORDER_ID`.\nData and logs: {escape(str(info.data_dir))}. "
            "Ctrl-C stops everything; delete the data directory to start afresh.",
            highlight=False,
            soft_wrap=True,
        )

    try:
        end = run_stack(
            settings,
            host=host,
            port=port,
            block_seconds=block_seconds,
            on_ready=on_ready,
            say=lambda text: err_console.print(escape(text), highlight=False, soft_wrap=True),
        )
    except (StackError, RegtestMissingError) as exc:
        raise Conflict(f"cannot start the development stack: {exc}") from None
    if end.leftovers:
        err_console.print(f"[yellow]had to kill: {escape(', '.join(end.leftovers))}[/yellow]", highlight=False)
    if end.failed:
        err_console.print(f"[red]the stack stopped:[/red] {escape(end.reason)}", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.CRITICAL)
    console.print(f"{escape(end.reason)}; every process of the stack is stopped", highlight=False)


@app.command("pay")
def pay(
    order_id: Annotated[str, typer.Argument(help="The order to pay (its 32-hex-digit id).")],
    data_dir: DataDirOption = None,
    json_output: JsonOutput = False,
) -> None:
    """Pay an order's outstanding amount from the demo wallet of the running `marketplace dev` stack.

    Development only. Sends exactly what the order still lacks to its escrow address; the stack's
    next blocks confirm it. Refused when there is no such order, when it is not awaiting payment
    (or its payment is already on its way), and when no stack runs on the data directory.
    JSON: {"order_id", "address", "amount_atomic", "amount_xmr", "txid"}.
    """
    from marketplace.devstack.pay import pay_from_demo_wallet
    from marketplace.devstack.stack import running_stack
    from marketplace.monero.amounts import format_xmr

    settings = _development_settings(data_dir)
    state = running_stack(settings.data_dir.resolve())
    if state is None:
        raise Conflict(
            f"no development stack runs on {settings.data_dir}: start it with `marketplace dev` (same --data-dir)"
        )
    with database(settings) as db, db.session() as session:
        paid = pay_from_demo_wallet(session, settings, order_id, str(state["demo_wallet_url"]))
    report(
        {
            "order_id": paid.order_id,
            "address": paid.address,
            "amount_atomic": paid.amount_atomic,
            "amount_xmr": format_xmr(paid.amount_atomic),
            "txid": paid.txid,
        },
        f"paid {format_xmr(paid.amount_atomic)} XMR to order {paid.order_id}'s escrow: txid {paid.txid}",
        json_output=json_output,
    )


@app.command("seed")
def seed() -> None:
    """Add demo accounts and ~36 listings with pictures, and print the demo credentials.

    Development only (MARKETPLACE_ENV=development). Safe to run again: it creates only what is
    missing and prints the same credentials, kept in <data_dir>/demo-credentials.txt.
    """
    from marketplace.demo.seed import CREDENTIALS_FILE, DemoSeedError, seed_demo_data

    settings = settings_or_exit()
    if not settings.is_development:
        raise Forbidden("demo data is for development only; set MARKETPLACE_ENV=development")
    with database(settings) as db:
        if migrate.current_revision(db.engine) != migrate.head_revision():
            raise Conflict("the database schema is not current: run `marketplace db upgrade` first")
        try:
            with console.status("adding demo listings…"):
                report = seed_demo_data(db, settings)
        except DemoSeedError as exc:
            raise Conflict(f"cannot seed: {exc}") from None
    table = Table(title="Demo accounts (development only)")
    table.add_column("username")
    table.add_column("role")
    table.add_column("password", overflow="fold", min_width=20)
    for username, role, password in report.credentials:
        table.add_row(username, role, password)
    console.print(table)
    console.print(
        f"created {report.accounts_created} accounts, {report.listings_created} listings and "
        f"{report.images_created} images; credentials kept in {settings.data_dir / CREDENTIALS_FILE}",
        highlight=False,
        soft_wrap=True,
    )
    if report.passwords_reset:
        console.print(f"{report.passwords_reset} demo password(s) were reset to match the credentials file")


@app.command("docs")
def docs(
    docs_dir: Annotated[Path, typer.Option("--docs-dir", help="Where the generated references go.")] = Path("docs"),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if a file is out of date.")] = False,
) -> None:
    """Write docs/configuration.md, docs/cli.md and docs/api.md from the code."""
    from marketplace.docs_reference import generated_documents

    stale = []
    for name, text in generated_documents().items():
        path = docs_dir / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if check and stale:
        for path in stale:
            err_console.print(
                f"[yellow]{path} is out of date:[/yellow] run `marketplace dev docs`", highlight=False, soft_wrap=True
            )
        raise typer.Exit(ExitCode.WARNING)
    for path in stale:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    if not stale:
        console.print("the generated docs are up to date")
