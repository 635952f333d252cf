"""A throwaway PostgreSQL server for the test session, from Debian's binaries.

PostgreSQL refuses to run as root (and CI runs as root), so when we are root the server runs as
the ``postgres`` user in a directory of its own (pytest's temporary directories are 0700 root).
Missing binaries are an error, never a skip: the PostgreSQL half of the suite must run in CI.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_BIN_CANDIDATES = [Path(f"/usr/lib/postgresql/{v}/bin") for v in (17, 16, 15)]


class PostgresMissingError(RuntimeError):
    pass


def _bin_dir() -> Path:
    for candidate in PG_BIN_CANDIDATES:
        if (candidate / "initdb").exists():
            return candidate
    msg = "PostgreSQL server binaries not found (apt-get install postgresql); `make test` installs them"
    raise PostgresMissingError(msg)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    directory: Path
    port: int
    bin_dir: Path
    run_as: dict[str, Any]

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            check=True,
            cwd=self.directory,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            capture_output=True,
            **self.run_as,
        )

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.directory / "data"), "-m", "fast", "-w")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres() -> PostgresServer:
    bin_dir = _bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="marketplace-pg-"))
    run_as: dict[str, Any] = {}
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(directory, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    server = PostgresServer(directory=directory, port=_free_port(), bin_dir=bin_dir, run_as=run_as)
    data = directory / "data"
    # The locale is pinned, not inherited: C.UTF-8 sorts by code point (as SQLite does) and its
    # character classes know every script (pg_trgm's trigrams of Cyrillic and CJK need that).
    server._run("initdb", "-D", str(data), "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", "postgres")
    options = f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={directory} -c fsync=off"
    try:
        server._run("pg_ctl", "start", "-D", str(data), "-w", "-l", str(directory / "server.log"), "-o", options)
    except subprocess.CalledProcessError as exc:
        log = (directory / "server.log").read_text(errors="replace") if (directory / "server.log").exists() else ""
        shutil.rmtree(directory, ignore_errors=True)
        msg = f"PostgreSQL did not start: {exc.stderr!r}\n{log}"
        raise RuntimeError(msg) from exc
    return server
