"""Real monitoring parts for the tests: Prometheus, Alertmanager and node-exporter on loopback.

    with ExitStack() as stack:
        hook = stack.enter_context(WebhookReceiver())          # records every POST, per path
        node = stack.enter_context(start_node_exporter(tmp_path))
        config = prometheus_config(DEPLOY / "prometheus/prometheus.yml", targets={...}, ...)
        prometheus = stack.enter_context(start_prometheus(tmp_path, config))
        api = PrometheusApi(prometheus.base_url)
        api.wait_for(lambda: api.query("up") or None, what="a first scrape")

- ``binary(name)``: the path of a Debian binary; a missing one FAILS the test (never a skip) and
  says which package to install (``make test`` installs them).
- ``run_service(...)``: any long-running process (ours too: ``marketplace serve``, ``marketplace
  worker``) started with its output in a log file, ready when an HTTP path answers 200 (bounded
  wait; a process that exits first fails the test with its log), stopped at the end of the block
  with SIGTERM, then SIGKILL if it lingers.
- ``start_prometheus`` / ``start_alertmanager`` / ``start_node_exporter``: Debian's binaries on
  127.0.0.1 with free ports and data directories under the test's ``tmp_path``; Alertmanager with
  clustering off (no gossip port).
- ``WebhookReceiver``: a threaded HTTP server on loopback that records each POST body (parsed JSON
  when it is JSON) under its path; ``wait_for(path, predicate)`` waits for a matching one.
- ``PrometheusApi``: ``query(expr)`` through ``/api/v1/query`` (the result vector or matrix),
  ``targets()``, ``alerts()``, ``rule_groups()``; ``wait_for(probe)``: poll until ``probe()`` gives
  something, bounded.
- ``prometheus_config(...)``: the repository's ``prometheus.yml`` with its targets rewritten to
  the test's ports (every configured job must be given one), intervals shortened, the rule files
  and Alertmanager given; ``alertmanager_config(...)``: the repository's ``alertmanager.yml``
  with every ``*_file`` secret pointed at a file the test writes, and shorter grouping waits.

Only loopback addresses are used; environment proxies are ignored. Waiting is bounded, never
asserted on: a wait that runs out fails the test with what was last seen.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
import pytest
import yaml

from marketplace.settings import ENV_PREFIX, Settings

T = TypeVar("T")

PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "prometheus-node-exporter": "prometheus-node-exporter",
}
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
WAIT_TIMEOUT_S = 60.0
POLL_S = 0.25
LOG_TAIL_CHARS = 6000


def binary(name: str) -> str:
    """The path of ``name`` on PATH; fails the test (never skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        package = PACKAGES.get(name, name)
        pytest.fail(f"{name} not found on PATH: apt-get install {package} (`make test` installs it)")
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the process given it binds it moments later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_client(timeout_s: float = 10.0) -> httpx.Client:
    """A client for loopback services: no environment proxy, no redirects followed."""
    return httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False)


def wait_for(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout_s: float = WAIT_TIMEOUT_S,
    describe: Callable[[], object] | None = None,
) -> T:
    """Call ``probe`` until it returns something other than None (or False); fail after ``timeout_s``
    with what ``describe()`` tells of the state then (default: the probe's last answer)."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as error:  # not up yet: keep waiting
            last = error
        if last is not None and last is not False and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            seen = describe() if describe is not None else last
            pytest.fail(f"{what}: not there within {timeout_s} s (last seen: {seen!r})")
        time.sleep(POLL_S)


# --- processes ------------------------------------------------------------------------------------


@dataclass
class Service:
    """A process the test started; ``base_url`` is where it answers HTTP."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    base_url: str

    def text(self) -> str:
        """The tail of its log (for failure messages)."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM, wait; SIGKILL if it lingers. Idempotent."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(STOP_TIMEOUT_S)


@contextmanager
def run_service(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log_dir: Path,
    ready_path: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
) -> Iterator[Service]:
    """Run ``argv`` until the end of the block; ready when ``GET http://127.0.0.1:<port><ready_path>`` is 200."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    service = Service(name=name, popen=popen, log=log, base_url=f"http://127.0.0.1:{port}")
    try:
        with http_client(timeout_s=5.0) as client:

            def ready() -> bool:
                if not service.alive():
                    pytest.fail(f"{name} exited ({popen.returncode}) before it was ready:\n{service.text()}")
                return client.get(service.base_url + ready_path).status_code == 200

            deadline = time.monotonic() + start_timeout_s
            while True:
                try:
                    if ready():
                        break
                except (httpx.HTTPError, OSError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{name} was not ready within {start_timeout_s} s:\n{service.text()}")
                time.sleep(POLL_S)
        yield service
    finally:
        service.stop()


@contextmanager
def start_node_exporter(directory: Path) -> Iterator[Service]:
    """Debian's prometheus-node-exporter on a free loopback port."""
    port = free_port()
    argv = [binary("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{port}"]
    with run_service("node-exporter", argv, port=port, log_dir=directory, ready_path="/metrics") as service:
        yield service


@contextmanager
def start_prometheus(directory: Path, config: Mapping[str, Any], *, port: int | None = None) -> Iterator[Service]:
    """Debian's prometheus with ``config`` (written to ``directory/prometheus.yml``), a fresh TSDB, on
    ``port`` (free_port() chosen by the caller when the config must name it: Prometheus scraping itself)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    check = subprocess.run(
        [binary("promtool"), "check", "config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert check.returncode == 0, f"promtool check config:\n{check.stdout}\n{check.stderr}"
    port = port or free_port()
    argv = [
        binary("prometheus"),
        f"--config.file={path}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        # Resend firing alerts every second (default 1 min): an alert that fires at the first
        # evaluation, before Alertmanager is discovered, would otherwise wait a minute to be sent.
        "--rules.alert.resend-delay=1s",
        "--log.level=info",
    ]
    with run_service("prometheus", argv, port=port, log_dir=directory, ready_path="/-/ready") as service:
        yield service


@contextmanager
def start_alertmanager(directory: Path, config: Mapping[str, Any]) -> Iterator[Service]:
    """Debian's prometheus-alertmanager with ``config`` (checked by amtool first), clustering off."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    check = subprocess.run(
        [binary("amtool"), "check-config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert check.returncode == 0, f"amtool check-config:\n{check.stdout}\n{check.stderr}"
    port = free_port()
    argv = [
        binary("prometheus-alertmanager"),
        f"--config.file={path}",
        f"--storage.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip port: one Alertmanager, loopback only
        "--log.level=info",
    ]
    with run_service("alertmanager", argv, port=port, log_dir=directory, ready_path="/-/ready") as service:
        yield service


# --- the webhook receiver -------------------------------------------------------------------------


@dataclass
class Delivery:
    """One POST the receiver got: its path, headers and body (parsed when it is JSON)."""

    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.time)  # time.time() when it arrived


@dataclass
class WebhookReceiver:
    """A loopback HTTP server recording every POST per path (answers 200 to all of them)."""

    deliveries: list[Delivery] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                receiver._record(Delivery(self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                return  # quiet: the test reports what it received

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use the receiver as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _record(self, delivery: Delivery) -> None:
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()

    def received(self, path: str | None = None) -> list[Delivery]:
        with self._changed:
            return [d for d in self.deliveries if path is None or d.path == path]

    def wait_for(
        self, predicate: Callable[[Delivery], bool], *, what: str, timeout_s: float = WAIT_TIMEOUT_S
    ) -> Delivery:
        """The first delivery matching ``predicate``; fails after ``timeout_s`` listing what came."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for delivery in self.deliveries:
                    if predicate(delivery):
                        return delivery
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(d.path, _summary(d.body)) for d in self.deliveries]
                    pytest.fail(f"{what}: nothing matching within {timeout_s} s; received: {seen}")
                self._changed.wait(left)


def _summary(body: Any) -> Any:
    if isinstance(body, dict) and "alerts" in body:
        return [(alert.get("status"), alert.get("labels")) for alert in body["alerts"]]
    return body if isinstance(body, bytes | str) and len(body) < 300 else type(body).__name__


def alert_names(delivery: Delivery) -> set[str]:
    """The ``alertname`` of each alert in an Alertmanager webhook payload."""
    body = delivery.body
    if not isinstance(body, dict):
        return set()
    return {str(alert.get("labels", {}).get("alertname")) for alert in body.get("alerts", [])}


# --- a mail server that keeps what it is sent ---------------------------------------------------


@dataclass
class Mail:
    """One message the sink accepted: the SMTP envelope, the login used (AUTH PLAIN) and the message."""

    mail_from: str
    recipients: list[str]
    login: tuple[str, str] | None
    data: str


@dataclass
class SmtpSink:
    """A plain SMTP server on loopback (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that keeps
    every message; enough for Alertmanager's email notifier, nothing more (no TLS: the test's copy
    of the configuration says ``smtp_require_tls: false``)."""

    mails: list[Mail] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _server: socketserver.ThreadingTCPServer | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> SmtpSink:
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode("ascii") + b"\r\n")
                self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 sink ESMTP")
                login: tuple[str, str] | None = None
                mail_from, recipients = "", []
                while raw := self.rfile.readline(65536):
                    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    verb, _, rest = line.partition(" ")
                    verb = verb.upper()
                    if verb in {"EHLO", "HELO"}:
                        self.wfile.write(b"250-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
                        self.wfile.flush()
                    elif verb == "AUTH":
                        mechanism, _, initial = rest.partition(" ")
                        if mechanism.upper() != "PLAIN":
                            self.reply("504 only PLAIN")
                            continue
                        if not initial:
                            self.reply("334 ")
                            initial = self.rfile.readline(65536).decode("ascii").strip()
                        parts = base64.b64decode(initial).decode("utf-8", errors="replace").split("\0")
                        login = (parts[1], parts[2]) if len(parts) == 3 else None  # authzid, user, password
                        self.reply("235 ok")
                    elif verb == "MAIL":
                        mail_from, recipients = rest.partition(":")[2].strip(" <>"), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        recipients.append(rest.partition(":")[2].strip(" <>"))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        lines: list[str] = []
                        while (body := self.rfile.readline(1 << 20)) not in {b".\r\n", b".\n", b""}:
                            lines.append(body.decode("utf-8", errors="replace"))
                        sink._record(Mail(mail_from, recipients, login, "".join(lines)))
                        self.reply("250 queued")
                    elif verb in {"RSET", "NOOP"}:
                        self.reply("250 ok")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not here")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="smtp-sink", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``: Alertmanager's ``smtp_smarthost``."""
        assert self._server is not None, "use the sink as a context manager"
        return f"127.0.0.1:{self._server.server_address[1]}"

    def _record(self, mail: Mail) -> None:
        with self._changed:
            self.mails.append(mail)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[Mail], bool], *, what: str, timeout_s: float = WAIT_TIMEOUT_S) -> Mail:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for mail in self.mails:
                    if predicate(mail):
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    subjects = [
                        line for mail in self.mails for line in mail.data.splitlines() if line.startswith("Subject:")
                    ]
                    pytest.fail(f"{what}: no such mail within {timeout_s} s; received: {subjects}")
                self._changed.wait(left)


# --- Prometheus's HTTP API ------------------------------------------------------------------------


class PrometheusApi:
    """Prometheus's HTTP API (``/api/v1``) at ``base_url``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._client = http_client()

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, **params: str) -> Any:
        response = self._client.get(f"{self.base_url}/api/v1/{path}", params=params)
        body = response.json()
        failure = f"GET /api/v1/{path} {params}: HTTP {response.status_code} {body}"
        assert response.status_code == 200, failure
        assert body.get("status") == "success", failure
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant query's result (a vector's samples; a scalar as one sample without labels)."""
        data = self._get("query", query=expr)
        if data["resultType"] in {"scalar", "string"}:
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def values(self, expr: str) -> dict[frozenset[tuple[str, str]], float]:
        """Each series of the query's result (its labels) → its value."""
        return {frozenset(sample["metric"].items()): float(sample["value"][1]) for sample in self.query(expr)}

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self._get("targets", state="active")["activeTargets"]
        return active

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self._get("alerts")["alerts"]
        return alerts

    def rule_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self._get("rules")["groups"]
        return groups

    def targets_up(self) -> dict[str, str]:
        """job → health of its (first) target: ``up``, ``down`` or ``unknown``."""
        return {target["labels"]["job"]: target["health"] for target in self.targets()}


# --- configuration from the repository's files --------------------------------------------------------


def prometheus_config(
    source: Path,
    *,
    targets: Mapping[str, Sequence[str]],
    alertmanagers: Sequence[str],
    rule_files: Sequence[Path],
    interval: str = "1s",
) -> dict[str, Any]:
    """``source`` (deploy/prometheus/prometheus.yml) with the test's targets.

    Every scrape job of the file must be in ``targets`` (job name → ``host:port`` list), so a job
    added to the file without a test target fails here; the scrape and evaluation intervals become
    ``interval``; ``rule_files`` replace the file's (absolute paths); Alertmanager is ``alertmanagers``.
    Everything else (metrics paths, relabelling, labels) is kept as written.
    """
    config: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    config.setdefault("global", {})
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    config["global"]["scrape_timeout"] = interval
    jobs = [job["job_name"] for job in config.get("scrape_configs", [])]
    missing = sorted(set(jobs) - set(targets))
    assert not missing, f"{source} scrapes {missing}: give the test a target for each"
    unknown = sorted(set(targets) - set(jobs))
    assert not unknown, f"{source} has no scrape job {unknown}"
    for job in config["scrape_configs"]:
        for key in ("scrape_interval", "scrape_timeout"):
            job.pop(key, None)
        for key in [key for key in job if key.endswith("_sd_configs")]:
            del job[key]
        labels: dict[str, str] = {}
        for static in job.get("static_configs", []):
            labels.update(static.get("labels", {}))
        job["static_configs"] = [{"targets": list(targets[job["job_name"]]), **({"labels": labels} if labels else {})}]
    config["rule_files"] = [str(path) for path in rule_files]
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    return config


def copy_rules(source_dir: Path, destination: Path, *, for_overrides: Mapping[str, str] | None = None) -> list[Path]:
    """Copy the rule files of ``source_dir`` (``*.yml``) to ``destination``; ``for_overrides`` (alert
    name → duration) shortens those alerts' ``for:`` in the copy only (the repository's rules keep
    theirs). An override naming no alert of the files fails."""
    destination.mkdir(parents=True, exist_ok=True)
    overrides = dict(for_overrides or {})
    copies: list[Path] = []
    seen: set[str] = set()
    for path in sorted(source_dir.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                if rule.get("alert") in overrides:
                    rule["for"] = overrides[rule["alert"]]
                    seen.add(rule["alert"])
        copy = destination / path.name
        copy.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        copies.append(copy)
    assert copies, f"no rule file in {source_dir}"
    assert seen == set(overrides), f"no such alert in {source_dir}: {sorted(set(overrides) - seen)}"
    return copies


def alertmanager_config(
    source: Path, *, secrets_dir: Path, secret_values: Callable[[str, str], str], group_wait: str = "1s"
) -> dict[str, Any]:
    """``source`` (deploy/alertmanager/alertmanager.yml) with each ``*_file`` setting pointed at a file
    in ``secrets_dir`` holding ``secret_values(receiver, key)`` (e.g. the webhook receiver's URL for a
    ``url_file``), and the route tree's ``group_wait``/``group_interval`` shortened to ``group_wait``
    (a copy: the repository's timings are kept there)."""
    config: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def rewrite(node: Any, receiver: str) -> None:
        if isinstance(node, dict):
            for key, value in list(node.items()):
                if key.endswith("_file") and isinstance(value, str):
                    path = secrets_dir / f"{receiver}.{key}"
                    path.write_text(secret_values(receiver, key), encoding="utf-8")
                    path.chmod(0o600)
                    node[key] = str(path)
                else:
                    rewrite(value, receiver)
        elif isinstance(node, list):
            for item in node:
                rewrite(item, receiver)

    rewrite(config.get("global", {}), "global")
    for receiver in config.get("receivers", []):
        rewrite(receiver, receiver["name"])

    def shorten(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route or route is config["route"]:
                route[key] = group_wait
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    return config


# --- the marketplace's own processes --------------------------------------------------------------


def marketplace_command() -> str:
    """The ``marketplace`` console script of this virtualenv."""
    path = Path(sys.executable).parent / "marketplace"
    assert path.exists(), f"{path} is missing: run `make .venv/bin/.dev`"
    return str(path)


def marketplace_environment(values: Mapping[str, Any], secrets_dir: Path) -> dict[str, str]:
    """The environment that gives ``marketplace serve`` / ``worker`` these settings
    (``load_settings(**values)`` names): ``MARKETPLACE_<NAME>``, secrets through ``*_FILE`` files
    written to ``secrets_dir`` (never in the environment itself), the test's own variables removed."""
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    for name, value in values.items():
        variable = f"{ENV_PREFIX}{name.upper()}"
        field_info = Settings.model_fields[name]
        extra = field_info.json_schema_extra
        if isinstance(extra, dict) and extra.get("file_variant"):
            path = secrets_dir / name
            path.write_text(str(value), encoding="utf-8")
            path.chmod(0o600)
            env[f"{variable}_FILE"] = str(path)
        else:
            env[variable] = str(value)
    return env


# --- the repository's Alertmanager, delivering to the test's receivers ---------------------------------

PAGER_TOKEN = "pager-token-from-a-file"
SMTP_PASSWORD = "smtp-password-from-a-file"


def local_alertmanager_config(
    source: Path, *, hook: WebhookReceiver, smtp: SmtpSink, secrets_dir: Path
) -> dict[str, Any]:
    """deploy/alertmanager/alertmanager.yml delivering on loopback: the ``pager`` webhook's URL becomes
    ``hook``'s ``/pager`` (its bearer token still read from its ``credentials_file``: ``PAGER_TOKEN``),
    mail goes to ``smtp`` (plain SMTP; the password read from ``smtp_auth_password_file``:
    ``SMTP_PASSWORD``), the ``chat`` URL read from its ``api_url_file`` is ``hook``'s ``/chat``.
    Routes, matchers and inhibitions are the file's; waits are 1 s (``alertmanager_config``)."""

    def secret(receiver: str, key: str) -> str:
        if key == "api_url_file":
            return hook.url(f"/{receiver}")
        if key == "smtp_auth_password_file":
            return SMTP_PASSWORD
        if key == "credentials_file":
            return PAGER_TOKEN
        pytest.fail(f"a secret file the test does not know: {receiver} {key}")

    config = alertmanager_config(source, secrets_dir=secrets_dir, secret_values=secret)
    config["global"]["smtp_smarthost"] = smtp.address
    config["global"]["smtp_require_tls"] = False
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    for webhook in receivers["pager"]["webhook_configs"]:
        webhook["url"] = hook.url("/pager")
    return config
