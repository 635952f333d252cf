"""What the worker's ``/metrics`` reads from the database at scrape time: ``EscrowCollector``.

One short read-only session per scrape (a handful of grouped queries, no row per order). A
failure (the database away, a lock timeout) yields none of these samples and one log line
(``metrics_collect_failed``), never a failed scrape: the job and RPC metrics still go out, and
the alert on a missing series fires instead of a false zero.

Exported (names in ``observability.names``):

- ``ORDERS{state}``: orders per state, every ``OrderState`` (0 included);
- ``ORDER_OLDEST_AGE{state}``: for the open states (unpaid and paid-open), the seconds since the
  order longest in that state entered it (the latest ``order_events`` row whose ``to_state`` is the
  order's state; ``placed_at`` for an order without one); 0 when no order is in that state;
- ``ORDER_TRANSITIONS{from_state,to_state}``: ``order_events`` rows, ``from_state`` ``none`` for
  an order's creation. A counter: it only grows, as the table is append-only (an erased order
  would make it fall, which Prometheus reads as a reset);
- ``PAYOUTS_AWAITING_CONFIRMATION`` and ``PAYOUT_OLDEST_UNCONFIRMED_AGE``: escrow payouts
  submitted and not yet confirmed, and the age of the oldest since its submission (0 when none);
- ``ESCROW_HELD``: piconero received (``received_atomic``: spendable payments) by orders not
  yet ended. Money received by an ended order (a late payment being returned) is not counted;
- ``JOBS{kind,state}``: jobs queued, running and failed per kind (done ones are history), for
  every kind the worker handles (0 included) and any other kind in the table;
  ``JOB_OLDEST_DUE_AGE{kind}``: seconds since the oldest due queued job of the kind was due
  (0 when none is due);
- ``BACKUP_LAST_SUCCESS`` and ``RESTORE_DRILL_LAST_SUCCESS``: the time (Unix seconds) of the last
  successful backup and restore drill, 0 when never. **Where they come from**: the
  ``service_health`` table, rows named ``BACKUP_RECORD`` and ``RESTORE_DRILL_RECORD``; the backup
  and the restore drill call ``record_success(db, BACKUP_RECORD, now, detail)`` (or
  ``RESTORE_DRILL_RECORD``) in their own transaction when, and only when, they succeeded;
- ``TLS_CERT_EXPIRY{certificate}``: the ``notAfter`` (Unix seconds) of each PEM file of
  ``MARKETPLACE_TLS_CERTIFICATE_FILES`` (its first certificate), labelled with the file name; a
  file that cannot be read or parsed is a log line (``tls_certificate_unreadable``) and no sample.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.jobs.health import record_health
from marketplace.jobs.models import Job, JobState, ServiceHealth
from marketplace.observability import names
from marketplace.orders.models import (
    END_STATES,
    PAID_OPEN_STATES,
    UNPAID_STATES,
    EscrowPayout,
    Order,
    OrderEvent,
    OrderState,
    PayoutState,
)
from marketplace.settings import Settings

log = logging.getLogger("marketplace.observability")

OPEN_STATES = tuple(state for state in OrderState if state in UNPAID_STATES | PAID_OPEN_STATES)
JOB_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.FAILED)

# service_health rows written by the backup and the restore drill on success (see the docstring).
BACKUP_RECORD = "backup:last_success"
RESTORE_DRILL_RECORD = "restore_drill:last_success"


def record_success(db: Session, record: str, now: datetime, detail: str = "") -> None:
    """Record that the backup (``BACKUP_RECORD``) or restore drill (``RESTORE_DRILL_RECORD``)
    succeeded at ``now``, in ``db``'s transaction. Call it only on success."""
    if record not in (BACKUP_RECORD, RESTORE_DRILL_RECORD):
        raise ValueError(f"unknown operations record {record!r}")
    record_health(db, record, ok=True, detail=detail, latency_ms=None, now=now)


class EscrowCollector(Collector):
    """See the module docstring. ``kinds``: the job kinds reported even when no job of them exists."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        kinds: Sequence[str] = (),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.settings = settings
        self.kinds = tuple(kinds)
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            metrics = self._from_database(self.clock())
        except Exception as error:  # noqa: BLE001  a scrape never fails because the database did
            log.warning(
                "metrics_collect_failed",
                extra={"error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"},
            )
            metrics = []
        yield from metrics
        yield from self._certificates()

    def _from_database(self, now: datetime) -> list[Metric]:
        with self.database.session() as db:
            return [
                *self._orders(db, now),
                self._transitions(db),
                *self._payouts(db, now),
                self._held(db),
                *self._jobs(db, now),
                *self._operations(db),
            ]

    def _orders(self, db: Session, now: datetime) -> list[Metric]:
        counts = dict(db.execute(select(Order.state, func.count()).group_by(Order.state)).all())
        orders = GaugeMetricFamily(names.ORDERS, "Orders in each state.", labels=["state"])
        for state in OrderState:
            orders.add_metric([state.value], float(counts.get(state, 0)))
        # Per open order (a correlated lookup through ix_order_events_order_id: ended orders, the
        # bulk of the table in time, are never read), when it entered its state.
        entered = (
            select(func.max(OrderEvent.at))
            .where(OrderEvent.order_id == Order.id, OrderEvent.to_state == Order.state)
            .correlate(Order)
            .scalar_subquery()
        )
        rows = db.execute(
            select(Order.state, func.min(func.coalesce(entered, Order.placed_at)))
            .where(Order.state.in_(OPEN_STATES))
            .group_by(Order.state)
        )
        oldest = {state: _as_datetime(at) for state, at in rows}
        ages = GaugeMetricFamily(
            names.ORDER_OLDEST_AGE, "Seconds the order longest in each open state has been in it.", labels=["state"]
        )
        for state in OPEN_STATES:
            ages.add_metric([state.value], _age(now, oldest.get(state)))
        return [orders, ages]

    def _transitions(self, db: Session) -> Metric:
        rows = db.execute(
            select(OrderEvent.from_state, OrderEvent.to_state, func.count()).group_by(
                OrderEvent.from_state, OrderEvent.to_state
            )
        )
        transitions = CounterMetricFamily(
            names.ORDER_TRANSITIONS, "Order state changes recorded.", labels=["from_state", "to_state"]
        )
        for from_state, to_state, count in sorted(rows, key=lambda row: (str(row[0] or ""), str(row[1]))):
            transitions.add_metric([from_state.value if from_state is not None else "none", to_state.value], count)
        return transitions

    def _payouts(self, db: Session, now: datetime) -> list[Metric]:
        count, oldest = db.execute(
            select(func.count(), func.min(EscrowPayout.submitted_at)).where(EscrowPayout.state == PayoutState.SUBMITTED)
        ).one()
        return [
            GaugeMetricFamily(
                names.PAYOUTS_AWAITING_CONFIRMATION, "Escrow payouts submitted and not yet confirmed.", value=count
            ),
            GaugeMetricFamily(
                names.PAYOUT_OLDEST_UNCONFIRMED_AGE,
                "Seconds since the oldest unconfirmed payout was submitted (0 when none).",
                value=_age(now, _as_datetime(oldest)),
            ),
        ]

    def _held(self, db: Session) -> Metric:
        held = db.scalar(
            select(func.coalesce(func.sum(Order.received_atomic), 0)).where(Order.state.not_in(END_STATES))
        )
        return GaugeMetricFamily(
            names.ESCROW_HELD, "Piconero received in escrow by orders not yet ended.", value=int(held or 0)
        )

    def _jobs(self, db: Session, now: datetime) -> list[Metric]:
        counts = {
            (kind, state): count
            for kind, state, count in db.execute(
                select(Job.kind, Job.state, func.count()).where(Job.state.in_(JOB_STATES)).group_by(Job.kind, Job.state)
            )
        }
        due = {
            kind: _as_datetime(at)
            for kind, at in db.execute(
                select(Job.kind, func.min(Job.run_at))
                .where(Job.state == JobState.QUEUED, Job.run_at <= now)
                .group_by(Job.kind)
            )
        }
        kinds = sorted(set(self.kinds) | {kind for kind, _ in counts})
        jobs = GaugeMetricFamily(names.JOBS, "Jobs queued, running and failed, per kind.", labels=["kind", "state"])
        oldest = GaugeMetricFamily(
            names.JOB_OLDEST_DUE_AGE, "Seconds since the oldest due queued job of the kind was due.", labels=["kind"]
        )
        for kind in kinds:
            for state in JOB_STATES:
                jobs.add_metric([kind, state.value], float(counts.get((kind, state), 0)))
            oldest.add_metric([kind], _age(now, due.get(kind)))
        return [jobs, oldest]

    def _operations(self, db: Session) -> list[Metric]:
        recorded = dict(
            db.execute(
                select(ServiceHealth.name, ServiceHealth.checked_at).where(
                    ServiceHealth.name.in_([BACKUP_RECORD, RESTORE_DRILL_RECORD]), ServiceHealth.ok.is_(True)
                )
            ).all()
        )
        return [
            GaugeMetricFamily(
                names.BACKUP_LAST_SUCCESS,
                "Time of the last successful backup, Unix seconds (0: never).",
                value=_timestamp(recorded.get(BACKUP_RECORD)),
            ),
            GaugeMetricFamily(
                names.RESTORE_DRILL_LAST_SUCCESS,
                "Time of the last successful restore drill, Unix seconds (0: never).",
                value=_timestamp(recorded.get(RESTORE_DRILL_RECORD)),
            ),
        ]

    def _certificates(self) -> Iterator[Metric]:
        paths = self.settings.tls_certificate_paths()
        if not paths:
            return
        expiry = GaugeMetricFamily(
            names.TLS_CERT_EXPIRY, "When each TLS certificate expires, Unix seconds.", labels=["certificate"]
        )
        for path in paths:
            not_after = _not_after(path)
            if not_after is not None:
                expiry.add_metric([path.name], not_after)
        yield expiry


def _not_after(path: Path) -> float | None:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as error:
        log.warning(
            "tls_certificate_unreadable",
            extra={
                "certificate": path.name,
                "error": f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}",
            },
        )
        return None
    return certificate.not_valid_after_utc.timestamp()


def _as_datetime(value: object) -> datetime | None:
    """An aggregate of a ``UTCDateTime`` column (aware; SQLite hands a string through some paths)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a time: {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _age(now: datetime, since: datetime | None) -> float:
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())


def _timestamp(value: datetime | None) -> float:
    return 0.0 if value is None else _as_datetime(value).timestamp()  # type: ignore[union-attr]
