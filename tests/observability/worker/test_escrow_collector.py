"""What the worker's /metrics reads from the database at scrape time (``EscrowCollector``), on both databases.

Orders are placed through the API and moved by the state machine as the worker would
(``tests/orders/conftest.py``'s market); the collector is scraped as Prometheus would (the text
exposition, parsed back). Ages are computed against a clock the test fixes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from marketplace.db.engine import Database, make_engine
from marketplace.jobs.models import Job, JobState
from marketplace.observability import names
from marketplace.observability.escrow_collector import (
    BACKUP_RECORD,
    RESTORE_DRILL_RECORD,
    EscrowCollector,
    record_success,
)
from marketplace.orders.models import EscrowPayout, OrderEvent, OrderState, PayoutPurpose, PayoutState
from marketplace.settings import Settings, SignerRole, load_settings
from tests.jobs.conftest import add_job
from tests.orders.conftest import Market

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(collector: EscrowCollector) -> Samples:
    """Every sample the collector gives, through the text format Prometheus reads."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(key)[label]: sample for (metric, key), sample in samples.items() if metric == name}


def collector(market: Market, settings: Settings | None = None, **kwargs: object) -> EscrowCollector:
    return EscrowCollector(market.database, settings or market.settings, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_an_empty_marketplace_reports_zero_for_every_state_kind_and_operation(market: Market) -> None:
    samples = scrape(collector(market, kinds=["escrow.watch", "escrow.payout"]))

    assert by_label(samples, names.ORDERS, "state") == {state.value: 0.0 for state in OrderState}
    assert by_label(samples, names.ORDER_OLDEST_AGE, "state") == {
        "placed": 0.0,
        "awaiting_payment": 0.0,
        "funded": 0.0,
        "shipped": 0.0,
        "disputed": 0.0,
        "paying_out": 0.0,
    }
    assert by_label(samples, names.ORDER_TRANSITIONS, "to_state") == {}
    assert value(samples, names.PAYOUTS_AWAITING_CONFIRMATION) == 0.0
    assert value(samples, names.PAYOUT_OLDEST_UNCONFIRMED_AGE) == 0.0
    assert value(samples, names.ESCROW_HELD) == 0.0
    assert {key: sample for key, sample in samples.items() if key[0] == names.JOBS} == {
        (names.JOBS, (("kind", kind), ("state", state))): 0.0
        for kind in ("escrow.payout", "escrow.watch")
        for state in ("queued", "running", "failed")
    }
    assert by_label(samples, names.JOB_OLDEST_DUE_AGE, "kind") == {"escrow.payout": 0.0, "escrow.watch": 0.0}
    assert value(samples, names.BACKUP_LAST_SUCCESS) == 0.0
    assert value(samples, names.RESTORE_DRILL_LAST_SUCCESS) == 0.0
    assert not any(key[0] == names.TLS_CERT_EXPIRY for key in samples)


def _entered(market: Market, order_id: str, state: OrderState, at: datetime) -> None:
    with market.database.session() as db:
        db.execute(
            update(OrderEvent).where(OrderEvent.order_id == order_id, OrderEvent.to_state == state).values(at=at)
        )


def test_orders_by_state_time_in_state_transitions_and_money_held(market: Market) -> None:
    placed = market.place()
    funded = market.funded_order()
    shipped = market.shipped_order()
    cancelled = market.place()
    assert market.post(market.buyer, cancelled, "cancel").status_code == 200
    # The shipped order was funded long ago but shipped recently: its time in state is since shipping.
    _entered(market, funded, OrderState.FUNDED, NOW - timedelta(seconds=100))
    _entered(market, shipped, OrderState.FUNDED, NOW - timedelta(seconds=5000))
    _entered(market, shipped, OrderState.SHIPPED, NOW - timedelta(seconds=50))
    _entered(market, placed, OrderState.PLACED, NOW - timedelta(seconds=700))

    samples = scrape(collector(market))

    counts = by_label(samples, names.ORDERS, "state")
    assert {state: count for state, count in counts.items() if count} == {
        "placed": 1.0,
        "funded": 1.0,
        "shipped": 1.0,
        "cancelled": 1.0,
    }
    ages = by_label(samples, names.ORDER_OLDEST_AGE, "state")
    assert (ages["placed"], ages["funded"], ages["shipped"], ages["disputed"]) == (700.0, 100.0, 50.0, 0.0)
    assert "cancelled" not in ages  # an ended order is not stuck
    transitions = {
        (dict(key)["from_state"], dict(key)["to_state"]): count
        for (name, key), count in samples.items()
        if name == names.ORDER_TRANSITIONS
    }
    assert transitions == {
        ("none", "placed"): 4.0,
        ("placed", "awaiting_payment"): 2.0,
        ("awaiting_payment", "funded"): 2.0,
        ("funded", "shipped"): 1.0,
        ("placed", "cancelled"): 1.0,
    }
    assert value(samples, names.ESCROW_HELD) == market.amount(funded) + market.amount(shipped)


def test_payouts_awaiting_confirmation_and_the_oldest_ones_age(market: Market) -> None:
    order_id = market.funded_order()
    with market.database.session() as db:
        for attempt, state, submitted in (
            (0, PayoutState.SUPERSEDED, NOW - timedelta(hours=5)),
            (1, PayoutState.SUBMITTED, NOW - timedelta(seconds=900)),
            (2, PayoutState.SUBMITTED, NOW - timedelta(seconds=60)),
            (3, PayoutState.CONFIRMED, NOW - timedelta(hours=2)),
            (4, PayoutState.SIGNED, None),
        ):
            db.add(
                EscrowPayout(
                    order_id=order_id,
                    attempt=attempt,
                    purpose=PayoutPurpose.RELEASE,
                    proposer=SignerRole.VENDOR,
                    cosigner=SignerRole.ARBITER,
                    state=state,
                    submitted_at=submitted,
                )
            )

    samples = scrape(collector(market))

    assert value(samples, names.PAYOUTS_AWAITING_CONFIRMATION) == 2.0
    assert value(samples, names.PAYOUT_OLDEST_UNCONFIRMED_AGE) == 900.0


def test_job_queue_depth_by_kind_and_state_and_the_oldest_due_jobs_wait(market: Market) -> None:
    add_job(market.database, "escrow.watch", run_at=NOW - timedelta(seconds=30))
    add_job(market.database, "escrow.watch", run_at=NOW - timedelta(seconds=5))
    add_job(market.database, "escrow.watch", run_at=NOW + timedelta(hours=1))  # not due yet
    failed = add_job(market.database, "escrow.payout", run_at=NOW - timedelta(hours=3))
    done = add_job(market.database, "escrow.payout", run_at=NOW - timedelta(hours=3))
    with market.database.session() as db:
        db.execute(update(Job).where(Job.id == failed).values(state=JobState.FAILED))
        db.execute(update(Job).where(Job.id == done).values(state=JobState.DONE))

    samples = scrape(collector(market, kinds=["escrow.setup"]))

    jobs = {(dict(key)["kind"], dict(key)["state"]): n for (name, key), n in samples.items() if name == names.JOBS}
    assert {key: n for key, n in jobs.items() if n} == {
        ("escrow.watch", "queued"): 3.0,
        ("escrow.payout", "failed"): 1.0,
    }
    assert ("escrow.setup", "queued") in jobs  # a kind the worker handles is reported with no job
    assert by_label(samples, names.JOB_OLDEST_DUE_AGE, "kind") == {
        "escrow.payout": 0.0,  # a failed job is not waiting to run
        "escrow.setup": 0.0,
        "escrow.watch": 30.0,
    }


def test_backup_and_restore_drill_times_are_the_last_successes_recorded(market: Market) -> None:
    with market.database.session() as db:
        record_success(db, BACKUP_RECORD, NOW - timedelta(days=2), "first")
    with market.database.session() as db:
        record_success(db, BACKUP_RECORD, NOW - timedelta(hours=1), "second")
        record_success(db, RESTORE_DRILL_RECORD, NOW - timedelta(days=6))

    samples = scrape(collector(market))

    assert value(samples, names.BACKUP_LAST_SUCCESS) == (NOW - timedelta(hours=1)).timestamp()
    assert value(samples, names.RESTORE_DRILL_LAST_SUCCESS) == (NOW - timedelta(days=6)).timestamp()


def _certificate(path: Path, not_after: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "market.example")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=90))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(Encoding.PEM))


def test_tls_certificate_expiry_per_file_and_an_unreadable_file_is_a_log_line(
    market: Market, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expires = datetime(2026, 7, 1, tzinfo=UTC)
    _certificate(tmp_path / "fullchain.pem", expires)
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    files = ",".join(str(tmp_path / name) for name in ("fullchain.pem", "garbage.pem", "missing.pem"))
    settings = load_settings(**{**market.settings.model_dump(), "tls_certificate_files": files})

    with caplog.at_level(logging.WARNING, logger="marketplace.observability"):
        samples = scrape(collector(market, settings))

    assert by_label(samples, names.TLS_CERT_EXPIRY, "certificate") == {"fullchain.pem": expires.timestamp()}
    unreadable = sorted(r.certificate for r in caplog.records if r.getMessage() == "tls_certificate_unreadable")  # type: ignore[attr-defined]
    assert unreadable == ["garbage.pem", "missing.pem"]
    assert str(tmp_path) not in caplog.text  # the file name, not where it lives


def test_a_database_failure_gives_no_database_samples_and_a_log_line_never_a_failed_scrape(
    market: Market, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _certificate(tmp_path / "site.pem", datetime(2026, 9, 1, tzinfo=UTC))
    settings = load_settings(**{**market.settings.model_dump(), "tls_certificate_files": str(tmp_path / "site.pem")})
    broken = tmp_path / "not-a-database.sqlite"
    broken.write_bytes(b"this is not SQLite" * 100)
    database = Database(make_engine(f"sqlite:///{broken}"))
    try:
        with caplog.at_level(logging.WARNING, logger="marketplace.observability"):
            samples = scrape(EscrowCollector(database, settings, kinds=["escrow.watch"], clock=lambda: NOW))
    finally:
        database.dispose()

    assert {name for name, _ in samples} == {names.TLS_CERT_EXPIRY}
    assert [r.getMessage() for r in caplog.records] == ["metrics_collect_failed"]
