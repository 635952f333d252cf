"""More concurrent writes than the server has threads: they queue, none fails (SQLite and PostgreSQL).

A synchronous handler used to hold its transaction's locks while FastAPI waited for a second
worker thread to check its response; with every thread waiting for those locks, requests failed
after the pool timeout (and hung on PostgreSQL). ``web.routing.OneTripRoute`` is the fix.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import insert

from marketplace.accounts.models import Role
from marketplace.db.engine import Database
from marketplace.listings.models import Listing, ListingStatus
from marketplace.web.routing import OneTripRoute
from tests.support.concurrency import HttpRequest, parallel_requests
from tests.support.factories import Person

# anyio's default thread pool has 40 threads: well beyond it.
WRITERS = 100


def test_every_route_makes_one_trip_through_the_thread_pool(app: FastAPI) -> None:
    routes = [context.route for context in iter_route_contexts(app.routes) if isinstance(context.route, APIRoute)]
    assert len(routes) > 40
    two_trips = [
        route.path
        for route in routes
        if not isinstance(route, OneTripRoute) or not inspect.iscoroutinefunction(route.endpoint)
    ]
    assert two_trips == [], f"routes not made by web.routing.router: {two_trips}"


def test_a_hundred_api_edits_at_once_all_succeed(
    live_server: str, database: Database, sign_up: Callable[..., Person]
) -> None:
    vendor = sign_up(Role.VENDOR)
    with database.session() as db:
        ids = [
            db.execute(
                insert(Listing)
                .values(
                    vendor_id=vendor.user.id,
                    title=f"Lamp {n}",
                    description="Brass.",
                    price_atomic=10**11,
                    stock=2,
                    category="home",
                    status=ListingStatus.ACTIVE,
                )
                .returning(Listing.id)
            ).scalar_one()
            for n in range(WRITERS)
        ]
    token = vendor.client.headers["Authorization"]
    vendor.client.get("/api/v1/me")  # the token's first use is noted before the storm

    answers = parallel_requests(
        live_server,
        [
            HttpRequest(
                "PATCH",
                f"/api/v1/listings/{listing_id}",
                headers={"Authorization": token},
                json={"title": f"Lamp {n} (brass)"},
            )
            for n, listing_id in enumerate(ids)
        ],
        timeout_s=100,
    )

    assert [answer.status for answer in answers] == [200] * WRITERS, sorted({a.status for a in answers})
    assert [answer.json()["title"] for answer in answers] == [f"Lamp {n} (brass)" for n in range(WRITERS)]


# Fifty people behind one address (a proxy, a Tor exit) may sign up at once where the operator allows it.
@pytest.mark.parametrize("settings_overrides", [{"registration_max_per_address": 50}])
def test_fifty_sign_ups_at_once_all_succeed(live_server: str) -> None:
    answers = parallel_requests(
        live_server,
        [
            HttpRequest(
                "POST",
                "/api/v1/accounts",
                json={"username": f"storm{n}", "password": "Quiet-Harbour-Lantern-42", "role": "buyer"},
            )
            for n in range(50)
        ],
        timeout_s=100,
    )
    assert [answer.status for answer in answers] == [201] * 50
