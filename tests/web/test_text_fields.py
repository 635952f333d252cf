"""Every text field of every route, API JSON and page forms, takes any text without a 5xx.

Hypothesis sends each field text mixing lone surrogates, NUL, control characters, zero width
characters, bidirectional overrides and ordinary letters, with the rest of the request valid.
What a field's kind must refuse (``_MUST_REFUSE``) is refused with a 4xx (422 naming the field
in the API); whatever is accepted is stored as valid, visible text (``_assert_stored_text_is_valid``
reads every stored text column back after the examples). The tables below must name every
route with a text field: a route added later fails ``test_the_tables_cover_every_text_field``
until it is listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from marketplace.accounts.models import ApiToken, Role, User
from marketplace.admin.models import ModerationAction
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.listings.models import Listing
from marketplace.messages.models import OrderMessage, QuestionMessage
from marketplace.orders import states
from marketplace.orders.models import EventActor, Order, OrderEvent
from marketplace.reviews.models import Review
from marketplace.settings import Settings
from marketplace.text import TextKind, require_visible, valid_text
from tests.support.client import SiteClient
from tests.support.escrow import ESCROW_SETTINGS
from tests.support.factories import DEFAULT_PASSWORD, MAINNET_ADDRESS, Person

_EXAMPLES = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)
STRONG_PASSWORD = "Quiet-Harbour-Lantern-42"
PGP_KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----"

_TRICKY = [
    "\x00",
    "\ud800",
    "\udfff",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\t",
    "\n",
    "\r",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u202e",
    "\u2066",
    "\u2028",
    "\ufeff",
    "\u00ad",
    "\u3164",
    "\U000e0041",
    "\ufffe",
    "\u0301",
    "e\u0301",
    "\u00a0",
    " ",
    "\u2800",
]
_CHARACTER = st.one_of(
    st.sampled_from(_TRICKY),
    st.sampled_from("aZ7-_.é😀م"),
    st.characters(exclude_categories=()),  # any code point, surrogates included
)
TEXT = st.one_of(
    st.lists(_CHARACTER, max_size=24).map("".join),
    st.tuples(st.sampled_from(["Brass lamp", "ok"]), st.sampled_from(_TRICKY)).map("".join),
    st.sampled_from(_TRICKY),
)

# Must be refused in every field of the kind, whatever else the text holds.
_BIDI_AND_BOM = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_MUST_REFUSE: dict[str, Callable[[str], bool]] = {
    "line": lambda text: bool(re.search(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200b{_BIDI_AND_BOM}]", text)),
    "multiline": lambda text: bool(
        re.search(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_BIDI_AND_BOM}]", text)
    ),
    "ascii": lambda text: bool(text.strip()) and not re.fullmatch(r"[\t\n\r\x20-\x7e]*", text),
    "username": lambda text: not re.fullmatch(r"[A-Za-z0-9_.-]{3,32}", text.strip()),
    "address": lambda text: bool(text.strip()) and not re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{95}", text.strip()),
    # Passwords, codes, choices, page numbers, search terms: any answer but a 5xx.
    "any": lambda _text: False,
}


@dataclass
class TextForm:
    """One route with text fields: who sends it, a valid request, and the kind of each text field."""

    method: str
    path: str
    actor: str  # anonymous, buyer, vendor, arbiter or admin
    base: dict[str, Any]
    kinds: dict[str, str]
    # Fields sent as they are (the password stays right after a successful change, say).
    after_success: Callable[[dict[str, Any], str, str], None] | None = field(default=None)


def _new_password_kept(base: dict[str, Any], name: str, value: str) -> None:
    if name == "new_password":
        base["current_password"] = value


API_FORMS = [
    TextForm(
        "POST",
        "/api/v1/accounts",
        "anonymous",
        {"username": "newcomer", "password": STRONG_PASSWORD, "role": "buyer"},
        {"username": "username", "password": "any", "role": "any"},
    ),
    TextForm(
        "POST",
        "/api/v1/tokens",
        "anonymous",
        {"username": "{vendor_name}", "password": "not-the-password-1", "name": "laptop"},
        {"username": "any", "password": "any", "totp_code": "any", "name": "line"},
    ),
    TextForm(
        "PUT",
        "/api/v1/me/payout-address",
        "vendor",
        {"address": MAINNET_ADDRESS, "password": DEFAULT_PASSWORD},
        {"address": "address", "password": "any", "totp_code": "any"},
    ),
    TextForm(
        "PUT",
        "/api/v1/me/pgp-key",
        "vendor",
        {"pgp_key": PGP_KEY, "password": DEFAULT_PASSWORD},
        {"pgp_key": "ascii", "password": "any", "totp_code": "any"},
    ),
    TextForm(
        "POST",
        "/api/v1/listings",
        "vendor",
        {"title": "Lamp", "description": "Bright.", "price_atomic": 10**12, "stock": 1, "category": "other"},
        {"title": "line", "description": "multiline", "description_format": "any", "category": "any"},
    ),
    TextForm(
        "PATCH",
        "/api/v1/listings/{listing}",
        "vendor",
        {},
        {"title": "line", "description": "multiline", "description_format": "any", "category": "any", "status": "any"},
    ),
    TextForm(
        "POST",
        "/api/v1/orders",
        "buyer",
        {"listing_id": "#listing", "quantity": 1, "refund_address": MAINNET_ADDRESS},
        {"refund_address": "address", "shipping_info": "multiline"},
    ),
    TextForm("POST", "/api/v1/orders/{funded}/ship", "vendor", {}, {"note": "multiline"}),
    TextForm("POST", "/api/v1/orders/{funded}/confirm", "buyer", {}, {"totp_code": "any"}),
    TextForm("POST", "/api/v1/orders/{funded}/cancel", "buyer", {}, {}),
    TextForm("POST", "/api/v1/orders/{funded}/dispute", "buyer", {"reason": "late"}, {"reason": "multiline"}),
    TextForm(
        "POST",
        "/api/v1/orders/{disputed}/decision",
        "arbiter",
        {"outcome": "refund", "reason": "ok"},
        {"outcome": "any", "reason": "multiline", "totp_code": "any"},
    ),
    TextForm("POST", "/api/v1/orders/{funded}/messages", "buyer", {"text": "hi"}, {"text": "multiline"}),
    # Not completed: the text is checked (422 naming it) before the order's state (409).
    TextForm("POST", "/api/v1/orders/{funded}/review", "buyer", {"rating": 5, "text": "ok"}, {"text": "multiline"}),
    # No such review: the text is checked (422 naming it) before the review is looked up (404).
    TextForm("POST", "/api/v1/reviews/{review}/reply", "vendor", {"text": "thanks"}, {"text": "multiline"}),
    TextForm("POST", "/api/v1/notifications/read", "buyer", {"all": True}, {}),
    TextForm("POST", "/api/v1/listings/{listing}/questions", "buyer", {"text": "new?"}, {"text": "multiline"}),
    TextForm("POST", "/api/v1/admin/users/{buyer}/suspend", "admin", {"reason": "spam"}, {"reason": "multiline"}),
    TextForm("POST", "/api/v1/admin/users/{buyer}/restore", "admin", {"reason": "ok"}, {"reason": "multiline"}),
    TextForm(
        "POST",
        "/api/v1/admin/users",
        "admin",
        {"username": "staffer", "password": STRONG_PASSWORD, "role": "arbiter"},
        {"username": "username", "password": "any", "role": "any"},
    ),
    TextForm("POST", "/api/v1/admin/listings/{listing}/hide", "admin", {"reason": "fake"}, {"reason": "multiline"}),
    TextForm("POST", "/api/v1/admin/listings/{listing}/restore", "admin", {"reason": "ok"}, {"reason": "multiline"}),
]

_LISTING_FORM = {"title": "Lamp", "description": "Bright.", "price": "1", "stock": "1", "category": "other"}
_LISTING_KINDS = {
    "title": "line",
    "description": "multiline",
    "description_format": "any",
    "price": "any",
    "stock": "any",
    "category": "any",
}
PAGE_FORMS = [
    TextForm(
        "POST",
        "/register",
        "anonymous",
        {"username": "newcomer", "password": STRONG_PASSWORD, "role": "buyer"},
        {"username": "username", "password": "any", "role": "any"},
    ),
    TextForm(
        "POST",
        "/login",
        "anonymous",
        {"username": "{vendor_name}", "password": "not-the-password-1"},
        {"username": "any", "password": "any", "totp_code": "any", "next": "any"},
    ),
    TextForm(
        "POST",
        "/account/profile",
        "vendor",
        {"pgp_key": PGP_KEY, "payout_address": MAINNET_ADDRESS, "password": DEFAULT_PASSWORD},
        {"pgp_key": "ascii", "payout_address": "address", "password": "any", "totp_code": "any"},
    ),
    TextForm(
        "POST",
        "/account/password",
        "vendor",
        {"current_password": DEFAULT_PASSWORD, "new_password": STRONG_PASSWORD},
        {"current_password": "any", "new_password": "any", "totp_code": "any"},
        after_success=_new_password_kept,
    ),
    TextForm(
        "POST",
        "/account/delete",
        "vendor",
        {"password": "not-the-password-1", "confirm_username": "{vendor_name}"},
        {"password": "any", "confirm_username": "any", "totp_code": "any"},
    ),
    TextForm(
        "POST",
        "/account/two-factor",
        "vendor",
        {"action": "verify", "totp_code": "000000"},
        {"action": "any", "totp_code": "any", "password": "any"},
    ),
    TextForm(
        "POST",
        "/account/two-factor/reset",
        "anonymous",
        {"username": "{vendor_name}", "password": "not-the-password-1", "recovery_code": "abcd-efgh-ijkl-mnop"},
        {"username": "any", "password": "any", "recovery_code": "any"},
    ),
    TextForm(
        "POST",
        "/account/tokens",
        "vendor",
        {"name": "laptop", "password": DEFAULT_PASSWORD},
        {"name": "line", "password": "any", "totp_code": "any"},
    ),
    TextForm("POST", "/orders/{funded}/messages", "buyer", {"text": "hi"}, {"text": "multiline"}),
    TextForm(
        "POST",
        "/orders/{funded}/review",
        "buyer",
        {"rating": "5", "text": "ok"},
        {"rating": "any", "text": "multiline"},
    ),
    TextForm("POST", "/reviews/{review}/reply", "vendor", {"text": "thanks"}, {"text": "multiline"}),
    TextForm(
        "POST", "/listings/{listing}/questions", "buyer", {"text": "new?"}, {"text": "multiline", "thread_id": "any"}
    ),
    TextForm("POST", "/sell/new", "vendor", _LISTING_FORM, _LISTING_KINDS),
    TextForm("POST", "/listings/{listing}/edit", "vendor", _LISTING_FORM, _LISTING_KINDS),
    TextForm(
        "POST",
        "/admin/users/{buyer}/suspend",
        "admin",
        {"reason": "spam"},
        {"reason": "multiline", "q": "any", "page": "any"},
    ),
    TextForm(
        "POST",
        "/admin/users/{buyer}/restore",
        "admin",
        {"reason": "ok"},
        {"reason": "multiline", "q": "any", "page": "any"},
    ),
    TextForm(
        "POST",
        "/admin/users/new",
        "admin",
        {"username": "staffer", "password": STRONG_PASSWORD, "role": "arbiter"},
        {"username": "username", "password": "any", "role": "any"},
    ),
    TextForm(
        "POST",
        "/admin/listings/{listing}/hide",
        "admin",
        {"reason": "fake"},
        {"reason": "multiline", "hidden": "any", "page": "any"},
    ),
    TextForm(
        "POST",
        "/admin/listings/{listing}/restore",
        "admin",
        {"reason": "ok"},
        {"reason": "multiline", "hidden": "any", "page": "any"},
    ),
]
# Text read from the URL: (path, query parameter or None for the path itself, actor).
URL_TEXT = [
    ("/", "q", "anonymous"),
    ("/", "q", "vendor"),
    ("/api/v1/listings", "q", "anonymous"),
    ("/api/v1/listings", "category", "anonymous"),
    ("/admin/users", "q", "admin"),
    ("/login", "next", "anonymous"),
    ("/vendors/{text}", None, "anonymous"),
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Hypothesis examples share one database: their failed sign-ins must not throttle the next ones.
    # Escrow is configured so that ordering answers (the web process never calls the signers).
    return {
        **ESCROW_SETTINGS,
        "login_max_failures_per_account": 100_000,
        "login_max_failures_per_address": 100_000,
        "login_max_failures_per_account_address": 100_000,
        "registration_max_per_address": 100_000,
    }


@dataclass
class Actors:
    people: dict[str, Person | None]
    ids: dict[str, str]


def _order(database: Database, settings: Settings, buyer: User, listing: Listing, *, disputed: bool) -> str:
    """An order of ``listing`` by ``buyer``, funded (and disputed), moved as the worker would."""
    with database.session() as session:
        request = states.NewOrder(listing_id=listing.id, quantity=1, refund_address=MAINNET_ADDRESS)
        order_id = states.place(session, settings, session.get(User, buyer.id), request, utcnow())
        states.escrow_ready(session, order_id, states.WORKER, utcnow(), address=f"escrow-{order_id}")
        amount = session.get(Order, order_id).amount_atomic
        paid = states.SeenPayment(txid="ab" * 32, amount_atomic=amount, confirmations=settings.confirmations)
        states.record_payments(session, order_id, states.WORKER, utcnow(), payments=[paid], height=1)
        if disputed:
            buyer_actor = states.Actor(EventActor.BUYER, buyer.id)
            states.dispute(session, order_id, buyer_actor, utcnow(), reason="Nothing came.")
    return order_id


@pytest.fixture
def actors(  # noqa: PLR0917  (pytest passes fixtures by name)
    database: Database,
    settings: Settings,
    make_user: Callable[..., User],
    sign_in_as: Callable[[User], Person],
    make_client: Callable[[], SiteClient],
    make_listing: Callable[..., Listing],
) -> Actors:
    vendor = sign_in_as(make_user(Role.VENDOR))
    with database.session() as session:
        session.get(User, vendor.user.id).payout_address = MAINNET_ADDRESS
    admin = sign_in_as(make_user(Role.ADMIN))
    buyer = make_user(Role.BUYER)
    listing = make_listing(vendor=vendor.user, stock=100)
    anonymous = Person(user=buyer, client=make_client())
    ordering = sign_in_as(make_user(Role.BUYER))
    return Actors(
        people={
            "vendor": vendor,
            "admin": admin,
            "anonymous": anonymous,
            "buyer": ordering,
            "arbiter": sign_in_as(make_user(Role.ARBITER)),
        },
        ids={
            "listing": str(listing.id),
            "buyer": str(buyer.id),
            "vendor_name": vendor.username,
            "funded": _order(database, settings, ordering.user, listing, disputed=False),
            "disputed": _order(database, settings, ordering.user, listing, disputed=True),
            "review": "1",
        },
    )


def _filled(value: Any, actors: Actors) -> Any:
    if isinstance(value, str) and value.startswith("#"):  # a number: "#listing" is the listing's id
        return int(actors.ids[value[1:]])
    return value.format(**actors.ids) if isinstance(value, str) else value


def _client(actors: Actors, who: str) -> SiteClient:
    person = actors.people[who]
    assert person is not None
    return person.client


def _send_json(client: SiteClient, method: str, path: str, body: dict[str, Any]) -> Any:
    # json.dumps writes a lone surrogate as its \\ud800 escape, as a client's JSON library would.
    return client.request(method, path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def _wire_bytes(text: str) -> str:
    """``text`` percent-encoded as a browser sends it (a lone surrogate as the bytes it would have)."""
    return quote_plus(text.encode("utf-8", "surrogatepass"))


def _as_received(text: str) -> str:
    """What the server reads from a form field sent as ``_wire_bytes``: invalid UTF-8 becomes U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _send_form(client: SiteClient, path: str, fields: dict[str, str], csrf_page: str) -> Any:
    fields = {"csrf_token": client.csrf_token(csrf_page), **fields}
    content = "&".join(f"{quote_plus(name)}={_wire_bytes(value)}" for name, value in fields.items())
    return client.post(path, content=content, headers={"Content-Type": "application/x-www-form-urlencoded"})


_STORED_TEXT = [
    (User.username, "username"),
    (User.pgp_key, "ascii"),
    (User.payout_address, "address"),
    (Listing.title, "line"),
    (Listing.description, "multiline"),
    (ApiToken.name, "line"),
    (ModerationAction.reason, "multiline"),
    (Order.ship_note, "multiline"),
    (Order.dispute_reason, "multiline"),
    (Order.decision_reason, "multiline"),
    (OrderEvent.reason, "multiline"),
    (OrderMessage.text, "multiline"),
    (QuestionMessage.text, "multiline"),
    (Review.text, "multiline"),
    (Review.reply_text, "multiline"),
]
_KINDS = {"line": TextKind.LINE, "multiline": TextKind.MULTILINE}


def _assert_stored_text_is_valid(database: Database) -> None:
    with database.session() as session:
        for column, kind in _STORED_TEXT:
            for value in session.scalars(select(column)):
                if value is None:
                    continue
                assert not _MUST_REFUSE[kind](value), (column, value)
                if kind in _KINDS:
                    assert valid_text(value, _KINDS[kind], field="f", label="f") == value, (column, value)
                    require_visible(value, _KINDS[kind], field="f", label="f")


def _string_fields(app: FastAPI, schema_ref: dict[str, Any]) -> set[str]:
    schemas = app.openapi()["components"]["schemas"]
    schema = schemas[schema_ref["$ref"].rsplit("/", 1)[1]]
    fields = set()
    for name, rules in schema["properties"].items():
        kinds = [rules, *rules.get("anyOf", [])]
        kinds = [schemas[kind["$ref"].rsplit("/", 1)[1]] if "$ref" in kind else kind for kind in kinds]
        if any(kind.get("type") == "string" for kind in kinds):
            fields.add(name)
    return fields


def _page_form_fields(app: FastAPI) -> dict[str, set[str]]:
    """Every page POST route with the form fields it declares (the listing forms read theirs by hand)."""
    found = {}
    for context in iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, APIRoute) and "POST" in route.methods and not context.path.startswith("/api/"):
            found[context.path] = {param.name for param in route.dependant.body_params}
    return found


def test_the_tables_cover_every_text_field(app: FastAPI) -> None:
    document = app.openapi()
    json_routes = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                json_routes[(method.upper(), path)] = _string_fields(app, content["application/json"]["schema"])
    placeholders = {
        "{listing}": "{listing_id}",
        "{buyer}": "{user_id}",
        "{funded}": "{order_id}",
        "{disputed}": "{order_id}",
        "{review}": "{review_id}",
    }

    def documented(path: str) -> str:
        for mine, theirs in placeholders.items():
            path = path.replace(mine, theirs)
        return path

    listed = {(form.method, documented(form.path)): set(form.kinds) for form in API_FORMS}
    assert listed == json_routes

    pages = {documented(form.path): set(form.kinds) for form in PAGE_FORMS}
    for path, fields in _page_form_fields(app).items():
        if fields:
            assert pages.get(path) == fields, path
    assert set(_LISTING_KINDS) == {"title", "description", "description_format", "price", "stock", "category"}
    assert {"/sell/new", "/listings/{listing_id}/edit"} <= set(pages)


def _api_ids(form: TextForm) -> list[str]:
    return [f"{form.method} {form.path} {name}" for name in form.kinds]


@pytest.mark.parametrize(
    ("form", "name"),
    [(form, name) for form in API_FORMS for name in form.kinds],
    ids=[case for form in API_FORMS for case in _api_ids(form)],
)
def test_api_text_fields_take_any_text(database: Database, actors: Actors, form: TextForm, name: str) -> None:
    client = _client(actors, form.actor)
    path = _filled(form.path, actors)
    base = {key: _filled(value, actors) for key, value in form.base.items()}

    @_EXAMPLES
    @given(TEXT)
    def send(text: str) -> None:
        response = _send_json(client, form.method, path, {**base, name: text})
        assert response.status_code < 500, (text, response.text)
        if _MUST_REFUSE[form.kinds[name]](text):
            assert 400 <= response.status_code < 500, (text, response.text)
            if response.status_code == 422:
                assert response.json().get("field") == name, (text, response.text)

    send()
    _assert_stored_text_is_valid(database)


@pytest.mark.parametrize(
    ("form", "name"),
    [(form, name) for form in PAGE_FORMS for name in form.kinds],
    ids=[f"{form.path} {name}" for form in PAGE_FORMS for name in form.kinds],
)
def test_page_form_fields_take_any_text(database: Database, actors: Actors, form: TextForm, name: str) -> None:
    client = _client(actors, form.actor)
    path = _filled(form.path, actors)
    base = {key: _filled(value, actors) for key, value in form.base.items()}
    csrf_page = "/login" if form.actor == "anonymous" else "/account"
    if form.path == "/account/two-factor":
        _send_form(client, path, {"action": "enrol"}, csrf_page)  # so that "verify" reads the code

    @_EXAMPLES
    @given(TEXT)
    def send(text: str) -> None:
        response = _send_form(client, path, {**base, name: text}, csrf_page)
        assert response.status_code < 500, (text, response.text[:300])
        if _MUST_REFUSE[form.kinds[name]](_as_received(text)):
            assert 400 <= response.status_code < 500, (text, response.status_code)
        elif response.status_code == 303 and form.after_success is not None:
            form.after_success(base, name, _as_received(text))

    send()
    _assert_stored_text_is_valid(database)


@pytest.mark.parametrize(("path", "parameter", "actor"), URL_TEXT)
def test_text_in_urls_is_cleaned_or_refused_never_an_error(
    actors: Actors, path: str, parameter: str | None, actor: str
) -> None:
    client = _client(actors, actor)

    @_EXAMPLES
    @given(TEXT)
    def visit(text: str) -> None:
        if parameter is None:
            url = path.format(text=_wire_bytes(text).replace("+", "%20"))
        else:
            url = f"{path}?{parameter}={_wire_bytes(text)}"
        response = client.get(url)
        assert response.status_code < 500, (text, response.text[:300])

    visit()
