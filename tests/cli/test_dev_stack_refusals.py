"""``marketplace dev`` and ``marketplace dev pay`` refuse, before starting anything, what they cannot do.

No chain: each refusal happens before monerod would start (tests/devstack/test_dev_stack.py runs
the stack for real).
"""

from __future__ import annotations

import fcntl
import socket
from pathlib import Path

import pytest

from marketplace.devstack.stack import LOCK_FILE, REGTEST_DIR
from tests.cli.conftest import Run


def _nothing_started(data_dir: Path) -> bool:
    return not (data_dir / REGTEST_DIR / "monerod").exists() and not (data_dir / "marketplace.sqlite3").exists()


def test_the_stack_and_dev_pay_refuse_to_run_in_production(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY", "e90ebc3bb54e30ddb0b15d5cb9e501a69bea8a71958ec2a656461a0d626ad99d")

    stack = run("dev", "--data-dir", str(tmp_path / "data"), "--port", "18999")
    pay = run("dev", "pay", "a" * 32, "--data-dir", str(tmp_path / "data"))

    for result in (stack, pay):
        assert result.exit_code == 2, result.output
        assert "development only" in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (("--port", "70000"), "--port"),
        (("--port", "0"), "--port"),
        (("--block-seconds", "0"), "--block-seconds"),
    ],
)
def test_out_of_range_options_are_refused(
    run: Run, development_data_dir: Path, arguments: tuple[str, ...], complaint: str
) -> None:
    result = run("dev", *arguments)

    assert result.exit_code == 2
    assert complaint in result.stderr
    assert _nothing_started(development_data_dir)


def test_a_taken_port_is_refused_before_the_chain_starts(run: Run, development_data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run("dev", "--port", str(port))

    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert _nothing_started(development_data_dir)


def test_a_second_stack_on_the_same_data_directory_is_refused(run: Run, development_data_dir: Path) -> None:
    lock_path = development_data_dir / REGTEST_DIR / LOCK_FILE
    lock_path.parent.mkdir(parents=True)
    with lock_path.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running stack holds it

        result = run("dev", "--port", "18998")

    assert result.exit_code == 2, result.output
    assert "already runs on" in result.stderr
    assert _nothing_started(development_data_dir)


def test_dev_pay_says_when_no_stack_runs(run: Run, development_data_dir: Path) -> None:
    result = run("dev", "pay", "a" * 32)

    assert result.exit_code == 2
    assert "no development stack runs on" in result.stderr
    assert "marketplace dev" in result.stderr


def test_the_other_dev_subcommands_still_work(run: Run, development_data_dir: Path) -> None:
    result = run("dev", "docs", "--check")

    assert result.exit_code == 0, result.output
    assert _nothing_started(development_data_dir)
