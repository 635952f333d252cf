"""Run wrk and read its result: throughput, p50/p95/p99 and every kind of error.

wrk's ``--latency`` prints 50/75/90/99 only, so a Lua ``done`` hook prints one parseable line
with the percentiles we need. The script file is written by this module to a temp directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

THREADS = 2
MARKER = "WRK_RESULT "

_DONE_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\\n',
    "MARKER", summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
""".replace("MARKER", MARKER)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    bytes: int
    socket_errors: int  # connect, read, write and timeouts
    non_2xx: int  # wrk counts responses with status >= 400
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx


class WrkError(RuntimeError):
    """wrk failed or printed nothing we can read."""


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed: `make bench` installs Debian's package, or run `apt-get install wrk`")
    return path


_VARIED_REQUESTS = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
function init(args)
  math.randomseed(os.time() + 7919 * thread_number)  -- each thread its own sequence
end
local function pick(list)
  return list[math.random(#list)]
end
function request()
  return wrk.format("GET", PATH_EXPRESSION)
end
"""


def lua_list(values: list[str]) -> str:
    """A Lua table of strings (JSON string literals of plain ASCII are valid Lua)."""
    return "{" + ", ".join(json.dumps(value) for value in values) + "}"


def varied_request(path_expression: str, **tables: list[str]) -> str:
    """Lua making each request's path from ``path_expression``, which may ``pick(<table name>)``."""
    declarations = "".join(f"local {name} = {lua_list(values)}\n" for name, values in tables.items())
    return declarations + _VARIED_REQUESTS.replace("PATH_EXPRESSION", path_expression)


def write_script(directory: Path, name: str, request_lua: str = "") -> Path:
    """The wrk script for one endpoint: the ``done`` report, plus ``request_lua`` if it varies its requests."""
    script = directory / f"{name}.lua"
    script.write_text(request_lua + _DONE_SCRIPT, encoding="utf-8")
    return script


def run_wrk(url: str, *, connections: int, seconds: int, script: Path, timeout_s: int = 5) -> WrkResult:
    """Load ``url`` for ``seconds`` with ``connections`` keep-alive connections over two threads."""
    command = [
        wrk_path(),
        f"-t{min(THREADS, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(script),
        url,
    ]
    # wrk stops by itself after -d; the extra margin only guards against a wedged wrk.
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if completed.returncode != 0:
        raise WrkError(
            f"wrk exited with {completed.returncode}: {completed.stderr.strip() or completed.stdout.strip()}"
        )
    for line in completed.stdout.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line.removeprefix(MARKER))
            return WrkResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                bytes=raw["bytes"],
                socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
                non_2xx=raw["status"],
                p50_ms=raw["p50_us"] / 1000,
                p95_ms=raw["p95_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
            )
    raise WrkError(f"wrk printed no result line:\n{completed.stdout}\n{completed.stderr}")
