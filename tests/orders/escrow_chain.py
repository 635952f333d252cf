"""Driving orders through the real worker on the regtest chain: the test's side of ``marketplace worker``.

``Chain.run(until)`` runs the worker's due jobs (a handful per round) and mines one block between
rounds, so every wait of an order (setup, confirmations, outputs unlocking) passes on the real
chain. Rounds are bounded: an order that never gets there fails the test with its state and jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.jobs import registry
from marketplace.jobs.models import Job
from marketplace.jobs.worker import Worker
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import EscrowPayout, PayoutState
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

    def close(self) -> None:
        """Close the signers' and the daemon's connections (the database is the test's)."""
        stack = self.runtime.escrow_stack()
        if stack is not None:
            stack.close()

    def jobs(self) -> list[tuple[str, str, int, str | None]]:
        database: Database = self.runtime.database
        with database.session() as session:
            return [
                (job.kind, job.state.value, job.attempts, job.last_error)
                for job in session.scalars(select(Job).order_by(Job.id))
            ]


def payouts(database: Database, order_id: str) -> list[EscrowPayout]:
    """The order's payout attempts, in the order they were made."""
    with database.session() as session:
        statement = select(EscrowPayout).where(EscrowPayout.order_id == order_id).order_by(EscrowPayout.attempt)
        return list(session.scalars(statement))


def confirmed_payouts(database: Database, order_id: str) -> list[EscrowPayout]:
    return [payout for payout in payouts(database, order_id) if payout.state is PayoutState.CONFIRMED]


def wait_until(moment: datetime) -> None:
    """Let real time pass until ``moment`` (windows are set short through the settings, not a fake clock)."""
    left = (moment - utcnow()).total_seconds()
    if left > 0:
        time.sleep(left + 0.5)
