"""Every number a request carries is bounded before it reaches the database (issue 6, item 2).

``ROUTES`` classifies every route of the app (API and pages) by the numbers it reads: each path
parameter, and each integer read from the query, a form or a JSON body (declared in the
signature or read by hand). A route added without being classified fails the first test. The
other tests send each number, on SQLite and PostgreSQL, as the edges (negative, 0, 2^31, 2^63,
10^30 ...), as hypothesis integers, and (for ids) as text that is not a number:

- inside its range: never a 5xx (in-range ids here name no row, so nothing is changed);
- outside: the documented refusal, a 404 ``not_found`` for an id, a 422 naming the field otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.accounts.models import Role, User
from marketplace.db.base import MAX_ID
from marketplace.listings.models import Listing
from marketplace.listings.services import STOCK_MAX
from marketplace.monero.amounts import MAX_PRICE_ATOMIC, PICONERO_PER_XMR
from marketplace.orders.checks import MAX_ORDER_ATOMIC
from marketplace.pagination import MAX_PAGE
from marketplace.web.numbers import MAX_API_PAGE_SIZE
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.escrow import ESCROW_SETTINGS
from tests.support.factories import MAINNET_ADDRESS, Person

_EXAMPLES = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)
# Always sent, besides hypothesis' own integers.
EDGES = (
    -(10**30),
    -(2**63) - 1,
    -(2**31),
    -1,
    0,
    1,
    MAX_ID,
    MAX_ID + 1,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    10**30,
)
_ROWS_BELOW = 10_000  # ids this test's rows may have; in-range ids are moved above it


@dataclass(frozen=True)
class Number:
    """One number a route reads: where, its range, and the refusal outside it (404 or 422 naming ``field``)."""

    name: str
    where: str  # path, query, form or json
    minimum: int
    maximum: int
    refusal: int
    field: str | None = None

    def text(self, value: int) -> str:
        """How the number is written in the request (the listing form's price is XMR: whole XMR here)."""
        return str(value)


def _id(name: str) -> Number:
    return Number(name, "path", 1, MAX_ID, 404)


def _page(where: str) -> Number:
    return Number("page", where, 1, MAX_PAGE, 422, "page")


_USERNAME = Number("username", "path", 1, 0, 404)  # a text id: no number names a vendor here
_ORDER_ID = Number("order_id", "path", 1, 0, 404)  # 32 hex digits: no number names an order
_PRICE_ATOMIC = Number("price_atomic", "json", 1, MAX_PRICE_ATOMIC, 422, "price_atomic")
_STOCK_JSON = Number("stock", "json", 0, STOCK_MAX, 422, "stock")
_FORM_PRICE = Number("price", "form", 1, MAX_PRICE_ATOMIC // PICONERO_PER_XMR, 422, "price")
_FORM_STOCK = Number("stock", "form", 0, STOCK_MAX, 422, "stock")


@dataclass(frozen=True)
class RouteCase:
    """A route's numbers and a request that reaches them: who sends it, and its other inputs."""

    numbers: tuple[Number, ...] = ()
    who: str = "vendor"  # vendor, admin, buyer, arbiter or anyone
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    upload: bool = False
    query: dict[str, str] = field(default_factory=dict)


_LISTING_FORM = {"title": "Lamp", "description": "Brass.", "price": "1", "stock": "1", "category": "home"}
_REASON = {"reason": "numbers"}
_ADMIN_LIST_FORM = {"reason": "numbers", "q": "", "hidden": "", "page": "1"}
_ADMIN_FORM_NUMBERS = (_id("user_id"), _page("form"))
# Ordering a listing that does not exist: each number is checked before the listing is looked up.
_NEW_ORDER = {"listing_id": MAX_ID, "quantity": 1, "refund_address": MAINNET_ADDRESS}
_DECISION = {"outcome": "split", "buyer_share_atomic": 0, "reason": "numbers"}
_NEW_LISTING = {"title": "Lamp", "description": "Brass.", "price_atomic": 10**12, "stock": 1, "category": "home"}

ROUTES: dict[str, RouteCase] = {
    "GET /health": RouteCase(),
    "GET /ready": RouteCase(),
    "HEAD /health": RouteCase(),
    "HEAD /ready": RouteCase(),
    "GET /metrics": RouteCase(),
    "POST /api/v1/accounts": RouteCase(),
    "POST /api/v1/tokens": RouteCase(),
    "DELETE /api/v1/tokens/current": RouteCase(),
    "GET /api/v1/me": RouteCase(),
    "PUT /api/v1/me/payout-address": RouteCase(),
    "PUT /api/v1/me/pgp-key": RouteCase(),
    "POST /api/v1/listings": RouteCase((_PRICE_ATOMIC, _STOCK_JSON), json=_NEW_LISTING),
    "GET /api/v1/listings": RouteCase(
        (_page("query"), Number("page_size", "query", 1, MAX_API_PAGE_SIZE, 422, "page_size")), who="anyone"
    ),
    "GET /api/v1/listings/{listing_id}": RouteCase((_id("listing_id"),), who="anyone"),
    "PATCH /api/v1/listings/{listing_id}": RouteCase(
        (_id("listing_id"), _PRICE_ATOMIC, _STOCK_JSON), json={"title": "Lamp"}
    ),
    "DELETE /api/v1/listings/{listing_id}": RouteCase((_id("listing_id"),)),
    "POST /api/v1/listings/{listing_id}/images": RouteCase((_id("listing_id"),), upload=True),
    "DELETE /api/v1/listings/{listing_id}/images/{image_id}": RouteCase((_id("listing_id"), _id("image_id"))),
    "POST /api/v1/orders": RouteCase(
        (
            Number("listing_id", "json", 1, MAX_ID, 422, "listing_id"),
            Number("quantity", "json", 1, STOCK_MAX, 422, "quantity"),
        ),
        who="buyer",
        json=_NEW_ORDER,
    ),
    "GET /api/v1/orders": RouteCase(
        (_page("query"), Number("page_size", "query", 1, MAX_API_PAGE_SIZE, 422, "page_size")), who="buyer"
    ),
    "GET /api/v1/orders/{order_id}": RouteCase((_ORDER_ID,), who="buyer"),
    "GET /api/v1/orders/{order_id}/payment-qr.svg": RouteCase((_ORDER_ID,), who="buyer"),
    "POST /api/v1/orders/{order_id}/ship": RouteCase((_ORDER_ID,), json={}),
    "POST /api/v1/orders/{order_id}/confirm": RouteCase((_ORDER_ID,), who="buyer", json={}),
    "POST /api/v1/orders/{order_id}/cancel": RouteCase((_ORDER_ID,), who="buyer", json={}),
    "POST /api/v1/orders/{order_id}/decline": RouteCase((_ORDER_ID,)),
    "POST /api/v1/orders/{order_id}/dispute": RouteCase((_ORDER_ID,), who="buyer", json={"reason": "numbers"}),
    "POST /api/v1/orders/{order_id}/claim": RouteCase((_ORDER_ID,), who="arbiter"),
    "POST /api/v1/orders/{order_id}/decision": RouteCase(
        (_ORDER_ID, Number("buyer_share_atomic", "json", 0, MAX_ORDER_ATOMIC, 422, "buyer_share_atomic")),
        who="arbiter",
        json=_DECISION,
    ),
    "POST /api/v1/orders/{order_id}/extend": RouteCase((_ORDER_ID,), who="buyer", json={}),
    "GET /api/v1/sales/summary": RouteCase(),
    "GET /api/v1/orders/{order_id}/messages": RouteCase((_ORDER_ID,), who="buyer"),
    "POST /api/v1/orders/{order_id}/messages": RouteCase((_ORDER_ID,), who="buyer", json={"text": "numbers"}),
    "POST /api/v1/orders/{order_id}/review": RouteCase(
        (_ORDER_ID, Number("rating", "json", 1, 5, 422, "rating")), who="buyer", json={"rating": 5, "text": "numbers"}
    ),
    "POST /api/v1/reviews/{review_id}/reply": RouteCase((_id("review_id"),), json={"text": "numbers"}),
    "GET /api/v1/notifications": RouteCase(
        (_page("query"), Number("page_size", "query", 1, MAX_API_PAGE_SIZE, 422, "page_size")), who="buyer"
    ),
    "POST /api/v1/notifications/read": RouteCase(who="buyer", json={"all": True}),
    "GET /api/v1/listings/{listing_id}/questions": RouteCase((_id("listing_id"),), who="buyer"),
    # A buyer naming a thread: any number names no thread of theirs (404), checked before the listing.
    "POST /api/v1/listings/{listing_id}/questions": RouteCase(
        (_id("listing_id"), Number("thread_id", "json", 1, 0, 404)), who="buyer", json={"text": "numbers"}
    ),
    "POST /api/v1/admin/users/{user_id}/suspend": RouteCase((_id("user_id"),), who="admin", json=_REASON),
    "POST /api/v1/admin/users/{user_id}/restore": RouteCase((_id("user_id"),), who="admin", json=_REASON),
    "POST /api/v1/admin/users": RouteCase(who="admin"),
    "POST /api/v1/admin/listings/{listing_id}/hide": RouteCase((_id("listing_id"),), who="admin", json=_REASON),
    "POST /api/v1/admin/listings/{listing_id}/restore": RouteCase((_id("listing_id"),), who="admin", json=_REASON),
    "GET /api/v1/admin/actions": RouteCase((_page("query"),), who="admin"),
    "GET /register": RouteCase(),
    "POST /register": RouteCase(),
    "GET /login": RouteCase(),
    "POST /login": RouteCase(),
    "POST /logout": RouteCase(),
    "GET /account": RouteCase(),
    "POST /account/profile": RouteCase(),
    "GET /account/password": RouteCase(),
    "POST /account/password": RouteCase(),
    "GET /account/delete": RouteCase(),
    "POST /account/delete": RouteCase(),
    "GET /account/two-factor": RouteCase(),
    "POST /account/two-factor": RouteCase(),
    "GET /account/two-factor/reset": RouteCase(),
    "POST /account/two-factor/reset": RouteCase(),
    "GET /account/sessions": RouteCase(),
    "POST /account/sessions/{session_id}/revoke": RouteCase((_id("session_id"),), form={}),
    "GET /account/tokens": RouteCase(),
    "POST /account/tokens": RouteCase(),
    "POST /account/tokens/{token_id}/revoke": RouteCase((_id("token_id"),), form={}),
    "GET /": RouteCase((_page("query"),), who="anyone"),
    "GET /listings/{listing_id}": RouteCase((_id("listing_id"),), who="anyone"),
    "GET /vendors/{username}": RouteCase((_USERNAME, _page("query")), who="anyone"),
    "GET /sell": RouteCase(),
    "GET /sell/new": RouteCase(),
    "POST /sell/new": RouteCase((_FORM_PRICE, _FORM_STOCK), form=_LISTING_FORM),
    "GET /listings/{listing_id}/edit": RouteCase((_id("listing_id"),)),
    "POST /listings/{listing_id}/edit": RouteCase((_id("listing_id"), _FORM_PRICE, _FORM_STOCK), form=_LISTING_FORM),
    "POST /listings/{listing_id}/pause": RouteCase((_id("listing_id"),), form={}),
    "POST /listings/{listing_id}/resume": RouteCase((_id("listing_id"),), form={}),
    "POST /listings/{listing_id}/delete": RouteCase((_id("listing_id"),), form={}),
    "POST /listings/{listing_id}/images/{image_id}/delete": RouteCase((_id("listing_id"), _id("image_id")), form={}),
    "GET /images/{image_id}": RouteCase((_id("image_id"),), who="anyone"),
    "GET /images/{image_id}/thumbnail": RouteCase((_id("image_id"),), who="anyone"),
    # A vendor buying: the quantity is checked, then the role refuses (403) whatever in-range number it is.
    "POST /listings/{listing_id}/buy": RouteCase(
        (_id("listing_id"), Number("quantity", "form", 1, STOCK_MAX, 422, "quantity")),
        form={"quantity": "1", "refund_address": MAINNET_ADDRESS},
    ),
    "GET /orders": RouteCase(who="buyer"),
    "GET /orders/{order_id}": RouteCase((_ORDER_ID,), who="buyer"),
    "GET /orders/{order_id}/pay": RouteCase((_ORDER_ID,), who="buyer"),
    "GET /orders/{order_id}/qr.svg": RouteCase((_ORDER_ID,), who="buyer"),
    "GET /orders/{order_id}/decision": RouteCase((_ORDER_ID,), who="arbiter"),
    "POST /orders/{order_id}/decision": RouteCase(
        (_ORDER_ID,), who="arbiter", form={"outcome": "split", "buyer_share": "0", "reason": "numbers"}
    ),
    "POST /orders/{order_id}/confirm": RouteCase((_ORDER_ID,), who="buyer", form={}),
    "POST /orders/{order_id}/cancel": RouteCase((_ORDER_ID,), who="buyer", form={}),
    "POST /orders/{order_id}/dispute": RouteCase((_ORDER_ID,), who="buyer", form=_REASON),
    "POST /orders/{order_id}/extend": RouteCase((_ORDER_ID,), who="buyer", form={}),
    "POST /orders/{order_id}/ship": RouteCase((_ORDER_ID,), form={}),
    "POST /orders/{order_id}/decline": RouteCase((_ORDER_ID,), form={}),
    "POST /orders/{order_id}/claim": RouteCase((_ORDER_ID,), who="arbiter", form={}),
    "GET /disputes": RouteCase(who="arbiter"),
    "GET /sales": RouteCase(),
    "GET /how-it-works": RouteCase(who="anyone"),
    "GET /orders/{order_id}/messages": RouteCase((_ORDER_ID,), who="buyer"),
    "POST /orders/{order_id}/messages": RouteCase((_ORDER_ID,), who="buyer", form={"text": "numbers"}),
    "GET /orders/{order_id}/review": RouteCase((_ORDER_ID,), who="buyer"),
    "POST /orders/{order_id}/review": RouteCase((_ORDER_ID,), who="buyer", form={"rating": "5", "text": "numbers"}),
    "POST /reviews/{review_id}/reply": RouteCase((_id("review_id"),), form={"text": "numbers"}),
    "GET /listings/{listing_id}/questions": RouteCase((_id("listing_id"),), who="buyer"),
    "POST /listings/{listing_id}/questions": RouteCase((_id("listing_id"),), who="buyer", form={"text": "numbers"}),
    "GET /pgp-keys/{username}": RouteCase((_USERNAME,), who="buyer"),
    "GET /notifications": RouteCase((_page("query"),), who="buyer"),
    "POST /notifications/read": RouteCase(who="buyer", form={}),
    "GET /admin": RouteCase(who="admin"),
    "GET /admin/users": RouteCase((_page("query"),), who="admin"),
    "POST /admin/users/{user_id}/suspend": RouteCase(_ADMIN_FORM_NUMBERS, who="admin", form=_ADMIN_LIST_FORM),
    "POST /admin/users/{user_id}/restore": RouteCase(_ADMIN_FORM_NUMBERS, who="admin", form=_ADMIN_LIST_FORM),
    "GET /admin/users/new": RouteCase(who="admin"),
    "POST /admin/users/new": RouteCase(who="admin"),
    "GET /admin/listings": RouteCase((_page("query"),), who="admin"),
    "POST /admin/listings/{listing_id}/hide": RouteCase(
        (_id("listing_id"), _page("form")), who="admin", form=_ADMIN_LIST_FORM
    ),
    "POST /admin/listings/{listing_id}/restore": RouteCase(
        (_id("listing_id"), _page("form")), who="admin", form=_ADMIN_LIST_FORM
    ),
    "GET /admin/actions": RouteCase((_page("query"),), who="admin"),
}
# Names that hold a number wherever a handler reads them.
_NUMBER_NAMES = {"page", "page_size", "price", "price_atomic", "stock"}


def _routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, APIRoute):
            for method in sorted(context.methods or ()):
                yield f"{method} {context.path}", context.route


def _declared(dependant: Dependant) -> Iterator[tuple[str, str, Any]]:
    """Every (where, name, annotation) a handler and its dependencies declare, body models opened up."""
    for param in dependant.path_params:
        yield "path", param.name, param.field_info.annotation
    for param in dependant.query_params:
        yield "query", param.name, param.field_info.annotation
    for param in dependant.body_params:
        annotation = param.field_info.annotation
        fields = getattr(annotation, "model_fields", None)
        if fields is None:
            yield "form", param.name, annotation
        else:
            for name, model_field in fields.items():
                yield "json", name, model_field.annotation
    for sub in dependant.dependencies:
        yield from _declared(sub)


def _is_number(name: str, annotation: Any) -> bool:
    return name in _NUMBER_NAMES or annotation is int or "int" in str(annotation).split(" | ")


def test_every_route_is_classified_with_every_number_it_reads(app: FastAPI) -> None:
    routes = dict(_routes(app))
    unclassified, gone = sorted(set(routes) - set(ROUTES)), sorted(set(ROUTES) - set(routes))
    assert not unclassified, f"classify these routes in ROUTES: {unclassified}"
    assert not gone, f"routes no longer served: {gone}"
    for key, route in routes.items():
        listed = {(number.where, number.name) for number in ROUTES[key].numbers}
        declared = {
            (where, name)
            for where, name, annotation in _declared(route.dependant)
            if where == "path" or _is_number(name, annotation)
        }
        assert declared <= listed, f"{key}: numbers not in ROUTES: {sorted(declared - listed)}"
    others = [getattr(route, "path", "") for route in app.routes if not isinstance(route, APIRoute)]
    assert set(others) - {""} <= {"/api/openapi.json", "/static"}, others  # the document, static files


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return ESCROW_SETTINGS  # ordering answers (the web process never calls the signers)


@dataclass
class Site:
    """Who sends the requests, and the rows a request needs besides the number under test."""

    clients: dict[str, SiteClient]
    tokens: dict[str, str]
    path_values: dict[str, str]


@pytest.fixture
def site(
    client: SiteClient,
    sign_up: Callable[..., Person],
    make_user: Callable[..., User],
    sign_in_as: Callable[[User], Person],
    make_listing: Callable[..., Listing],
) -> Site:
    vendor = sign_up(Role.VENDOR)
    admin = sign_in_as(make_user(Role.ADMIN))
    listing = make_listing(vendor.user)
    people = {
        "vendor": vendor.client,
        "admin": admin.client,
        "buyer": sign_up(Role.BUYER).client,
        "arbiter": sign_up(Role.ARBITER).client,
    }
    assert listing.id < _ROWS_BELOW
    return Site(
        clients={"anyone": client, **people},
        tokens={who: person.csrf_token("/account") for who, person in people.items()},
        # The other path parameters: the vendor's listing and name, ids of no row (nothing is changed).
        path_values={
            "listing_id": str(listing.id),
            "username": vendor.username,
            **dict.fromkeys(("image_id", "user_id", "session_id", "token_id", "review_id"), str(MAX_ID)),
            "order_id": "0" * 32,
        },
    )


def _send(site: Site, key: str, case: RouteCase, number: Number, text: str) -> Any:
    method, template = key.split(" ", 1)
    values = {**site.path_values, **({number.name: text} if number.where == "path" else {})}
    path = re.sub(r"\{(\w+)\}", lambda match: quote(values[match.group(1)], safe=""), template)
    browser = site.clients[case.who]
    query = {**case.query, **({number.name: text} if number.where == "query" else {})}
    if case.json is not None:
        body: Any = dict(case.json)
        if number.where == "json":
            body[number.name] = int(text)
        return browser.request(method, path, params=query, json=body)
    if case.form is not None:
        form = {**case.form, "csrf_token": site.tokens.get(case.who, "")}
        if number.where == "form":
            form[number.name] = text
        return browser.request(method, path, params=query, data=form)
    files = {"file": ("a.png", b"not an image", "image/png")} if case.upload else None
    return browser.request(method, path, params=query, files=files)


def _expect(key: str, number: Number, value: int | str, response: Any) -> None:
    where = f"{key} {number.where} {number.name}={str(value)[:40]!r}"
    assert response.status_code < 500, f"{where}: {response.status_code}"
    inside = isinstance(value, int) and number.minimum <= value <= number.maximum
    if inside:
        # Inside its range a number is never the reason for a refusal (an id may name no row: 404).
        if number.refusal == 422:
            assert response.status_code != 422, f"{where}: refused inside its range: {response.text[:300]}"
        return
    assert response.status_code == number.refusal, f"{where}: {response.status_code} {response.text[:300]}"
    if key.split(" ", 1)[1].startswith("/api/"):
        code = "not_found" if number.refusal == 404 else "invalid"
        assert_api_error(response, number.refusal, code, field=number.field)


def _away_from_rows(value: int) -> int:
    """An in-range id above the ids this test's rows may have (ids below stay as they are elsewhere)."""
    return value + MAX_ID // 2 if 1 <= value < _ROWS_BELOW else value


_INTEGERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=10**18, max_value=10**40),
)
# Text that is not a whole number written in ASCII digits; no "/" (a different path) and no dot segments.
_NOT_NUMBERS = st.text(min_size=1, max_size=12).filter(
    lambda text: not (text.isascii() and text.isdigit()) and "/" not in text and text not in (".", "..")
)
_NUMBERED = [(key, case, number) for key, case in ROUTES.items() for number in case.numbers]


def _check_number(site: Site, key: str, case: RouteCase, number: Number) -> None:
    def check(value: int) -> None:
        if number.where == "path" and number.maximum:
            value = _away_from_rows(value)
        _expect(key, number, value, _send(site, key, case, number, number.text(value)))

    for edge in EDGES:
        check(edge)
    _EXAMPLES(given(_INTEGERS)(check))()
    if number.where == "path":

        @_EXAMPLES
        @given(_NOT_NUMBERS)
        def not_a_number(text: str) -> None:
            _expect(key, number, text, _send(site, key, case, number, text))

        not_a_number()


@pytest.mark.parametrize("where", ["path", "query", "form", "json"])
def test_every_number_of_every_route_is_bounded(site: Site, where: str) -> None:
    checked = 0
    for key, case, number in _NUMBERED:
        if number.where == where:
            _check_number(site, key, case, number)
            checked += 1
    assert checked >= {"path": 20, "query": 6, "form": 8, "json": 4}[where]


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/admin/users?page=" + "9" * 31, None),
        ("/api/v1/listings/abc", "listing"),
    ],
)
def test_the_examples_of_the_issue(site: Site, path: str, what: str | None) -> None:
    response = site.clients["admin"].get(path)
    if what is None:
        assert response.status_code == 422
        assert "The page is a whole number from 1 to 1,000,000." in response.text
    else:
        assert_api_error(response, 404, "not_found", message=f"There is no such {what}.")
    suspended = site.clients["admin"].post(
        "/api/v1/admin/users/99999999999999999999999/suspend", json={"reason": "numbers"}
    )
    assert_api_error(suspended, 404, "not_found", message="There is no such account.")


def test_a_stranger_is_asked_to_sign_in_before_an_impossible_id_is_answered(client: SiteClient) -> None:
    for method, path in (
        ("POST", "/api/v1/admin/users/abc/suspend"),
        ("DELETE", f"/api/v1/listings/{10**30}"),
        ("PATCH", "/api/v1/listings/-1"),
    ):
        response = client.request(method, path, json={"reason": "numbers"} if method == "POST" else {})
        assert_api_error(response, 401, "not_authenticated")
