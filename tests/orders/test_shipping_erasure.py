"""Shipping details are erased 30 days after their order ended, by a periodic job of the worker."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from marketplace.db.base import utcnow
from marketplace.jobs.models import Job
from marketplace.jobs.worker import Worker
from marketplace.orders import tasks
from tests.orders.conftest import Market


def test_the_worker_erases_shipping_details_a_month_after_the_order_ended_and_keeps_the_others(market: Market) -> None:
    old = market.place(shipping_info="Jane Doe\n1 Harbour Lane")
    recent = market.place(shipping_info="John Roe\n2 Quay Street")
    for order_id in (old, recent):
        assert market.post(market.buyer, order_id, "cancel").status_code == 200
    market.set_time(old, ended_at=utcnow() - timedelta(days=31))
    with market.database.session() as session:
        tasks.schedule_periodic(session, utcnow())
        tasks.schedule_periodic(session, utcnow())  # a second worker start queues nothing more

    worker = Worker(market.database, {tasks.ERASE_SHIPPING_JOB: tasks.erase_shipping_info}, poll_seconds=0)
    run = worker.run_once()

    assert run is not None
    assert run.result.value == "rescheduled"  # it comes back in an hour
    assert market.order(old).shipping_info is None
    assert market.order(old).shipping_info_erased_at is not None
    assert market.get(recent, market.vendor)["shipping_info"] == "John Roe\n2 Quay Street"
    with market.database.session() as session:
        assert session.scalar(select(func.count()).where(Job.kind == tasks.ERASE_SHIPPING_JOB)) == 1
