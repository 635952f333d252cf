"""The OpenAPI document says what the server enforces: a client that follows it is not refused by surprise."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.accounts.usernames import registrable_pattern
from tests.support.api import assert_api_error
from tests.support.client import SiteClient

_EXAMPLES = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)


def _property(app: FastAPI, schema: str, field: str) -> dict[str, Any]:
    document = app.openapi()
    found: dict[str, Any] = document["components"]["schemas"][schema]["properties"][field]
    return found


def _auto_summary(route: APIRoute) -> str:
    """The summary FastAPI makes up from the function's name when none is given."""
    return route.name.replace("_", " ").title()


def test_every_operation_has_a_human_summary(app: FastAPI) -> None:
    documented = app.openapi()["paths"]
    operations = [
        (context.path, method.lower(), context.route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute) and context.path in documented
        for method in context.methods or ()
        if method.lower() in documented[context.path]
    ]
    assert len(operations) >= 10
    missing = [
        f"{method.upper()} {path}"
        for path, method, route in operations
        if not route.summary or route.summary == _auto_summary(route)
    ]
    assert missing == [], f"operations without a written summary: {missing}"
    for path_item in documented.values():
        for operation in path_item.values():
            assert operation["summary"].strip()


def test_every_error_answer_is_documented_in_the_shape_the_server_sends(app: FastAPI, client: SiteClient) -> None:
    document = app.openapi()
    error = document["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"error", "message"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            errors = {status: answer for status, answer in operation["responses"].items() if not status.startswith("2")}
            assert "default" in errors, (method, path)
            for status, answer in errors.items():
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)

    answers = [
        client.post("/api/v1/accounts", json={"username": "x", "password": "short", "role": "buyer"}),  # 422
        client.post("/api/v1/accounts", content=b"{not json", headers={"Content-Type": "application/json"}),
        client.get("/api/v1/accounts/me"),  # 401
        client.get("/api/v1/listings/424242"),  # 404
        client.get("/api/v1/listings?page=0"),  # 422 from a query parameter
    ]
    for answer in answers:
        assert answer.status_code >= 400, answer.text
        body = answer.json()
        assert set(error["required"]) <= set(body) <= set(error["properties"]), body
        assert all(isinstance(value, str) for value in body.values()), body


@pytest.mark.parametrize(
    ("schema", "field", "expected"),
    [
        (
            "AccountCreate",
            "username",
            {"pattern": registrable_pattern(r"^[A-Za-z0-9_.-]{3,32}$"), "minLength": 3, "maxLength": 32},
        ),
        ("NewAccountIn", "username", {"pattern": r"^[A-Za-z0-9_.-]{3,32}$", "minLength": 3, "maxLength": 32}),
        ("AccountCreate", "password", {"minLength": 10, "maxLength": 256}),
    ],
)
def test_the_document_states_the_account_rules(app: FastAPI, schema: str, field: str, expected: dict[str, Any]) -> None:
    documented = _property(app, schema, field)
    assert {key: documented.get(key) for key in expected} == expected


# Every example registers from the test client's one address: lift the per-address limit.
@pytest.mark.parametrize("settings_overrides", [{"registration_max_per_address": 1000}])
def test_every_username_the_document_allows_is_accepted(app: FastAPI, client: SiteClient) -> None:
    pattern = _property(app, "AccountCreate", "username")["pattern"]
    taken: set[str] = set()

    @_EXAMPLES
    @given(st.from_regex(re.compile(pattern), fullmatch=True))
    def register(username: str) -> None:
        response = client.post(
            "/api/v1/accounts", json={"username": username, "password": "Quiet-Harbour-Lantern-42", "role": "buyer"}
        )
        if username.lower() in taken:
            assert_api_error(response, 409, "conflict", field="username")
        else:
            assert response.status_code == 201, response.text
            taken.add(username.lower())

    register()


@pytest.mark.parametrize("length", [10, 11, 255, 256])
def test_every_password_length_the_document_allows_is_accepted(app: FastAPI, client: SiteClient, length: int) -> None:
    documented = _property(app, "AccountCreate", "password")
    assert documented["minLength"] <= length <= documented["maxLength"]
    password = ("Kx7#mQ2!vL9$" * 30)[:length]
    response = client.post("/api/v1/accounts", json={"username": f"len{length}", "password": password, "role": "buyer"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("length", [9, 257])
def test_a_password_length_outside_the_document_is_refused_naming_the_field(client: SiteClient, length: int) -> None:
    password = ("Kx7#mQ2!vL9$" * 30)[:length]
    response = client.post("/api/v1/accounts", json={"username": f"out{length}", "password": password, "role": "buyer"})
    assert_api_error(response, 422, "invalid", field="password")


def test_order_states_are_an_enum_in_the_document(app: FastAPI) -> None:
    document = app.openapi()
    states = document["components"]["schemas"]["OrderState"]
    assert states["enum"] == [
        "placed",
        "awaiting_payment",
        "funded",
        "shipped",
        "disputed",
        "paying_out",
        "completed",
        "refunded",
        "resolved",
        "cancelled",
        "declined",
        "expired",
    ]
    order = document["components"]["schemas"]["OrderOut"]["properties"]
    assert order["state"] == {"$ref": "#/components/schemas/OrderState"}
    summary = document["paths"]["/api/v1/orders/{order_id}/confirm"]["post"]["summary"]
    assert "payment goes to the vendor" in summary
