"""Who may call what: every API route, every role, from the app's own route table.

A route added later is covered automatically: anonymous callers must get 401 unless the route is
in the public list below, and only admins may reach /api/v1/admin routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from marketplace.accounts.models import Role, User
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import Person

# (method, path template) that anyone may call without signing in.
PUBLIC_API = {
    ("POST", "/api/v1/accounts"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/listings"),
    ("GET", "/api/v1/listings/{listing_id}"),
}


def _api_routes(app: FastAPI) -> list[tuple[str, str]]:
    # The OpenAPI document is the published route table: what clients can see is what we check.
    paths = app.openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1/")
        for method in operations
    ]


def _concrete(path: str) -> str:
    # Any id will do: authorization is decided before the thing is looked up (an order's is 32 hex digits).
    return re.sub(r"\{[^}]+\}", lambda match: "0" * 32 if match.group() == "{order_id}" else "1", path)


def _call(site: SiteClient, method: str, path: str) -> Any:
    return site.request(method, _concrete(path), json={})


def _not_refused_as(response: Any, status: int, code: str) -> str | None:
    """Why ``response`` is not the API error ``status``/``code``, or None: the tables report every route at once."""
    try:
        assert_api_error(response, status, code)
    except AssertionError as failure:
        return str(failure)
    return None


def test_the_route_table_has_the_contract_routes(app: FastAPI) -> None:
    routes = set(_api_routes(app))
    orders = {
        ("POST", "/api/v1/orders"),
        ("GET", "/api/v1/orders"),
        ("GET", "/api/v1/orders/{order_id}"),
        ("GET", "/api/v1/orders/{order_id}/payment-qr.svg"),
        *(
            ("POST", f"/api/v1/orders/{{order_id}}/{action}")
            for action in ("ship", "confirm", "cancel", "decline", "dispute", "decision")
        ),
    }
    social = {
        ("GET", "/api/v1/orders/{order_id}/messages"),
        ("POST", "/api/v1/orders/{order_id}/messages"),
        ("POST", "/api/v1/orders/{order_id}/review"),
        ("POST", "/api/v1/reviews/{review_id}/reply"),
        ("GET", "/api/v1/notifications"),
        ("POST", "/api/v1/notifications/read"),
        ("GET", "/api/v1/listings/{listing_id}/questions"),
        ("POST", "/api/v1/listings/{listing_id}/questions"),
    }
    for expected in PUBLIC_API | orders | social | {("GET", "/api/v1/me"), ("PUT", "/api/v1/me/payout-address")}:
        assert expected in routes, f"missing API route {expected}"


def test_anonymous_callers_get_401_outside_the_public_routes(app: FastAPI, client: SiteClient) -> None:
    wrong = {}
    for method, path in _api_routes(app):
        if (method, path) in PUBLIC_API:
            continue
        problem = _not_refused_as(_call(client, method, path), 401, "not_authenticated")
        if problem is not None:
            wrong[f"{method} {path}"] = problem
    assert wrong == {}, f"these routes did not refuse an anonymous caller with the 401 error: {wrong}"


@pytest.mark.parametrize("role", [Role.BUYER, Role.VENDOR, Role.ARBITER])
def test_only_admins_reach_admin_routes(
    app: FastAPI, make_user: Callable[..., User], sign_in_as: Callable[[User], Person], role: Role
) -> None:
    person = sign_in_as(make_user(role))
    admin_routes = [(m, p) for m, p in _api_routes(app) if p.startswith("/api/v1/admin")]
    assert admin_routes, "no admin API routes found"
    answered = {f"{m} {p}": _not_refused_as(_call(person.client, m, p), 403, "forbidden") for m, p in admin_routes}
    assert set(answered.values()) == {None}, answered


def test_a_buyer_cannot_write_listings(sign_up: Callable[..., Person]) -> None:
    buyer = sign_up(Role.BUYER)
    response = buyer.client.post(
        "/api/v1/listings",
        json={"title": "x", "description": "y", "price_atomic": 1, "stock": 1, "category": "other"},
    )
    assert_api_error(response, 403, "forbidden")
