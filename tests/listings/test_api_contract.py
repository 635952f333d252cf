"""The OpenAPI document states the listing rules the server enforces, no looser and no stricter at the edges."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.listings.models import CATEGORIES
from marketplace.monero.amounts import MAX_PRICE_ATOMIC
from tests.listings.conftest import listing_body
from tests.support.api import assert_api_error
from tests.support.factories import Person

_EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)


def _rules(app: FastAPI, schema: str, field: str) -> dict[str, Any]:
    found: dict[str, Any] = app.openapi()["components"]["schemas"][schema]["properties"][field]
    return found


@pytest.mark.parametrize("schema", ["ListingCreate", "ListingPatch"])
def test_the_document_states_the_listing_rules(app: FastAPI, schema: str) -> None:
    assert _rules(app, schema, "title")["maxLength"] == 120
    assert _rules(app, schema, "description")["maxLength"] == 20_000
    assert {k: _rules(app, schema, "price_atomic")[k] for k in ("minimum", "maximum")} == {
        "minimum": 1,
        "maximum": MAX_PRICE_ATOMIC,
    }
    assert {k: _rules(app, schema, "stock")[k] for k in ("minimum", "maximum")} == {"minimum": 0, "maximum": 1_000_000}
    assert _rules(app, schema, "category")["enum"] == list(CATEGORIES)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price_atomic", 1),
        ("price_atomic", MAX_PRICE_ATOMIC),
        ("stock", 0),
        ("stock", 1_000_000),
        ("title", "t" * 120),
        ("description", "d" * 20_000),
        *[("category", key) for key in CATEGORIES],
    ],
)
def test_every_edge_the_document_allows_is_accepted(vendor: Person, field: str, value: Any) -> None:
    response = vendor.client.post("/api/v1/listings", json=listing_body(**{field: value}))
    assert response.status_code == 201, response.text
    assert response.json()[field] == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price_atomic", 0),
        ("price_atomic", MAX_PRICE_ATOMIC + 1),
        ("stock", -1),
        ("stock", 1_000_001),
        ("title", "t" * 121),
        ("title", "   "),
        ("title", "tab\there"),
        ("description", "d" * 20_001),
        ("description", "\n\n"),
        ("description", "bell\x07"),
        ("title", "\u0085"),  # white space to str.strip(), not to ECMA's \s
        ("description", "\u3000\n"),
        ("category", "weapons"),
    ],
)
def test_every_value_the_document_refuses_is_refused_naming_the_field(
    app: FastAPI, vendor: Person, field: str, value: Any
) -> None:
    rules = _rules(app, "ListingCreate", field)
    if isinstance(value, str):
        documented_ok = (
            rules.get("minLength", 0) <= len(value) <= rules.get("maxLength", len(value))
            and re.search(rules.get("pattern", ""), value) is not None
            and value in rules.get("enum", [value])
        )
    else:
        documented_ok = rules["minimum"] <= value <= rules["maximum"]
    assert not documented_ok, f"the document allows {value!r} for {field}"
    assert_api_error(
        vendor.client.post("/api/v1/listings", json=listing_body(**{field: value})), 422, "invalid", field=field
    )


def _documented_text(app: FastAPI, field: str) -> st.SearchStrategy[str]:
    rules = _rules(app, "ListingCreate", field)
    return st.from_regex(re.compile(rules["pattern"]), fullmatch=True).filter(
        lambda text: rules["minLength"] <= len(text) <= rules["maxLength"]
    )


@pytest.mark.parametrize("field", ["title", "description"])
def test_every_text_the_document_allows_is_accepted(app: FastAPI, vendor: Person, field: str) -> None:
    @_EXAMPLES
    @given(_documented_text(app, field))
    def create(text: str) -> None:
        response = vendor.client.post("/api/v1/listings", json=listing_body(**{field: text}))
        assert response.status_code == 201, (text, response.text)
        patched = vendor.client.patch(f"/api/v1/listings/{response.json()['id']}", json={field: text})
        assert patched.status_code == 200, (text, patched.text)

    create()


def test_the_patch_document_shows_no_null_and_the_server_refuses_it(app: FastAPI, vendor: Person) -> None:
    listing = vendor.client.post("/api/v1/listings", json=listing_body()).json()["id"]
    for field, rules in app.openapi()["components"]["schemas"]["ListingPatch"]["properties"].items():
        assert "null" not in str(rules), (field, rules)
        refused = vendor.client.patch(f"/api/v1/listings/{listing}", json={field: None})
        assert_api_error(refused, 422, "invalid", field=field)
