"""``marketplace dev`` for real: the whole stack on regtest as a subprocess, paid from its demo wallet,
stopped with Ctrl-C (SIGINT) leaving no process behind, started again on the kept chain, and
stopped whole when one of its children dies.

Two stack starts in all (each mines or reopens the chain and starts seven processes).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from marketplace.demo.seed import demo_payout_address
from marketplace.devstack.stack import REGTEST_DIR, STATE_FILE
from marketplace.observability import names
from marketplace.settings import MoneroNetwork

pytestmark = [pytest.mark.regtest, pytest.mark.timeout(900)]

START_TIMEOUT = 240.0
STOP_TIMEOUT = 120.0
_CREDENTIAL_ROW = re.compile(r"(demo-(?:buyer|vendor|arbiter|admin))\s*│\s*(buyer|vendor|arbiter|admin)\s*│\s*(\S+)")
_READY = re.compile(r"runs at (http://\S+) \(regtest height (\d+); started in ([0-9.]+) s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(data_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MARKETPLACE_")}
    env["MARKETPLACE_ENV"] = "development"
    env["COLUMNS"] = "120"  # the credentials table on one line per account
    return env


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``: pid → command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: dict[int, str] = {}
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            try:
                found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            stack.append(child)
    return found


def _environ(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "environ").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Stack:
    """One ``marketplace dev`` process and what it printed."""

    popen: subprocess.Popen[str]
    log: IO[bytes]
    output: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, data_dir: Path, port: int, log: Path) -> Stack:
        command = [sys.executable, "-m", "marketplace.cli.main", "dev", "--data-dir", str(data_dir)]
        command += ["--port", str(port), "--block-seconds", "1"]
        log_file = log.open("ab")
        popen = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            text=True,
            env=_environment(data_dir),
        )
        stack = cls(popen, log_file)
        threading.Thread(target=stack._read, daemon=True).start()
        return stack

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.output.append(line)
            if _READY.search(line):
                self.ready.set()

    @property
    def text(self) -> str:
        return "".join(self.output)

    def wait_ready(self, log: Path) -> re.Match[str]:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready.wait(0.5):
            assert self.popen.poll() is None, (
                f"marketplace dev exited ({self.popen.returncode}):\n{self.text}\n{log.read_text()[-3000:]}"
            )
            assert time.monotonic() < deadline, f"marketplace dev not ready:\n{self.text}"
        match = _READY.search(self.text)
        assert match is not None
        return match

    def interrupt(self) -> int:
        self.popen.send_signal(signal.SIGINT)
        return self.popen.wait(STOP_TIMEOUT)


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[list[Stack]]:
    started: list[Stack] = []
    yield started
    for stack in started:  # a failed test must not leave a chain running
        stack.log.close()
        if stack.popen.poll() is None:
            leftovers = _descendants(stack.popen.pid)
            stack.popen.send_signal(signal.SIGINT)
            try:
                stack.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                stack.popen.kill()
            for pid in leftovers:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        if stack.popen.stdout is not None:
            stack.popen.stdout.close()


def _credentials(text: str) -> dict[str, tuple[str, str]]:
    return {username: (role, password) for username, role, password in _CREDENTIAL_ROW.findall(text)}


def _wait_for_state(client: httpx2.Client, order_id: str, states: set[str], timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/api/v1/orders/{order_id}").json()
        if body["state"] in states:
            return body
        assert time.monotonic() < deadline, f"order still {body['state']} after {timeout} s"
        time.sleep(0.5)


def _dev_pay(data_dir: Path, order_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marketplace.cli.main", "dev", "pay", order_id, "--data-dir", str(data_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_environment(data_dir),
        check=False,
    )


def test_the_dev_stack_serves_pays_from_its_demo_wallet_stops_cleanly_and_keeps_its_chain(
    tmp_path: Path, stacks: list[Stack]
) -> None:
    data_dir, port, log = tmp_path / "data", _free_port(), tmp_path / "stack.log"

    first = Stack.start(data_dir, port, log)
    stacks.append(first)
    ready = first.wait_ready(log)
    url = ready.group(1)
    credentials = _credentials(first.text)
    assert url == f"http://127.0.0.1:{port}"
    assert {username: role for username, (role, _) in credentials.items()} == {
        "demo-buyer": "buyer",
        "demo-vendor": "vendor",
        "demo-arbiter": "arbiter",
        "demo-admin": "admin",
    }
    children = _descendants(first.popen.pid)
    commands = " ".join(children.values())
    assert commands.count("monero-wallet-rpc") == 4  # buyer, vendor, arbiter signers and the demo wallet
    assert "monerod" in commands
    assert "--keep-fakechain" in commands
    assert "marketplace.cli.main serve" in commands
    assert "marketplace.cli.main worker" in commands
    for role in ("buyer", "vendor", "arbiter"):  # each signer's login: in files of mode 600 only
        login_file = data_dir / REGTEST_DIR / "config" / f"{role}.login"
        assert stat.S_IMODE(login_file.stat().st_mode) == 0o600
        password = login_file.read_text().strip().partition(":")[2]
        assert len(password) >= 32
        for pid in children:
            assert password not in children[pid]
            assert password.encode() not in _environ(pid)

    with httpx2.Client(base_url=url, trust_env=False, timeout=30) as site:
        assert site.get("/").status_code == 200
        for username, (_role, password) in credentials.items():
            assert site.post("/api/v1/tokens", json={"username": username, "password": password}).status_code == 201
        token = site.post(
            "/api/v1/tokens", json={"username": "demo-buyer", "password": credentials["demo-buyer"][1]}
        ).json()["token"]
        site.headers["Authorization"] = f"Bearer {token}"
        listing = site.get("/api/v1/listings").json()["items"][0]
        placed = site.post(
            "/api/v1/orders",
            json={
                "listing_id": listing["id"],
                "quantity": 1,
                "refund_address": demo_payout_address(MoneroNetwork.REGTEST),
            },
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        order = _wait_for_state(site, order_id, {"awaiting_payment"})

        paid = _dev_pay(data_dir, order_id)

        assert paid.returncode == 0, paid.stderr
        payment = json.loads(paid.stdout)
        assert payment["amount_atomic"] == order["escrow"]["amount_due_atomic"]
        assert payment["address"] == order["escrow"]["address"]
        funded = _wait_for_state(site, order_id, {"funded"})  # a block a second: 10 confirmations
        assert funded["escrow"]["received_atomic"] == order["escrow"]["amount_due_atomic"]
        assert payment["txid"] in json.dumps(funded)
        again = _dev_pay(data_dir, order_id)
        assert again.returncode == 2
        assert "not awaiting payment" in again.stdout + again.stderr

    # The worker serves its metrics on the port the stack printed: the funded order, the money it
    # holds, the last probe of monerod, and the wallet-rpc calls that saw the payment.
    printed = re.search(r"The worker's metrics: (http://127\.0\.0\.1:\d+/metrics)", first.text)
    assert printed is not None, first.text
    metrics = {
        (item.name, tuple(sorted(item.labels.items()))): item.value
        for family in text_string_to_metric_families(httpx2.get(printed.group(1), trust_env=False).text)
        for item in family.samples
    }
    assert metrics[(names.ORDERS, (("state", "funded"),))] == 1
    assert metrics[(names.ESCROW_HELD, ())] == order["escrow"]["amount_due_atomic"]
    assert metrics[(names.DEPENDENCY_UP, (("dependency", "monerod"),))] == 1
    assert metrics[(names.MONEROD_HEIGHT, ())] > 0
    wallet_calls = [
        value
        for (name, labels), value in metrics.items()
        if name == names.RPC_DURATION + "_count" and dict(labels)["service"] == "wallet"
    ]
    assert sum(wallet_calls) > 0

    state = json.loads((data_dir / REGTEST_DIR / STATE_FILE).read_text())
    height_before_stop = httpx2.get(f"{state['monerod_url']}/get_height", trust_env=False).json()["height"]
    children = _descendants(first.popen.pid)

    assert first.interrupt() == 0, first.text
    assert "every process of the stack is stopped" in first.text
    assert [command for pid, command in children.items() if _alive(pid)] == []
    assert not (data_dir / REGTEST_DIR / STATE_FILE).exists()
    assert _dev_pay(data_dir, order_id).returncode == 2  # no stack runs now

    second = Stack.start(data_dir, port, log)
    stacks.append(second)
    again_ready = second.wait_ready(log)
    assert int(again_ready.group(2)) >= height_before_stop  # the chain was kept, not wiped
    assert _credentials(second.text) == credentials
    with httpx2.Client(base_url=url, trust_env=False, timeout=30) as site:
        site.headers["Authorization"] = f"Bearer {token}"
        assert site.get(f"/api/v1/orders/{order_id}").json()["state"] in {"funded", "shipped", "completed"}
    children = _descendants(second.popen.pid)
    worker = next(pid for pid, command in children.items() if "marketplace.cli.main worker" in command)

    os.kill(worker, signal.SIGKILL)  # a child dying on its own stops the whole stack, saying which

    assert second.popen.wait(STOP_TIMEOUT) == 2
    assert "the stack stopped: worker exited unexpectedly" in " ".join(log.read_text().split())
    assert [command for pid, command in children.items() if _alive(pid)] == []
