"""Driving orders through the real worker on the regtest chain: the test's side of ``marketplace worker``.

``Chain.run(until)`` runs the worker's due jobs (a handful per round) and mines one block between
rounds, so every wait of an order (setup, confirmations, outputs unlocking) passes on the real
chain. Rounds are bounded: an order that never gets there fails the test with its state and jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from marketplace.db.engine import Database
from marketplace.jobs import registry
from marketplace.jobs.models import Job
from marketplace.jobs.worker import Worker
from marketplace.monero.regtest import RegtestCluster
from marketplace.runtime import Runtime

JOBS_PER_ROUND = 8
MAX_ROUNDS = 80


@dataclass
class Chain:
    cluster: RegtestCluster
    runtime: Runtime
    worker: Worker

    @classmethod
    def start(cls, cluster: RegtestCluster, runtime: Runtime) -> Chain:
        worker = Worker(runtime.database, registry.handlers(runtime), lease_seconds=120, poll_seconds=0)
        return cls(cluster=cluster, runtime=runtime, worker=worker)

    def run(self, until: Callable[[], bool], *, max_rounds: int = MAX_ROUNDS, what: str = "") -> int:
        """Run jobs and mine until ``until()``; returns the blocks mined. Fails after ``max_rounds`` rounds."""
        for mined in range(max_rounds):
            for _ in range(JOBS_PER_ROUND):
                ran = self.worker.run_once()
                if until():
                    return mined
                if ran is None:
                    break
            self.cluster.mine(1)
        raise AssertionError(f"{what or 'the order'} did not get there in {max_rounds} blocks: {self.jobs()}")

    def jobs(self) -> list[tuple[str, str, int, str | None]]:
        database: Database = self.runtime.database
        with database.session() as session:
            return [
                (job.kind, job.state.value, job.attempts, job.last_error)
                for job in session.scalars(select(Job).order_by(Job.id))
            ]
