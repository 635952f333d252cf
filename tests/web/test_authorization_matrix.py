"""Who may call what: every API route, every role, from the app's own route table.

A route added later is covered automatically: anonymous callers must get 401 unless the route is
in the public list below, and only admins may reach /api/v1/admin routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from marketplace.accounts.models import Role, User
from tests.conftest import DEFAULT_PASSWORD
from tests.support.client import SiteClient

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
    # Any id will do: authorization is decided before the thing is looked up.
    return re.sub(r"\{[^}]+\}", "1", path)


def _call(site: SiteClient, method: str, path: str) -> int:
    return site.request(method, _concrete(path), json={}).status_code


def test_the_route_table_has_the_contract_routes(app: FastAPI) -> None:
    routes = set(_api_routes(app))
    for expected in PUBLIC_API | {("GET", "/api/v1/me"), ("PUT", "/api/v1/me/payout-address")}:
        assert expected in routes, f"missing API route {expected}"


def test_anonymous_callers_get_401_outside_the_public_routes(app: FastAPI, client: SiteClient) -> None:
    refused = {}
    for method, path in _api_routes(app):
        if (method, path) in PUBLIC_API:
            continue
        status = _call(client, method, path)
        if status != 401:
            refused[f"{method} {path}"] = status
    assert refused == {}, f"these routes answered an anonymous caller with something other than 401: {refused}"


@pytest.mark.parametrize("role", [Role.BUYER, Role.VENDOR, Role.ARBITER])
def test_only_admins_reach_admin_routes(
    app: FastAPI, client: SiteClient, make_user: Callable[..., User], role: Role
) -> None:
    user = make_user(role)
    client.use_token(client.api_token(user.username, DEFAULT_PASSWORD))
    admin_routes = [(m, p) for m, p in _api_routes(app) if p.startswith("/api/v1/admin")]
    assert admin_routes, "no admin API routes found"
    answered = {f"{m} {p}": _call(client, m, p) for m, p in admin_routes}
    assert set(answered.values()) == {403}, answered


def test_a_buyer_cannot_write_listings(client: SiteClient, make_user: Callable[..., User]) -> None:
    buyer = make_user(Role.BUYER)
    client.use_token(client.api_token(buyer.username, DEFAULT_PASSWORD))
    response = client.post(
        "/api/v1/listings",
        json={"title": "x", "description": "y", "price_atomic": 1, "stock": 1, "category": "other"},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
