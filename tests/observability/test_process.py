"""The ``process`` label: web by default, worker once the worker says so, nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from marketplace.observability import process


@pytest.fixture
def restore_process_name() -> Iterator[None]:
    before = process.process_name()
    yield
    process.set_process_name(before)


def test_the_worker_names_itself_and_a_typo_is_refused(restore_process_name: None) -> None:
    assert process.process_name() == "web"
    process.set_process_name("worker")
    assert process.process_name() == "worker"
    with pytest.raises(ValueError, match="web, worker"):
        process.set_process_name("wrker")  # type: ignore[arg-type]
    assert process.process_name() == "worker"
