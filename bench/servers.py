"""Start and stop the servers under test, each in its own process group, on free loopback ports.

Every server is started here and always stopped here (``ServerProcess`` is a context manager):
SIGTERM to the whole group, SIGKILL after a grace period, so no worker outlives the benchmark.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from marketplace.cli.serve import ServerKind

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0


class ServerFailed(RuntimeError):
    """A server did not start, or died."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _serve_arguments(kind: ServerKind, port: int, workers: int) -> list[str]:
    return ["--server", kind.value, "--host", HOST, "--port", str(port), "--workers", str(workers)]


def app_command(kind: ServerKind, port: int, workers: int) -> list[str]:
    """``marketplace serve`` exactly as an operator runs it."""
    return [sys.executable, "-m", "marketplace.cli.main", "serve", *_serve_arguments(kind, port, workers)]


def bare_command(kind: ServerKind, port: int, workers: int) -> list[str]:
    """The bare reference app, served with the same options."""
    return [sys.executable, "-m", "bench.bare_app", *_serve_arguments(kind, port, workers)]


class ServerProcess:
    """A server started with ``command``; ready once ``ready_path`` answers 200."""

    def __init__(
        self, name: str, command: list[str], *, port: int, env: dict[str, str], log_path: Path, ready_path: str
    ):
        self.name = name
        self.command = command
        self.port = port
        self.env = env
        self.log_path = log_path
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> ServerProcess:
        env = dict(self.env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise ServerFailed(f"{self.name} is not running\n{self.log_tail()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(self.base_url + self.ready_path, timeout=2) as response:  # noqa: S310  (our own http URL)
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise ServerFailed(
            f"{self.name} did not answer {self.ready_path} within {START_TIMEOUT_S:.0f} s\n{self.log_tail()}"
        )

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self.process = None
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; its workers share the group, make sure none lingers.
            if not _group_alive(process.pid):
                break
            deadline = time.monotonic() + wait
            while _group_alive(process.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _group_alive(process.pid):
                break

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's output (the log can be large: one line per request)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, self.log_path.stat().st_size - 16384))
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def count_log_errors(self) -> int:
        """Lines the server logged at ERROR level or worse, and tracebacks (a 500, a crashed worker)."""
        markers = (b'"level":"ERROR"', b'"level":"CRITICAL"', b"Traceback (most recent call last)")
        with self.log_path.open("rb") as log:
            return sum(1 for line in log if any(marker in line for marker in markers))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
