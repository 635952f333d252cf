"""``marketplace dev``: the whole marketplace on a local Monero regtest chain, in the foreground.

What runs (every process on loopback, offline; everything kept under ``<data_dir>``):

- monerod ``--regtest --offline --keep-fakechain`` and one monero-wallet-rpc per signer role
  (buyer, vendor, arbiter), started by ``monero.regtest.start_persistent`` in
  ``<data_dir>/regtest`` (chain, signer wallets, logs); each role's digest login is drawn anew at
  every start, given to its wallet-rpc in a ``--config-file`` and to web and worker in
  ``<data_dir>/regtest/config/<role>.login`` (``MARKETPLACE_SIGNER_<ROLE>_LOGIN_FILE``), both mode 600;
- the demo buyer's wallet-rpc (``payer``: wallet ``demo-buyer``, loopback, no login: regtest coins
  only) holding the coins of the first 160 blocks, mined to it on the first start, and
  of every block mined since;
- the database migrated and the demo data seeded (``demo.seed``: buyer, vendor, arbiter, admin);
- ``marketplace serve`` and ``marketplace worker`` as child processes, the escrow settings in
  their environment (``MARKETPLACE_DEV_WALLET_URL`` included), logs in ``<data_dir>/logs``;
- a block mined every ``block_seconds`` (to the demo wallet) so confirmations move.

A lock file (``<data_dir>/regtest/stack.lock``) keeps a second stack off the same data directory;
``<data_dir>/regtest/stack.json`` tells ``marketplace dev pay`` where the demo wallet answers.
SIGINT or SIGTERM stops web and worker, then the wallets (SIGTERM: they save), then monerod; a
child that exits on its own stops the whole stack, and ``run_stack`` says which one and why.
Every child runs in its own process group: a Ctrl-C in the terminal reaches only this process,
which stops them in that order.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx2

from marketplace.db import migrate
from marketplace.db.engine import Database
from marketplace.demo.seed import DemoSeedError, SeedReport, seed_demo_data
from marketplace.escrow.key_backup import DEVELOPMENT_GPG_HOME, stop_gpg_agent
from marketplace.monero.regtest import ROLES, RegtestCluster, check_binaries, start_persistent
from marketplace.monero.rpc_errors import RpcError
from marketplace.settings import ENV_PREFIX, MoneroNetwork, Settings

REGTEST_DIR = "regtest"
LOGS_DIR = "logs"
STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"
DEFAULT_BLOCK_SECONDS = 5.0
WEB_START_TIMEOUT = 90.0
CHILD_STOP_TIMEOUT = 40.0  # serve gives requests in flight 30 s (cli/serve.py)
_POLL_SECONDS = 0.25
# Settings the stack decides for its children, whatever the calling shell says.
_STACK_VARIABLES = ("ENV", "DATA_DIR", "NETWORK", "MONEROD_URL", "DEV_WALLET_URL")
_CHILD_DEFAULTS = {"PAYMENT_POLL_SECONDS": "2"}  # look at escrows every 2 s (blocks come every few seconds)


class StackError(Exception):
    """The stack cannot start (the message says why and what to do)."""


class StackInterrupted(BaseException):
    """SIGINT or SIGTERM arrived: stop everything (raised once, by the first signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class StackInfo:
    """What the stack prints once it answers."""

    url: str
    data_dir: Path
    credentials: list[tuple[str, str, str]]  # username, role, password
    height: int
    demo_wallet_url: str
    startup_seconds: float
    first_start: bool
    worker_metrics_url: str | None = None  # the worker's Prometheus endpoint (None: switched off)


@dataclass(frozen=True)
class StackEnd:
    """How the stack ended: ``failed`` when a child stopped on its own (``reason`` says which)."""

    reason: str
    failed: bool
    leftovers: list[str] = field(default_factory=list)  # processes that needed SIGKILL


def regtest_dir(data_dir: Path) -> Path:
    return data_dir / REGTEST_DIR


def running_stack(data_dir: Path) -> dict[str, Any] | None:
    """The state of the stack running on ``data_dir`` (``url``, ``demo_wallet_url``, ``pid`` ...),
    or None when none runs there (nobody holds its lock)."""
    directory = regtest_dir(data_dir)
    lock_path, state_path = directory / LOCK_FILE, directory / STATE_FILE
    if not lock_path.exists() or not state_path.exists():
        return None
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: a stack runs
        else:
            fcntl.flock(lock, fcntl.LOCK_UN)
            return None
    try:
        state: dict[str, Any] = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # still starting
    return state


@contextmanager
def _stack_lock(directory: Path) -> Iterator[IO[str]]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK_FILE).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            msg = f"a development stack already runs on {directory.parent} (stop it first, or use another --data-dir)"
            raise StackError(msg) from None
        try:
            yield lock
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def check_port(host: str, port: int) -> None:
    """Raise ``StackError`` when ``host:port`` cannot be listened on (taken, or not an address here)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        msg = f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port (or --host)"
        raise StackError(msg) from None


def _write_secret(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text + "\n")


def child_environment(data_dir: Path, cluster: RegtestCluster, base: dict[str, str]) -> dict[str, str]:
    """The environment of web and worker: ``base`` (the caller's) with the stack's settings on top.
    The signer logins go in files of mode 600 (``*_LOGIN_FILE``), never in the environment itself."""
    config_dir = cluster.directory / "config"
    env = {
        name: value
        for name, value in base.items()
        if not name.startswith(f"{ENV_PREFIX}SIGNER_") and name.removeprefix(ENV_PREFIX) not in _STACK_VARIABLES
    }
    for name, value in _CHILD_DEFAULTS.items():
        env.setdefault(ENV_PREFIX + name, value)
    env.update(
        {
            f"{ENV_PREFIX}ENV": "development",
            f"{ENV_PREFIX}DATA_DIR": str(data_dir),
            f"{ENV_PREFIX}NETWORK": MoneroNetwork.REGTEST.value,
            f"{ENV_PREFIX}MONEROD_URL": cluster.daemon_url,
            f"{ENV_PREFIX}DEV_WALLET_URL": cluster.payer.url,
        }
    )
    for role in ROLES:
        user, password = cluster.signer_login[role]
        login_file = config_dir / f"{role}.login"
        _write_secret(login_file, f"{user}:{password}")
        env[f"{ENV_PREFIX}SIGNER_{role.upper()}_URLS"] = ",".join(cluster.signer_urls[role])
        env[f"{ENV_PREFIX}SIGNER_{role.upper()}_LOGIN_FILE"] = str(login_file)
        env[f"{ENV_PREFIX}SIGNER_{role.upper()}_WALLET_DIR"] = str(cluster.wallet_dir[role])
    return env


@dataclass
class _Child:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _start_child(name: str, arguments: list[str], env: dict[str, str], logs: Path) -> _Child:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(  # noqa: S603 - our own interpreter and command, fixed arguments
            [sys.executable, "-m", "marketplace.cli.main", *arguments],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            process_group=0,
        )
    return _Child(name, popen, log)


def _stop_children(children: list[_Child]) -> list[str]:
    for child in children:
        if child.popen.poll() is None:
            child.popen.send_signal(signal.SIGTERM)
    forced = []
    for child in children:
        try:
            child.popen.wait(CHILD_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            forced.append(child.name)
            child.popen.kill()
            child.popen.wait(CHILD_STOP_TIMEOUT)
    return forced


def _wait_for_web(url: str, children: list[_Child]) -> None:
    deadline = time.monotonic() + WEB_START_TIMEOUT
    with httpx2.Client(trust_env=False, timeout=5) as client:
        while True:
            _check_children(children)
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                msg = f"the web server did not answer within {WEB_START_TIMEOUT:.0f} s"
                raise _ChildDied(msg)
            time.sleep(_POLL_SECONDS)


class _ChildDied(Exception):
    pass


def _check_children(children: list[_Child], cluster: RegtestCluster | None = None) -> None:
    for child in children:
        code = child.popen.poll()
        if code is not None:
            msg = (
                f"{child.name} exited unexpectedly (exit status {code}); its log {child.log} ends with:\n{child.tail()}"
            )
            raise _ChildDied(msg)
    if cluster is not None:
        for name, process in cluster.processes().items():
            if not process.alive():
                msg = f"{name} exited unexpectedly; its log ends with:\n{process.output_tail()[-1500:]}"
                raise _ChildDied(msg)


def _interrupt(signum: int, _frame: object) -> None:
    # Only the first signal raises: a second Ctrl-C must not break off the orderly stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise StackInterrupted(signum)


def run_stack(
    settings: Settings,
    *,
    host: str,
    port: int,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
    on_ready: Callable[[StackInfo], None],
    say: Callable[[str], None],
) -> StackEnd:
    """Start the stack on ``settings.data_dir`` (development settings), call ``on_ready`` once the
    site answers, mine a block every ``block_seconds`` until SIGINT/SIGTERM or a child dies, then
    stop everything. Raises ``StackError`` when it cannot start (nothing is left running)."""
    if not settings.is_development:
        msg = "the development stack is for development only; set MARKETPLACE_ENV=development"
        raise StackError(msg)
    check_binaries()  # RegtestMissingError: a clear message
    data_dir = settings.data_dir.resolve()
    settings = settings.model_copy(update={"data_dir": data_dir, "network": MoneroNetwork.REGTEST})
    directory = regtest_dir(data_dir)
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    with _stack_lock(directory):
        check_port(host, port)
        first_start = not (directory / "monerod").exists()
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            return _run_locked(
                settings,
                directory,
                host=host,
                port=port,
                block_seconds=block_seconds,
                first_start=first_start,
                on_ready=on_ready,
                say=say,
            )
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _run_locked(
    settings: Settings,
    directory: Path,
    *,
    host: str,
    port: int,
    block_seconds: float,
    first_start: bool,
    on_ready: Callable[[StackInfo], None],
    say: Callable[[str], None],
) -> StackEnd:
    started = time.monotonic()
    data_dir = settings.data_dir
    logs = data_dir / LOGS_DIR
    logs.mkdir(parents=True, exist_ok=True)
    state_path = directory / STATE_FILE
    state_path.unlink(missing_ok=True)
    children: list[_Child] = []
    starter = _ChainStarter(directory)
    end: StackEnd | None = None
    try:
        say(
            "starting monerod and the wallets"
            + (" (first start: mining the first blocks)" if first_start else "")
            + f"; migrating and seeding {data_dir}"
        )
        starter.start()
        report = _prepare_database(settings)
        cluster = starter.result()
        env = child_environment(data_dir, cluster, dict(os.environ))
        metrics_url = _worker_metrics(settings, env)
        children.append(_start_child("web", ["serve", "--host", host, "--port", str(port)], env, logs))
        children.append(_start_child("worker", ["worker"], env, logs))
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        _wait_for_web(url, children)
        height = cluster.daemon.get_height()
        _write_state(state_path, url, cluster, metrics_url)
        on_ready(
            StackInfo(
                url=url,
                data_dir=data_dir,
                credentials=report.credentials,
                height=height,
                demo_wallet_url=cluster.payer.url,
                startup_seconds=time.monotonic() - started,
                first_start=first_start,
                worker_metrics_url=metrics_url,
            )
        )
        _mine_until_stopped(cluster, children, block_seconds)
    except StackInterrupted as exc:
        end = StackEnd(f"{exc} received: stopped", failed=False)
    except _ChildDied as exc:
        end = StackEnd(str(exc), failed=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping: web and worker, then the wallets (they save), then monerod")
        state_path.unlink(missing_ok=True)
        forced = _stop_children(children)
        if starter.ident is not None:
            starter.join()  # a signal during start-up: let the chain finish starting, then stop it
        if starter.cluster is not None:
            starter.cluster.stop()
            forced += starter.cluster.forced_kills
        if (data_dir / DEVELOPMENT_GPG_HOME).is_dir():
            stop_gpg_agent(data_dir / DEVELOPMENT_GPG_HOME)  # whatever the worker's gpg left running
    assert end is not None  # noqa: S101 - every other exit raised
    return StackEnd(end.reason, end.failed, forced)


class _ChainStarter(threading.Thread):
    """Starts the regtest cluster while the main thread migrates and seeds."""

    def __init__(self, directory: Path) -> None:
        super().__init__(name="regtest-start", daemon=True)
        self.directory = directory
        self.cluster: RegtestCluster | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.cluster = start_persistent(self.directory)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread by result()
            self.error = exc

    def result(self) -> RegtestCluster:
        self.join()
        if isinstance(self.error, RuntimeError):  # RegtestMissingError among them: a clear message
            msg = f"the regtest chain did not start: {self.error}"
            raise StackError(msg) from self.error
        if self.error is not None:
            raise self.error
        assert self.cluster is not None  # noqa: S101 - run() sets one or the other
        return self.cluster


def _worker_metrics(settings: Settings, env: dict[str, str]) -> str | None:
    """Give the worker a metrics port: the one the settings name if set explicitly (0: none), else
    a free one (several stacks, or a stack and the tests, may run on one machine). Its URL."""
    host = settings.worker_metrics_host
    if "worker_metrics_port" in settings.model_fields_set:
        port = settings.worker_metrics_port
        if port == 0:
            return None
        check_port(host, port)
    else:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
    env[f"{ENV_PREFIX}WORKER_METRICS_HOST"] = host
    env[f"{ENV_PREFIX}WORKER_METRICS_PORT"] = str(port)
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/metrics"


def _write_state(path: Path, url: str, cluster: RegtestCluster, metrics_url: str | None = None) -> None:
    state = {
        "pid": os.getpid(),
        "url": url,
        "demo_wallet_url": cluster.payer.url,
        "monerod_url": cluster.daemon_url,
        "worker_metrics_url": metrics_url,
    }
    path.write_text(json.dumps(state), encoding="utf-8")


def _prepare_database(settings: Settings) -> SeedReport:
    database = Database.from_settings(settings)
    try:
        migrate.upgrade(database.engine)
        return seed_demo_data(database, settings)
    except DemoSeedError as exc:
        msg = f"cannot seed the demo data: {exc}"
        raise StackError(msg) from None
    finally:
        database.dispose()


def _mine_until_stopped(cluster: RegtestCluster, children: list[_Child], block_seconds: float) -> None:
    next_block = time.monotonic() + block_seconds
    while True:
        _check_children(children, cluster)
        if time.monotonic() >= next_block:
            next_block += block_seconds
            try:
                cluster.mine(1)
            except RpcError:
                continue  # monerod stopping answers nothing: the check above says so next
        time.sleep(_POLL_SECONDS)
