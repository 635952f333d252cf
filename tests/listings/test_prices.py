"""XMR amounts as vendors type them: one exact form, parsed with integer arithmetic, never rounded.

The accepted form (``amounts.PRICE_PATTERN``): ASCII digits, optionally a point and 1 to 12
digits, spaces around. ``_reference_piconero`` below is an independent, character-by-character
integer computation of the same rule; the parser must agree with it on every text.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.errors import InvalidInput
from marketplace.monero.amounts import MAX_PRICE_ATOMIC, PICONERO_PER_XMR, PRICE_PATTERN, format_xmr, parse_xmr
from tests.support.factories import Person

prices = st.integers(min_value=1, max_value=MAX_PRICE_ATOMIC)
_DIGITS = "0123456789"
# Characters a person (or a scanner) may type in a price field: separators, signs, exponents,
# other scripts' digits and spaces, mixed with plenty of plain digits and points.
_PRICE_LIKE = st.text(
    alphabet=st.sampled_from([*_DIGITS * 3, ".", ".", ",", " ", "+", "-", "_", "e", "E", "x", "\t", "\xa0", "١", "１"]),
    max_size=24,
)


def _reference_piconero(text: str) -> int | None:
    """The piconero ``text`` means under the rule, or None; digit by digit, no Decimal, no float, no re."""
    body = text.strip(" ")
    whole, point, fraction = body.partition(".")
    if not whole or any(char not in _DIGITS for char in whole + fraction):
        return None
    if point and not 1 <= len(fraction) <= 12:
        return None
    atomic = 0
    for char in whole + fraction.ljust(12, "0"):
        atomic = atomic * 10 + _DIGITS.index(char)
    return atomic if 1 <= atomic <= MAX_PRICE_ATOMIC else None


def _parsed(text: str) -> int | None:
    refusal: InvalidInput | None = None
    try:
        return parse_xmr(text, field="price")
    except InvalidInput as refused:
        refusal = refused
    assert refusal.field == "price"
    assert refusal.message
    return None


@settings(max_examples=500, deadline=None, derandomize=True)
@given(atomic=prices, zeros=st.integers(min_value=0, max_value=3), spaces=st.integers(min_value=0, max_value=2))
def test_every_price_in_the_range_written_out_parses_back_exactly(atomic: int, zeros: int, spaces: int) -> None:
    whole, fraction = divmod(atomic, PICONERO_PER_XMR)
    written = f"{whole}.{fraction:012d}"
    assert parse_xmr(written) == atomic
    assert parse_xmr(format_xmr(atomic)) == atomic
    assert parse_xmr(f"{' ' * spaces}{'0' * zeros}{format_xmr(atomic)}{' ' * spaces}") == atomic
    if fraction == 0:
        assert parse_xmr(str(whole)) == atomic


@settings(max_examples=500, deadline=None, derandomize=True)
@given(text=st.one_of(_PRICE_LIKE, st.text(max_size=30)))
def test_any_text_is_refused_or_means_exactly_what_integer_arithmetic_says(text: str) -> None:
    assert _parsed(text) == _reference_piconero(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,000", "for example 1000 or 0.25 (no commas)"),  # a thousand, or one? never guessed
        ("0,25", "no commas"),
        ("1 000", "no commas"),
        ("1_000", "no commas"),
        ("+1", "no commas"),
        ("-1", "no commas"),
        ("1e3", "no commas"),
        ("0x10", "no commas"),
        ("NaN", "no commas"),
        ("١٢", "no commas"),
        ("１２", "no commas"),
        (".5", "no commas"),
        ("5.", "no commas"),
        ("0.25 XMR", "no commas"),
        ("\t1", "no commas"),
        ("1\n", "no commas"),
        ("\xa01", "no commas"),
        ("", "no commas"),
        ("0.0000000000001", "at most 12 decimal places"),
        ("1.0000000000000", "at most 12 decimal places"),  # a 13th zero is refused, not rounded away
        ("0", "more than zero"),
        ("0.000000000000", "more than zero"),
        ("1000000.000000000001", r"at most 1000000.0 XMR"),
        ("9" * 5000, r"at most 1000000.0 XMR"),  # refused before any conversion of the digits
    ],
)
def test_a_refused_price_says_what_the_accepted_form_is(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_xmr(text)
    assert refused.value.field == "price"
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("text", "atomic"),
    [
        ("0.25", 250_000_000_000),
        ("1", PICONERO_PER_XMR),
        (" 1000 ", 1000 * PICONERO_PER_XMR),
        ("0001.5", 1_500_000_000_000),
        ("0.000000000001", 1),
        ("1000000", MAX_PRICE_ATOMIC),
        ("1000000.000000000000", MAX_PRICE_ATOMIC),
    ],
)
def test_accepted_prices(text: str, atomic: int) -> None:
    assert parse_xmr(text) == atomic


def test_formatting_examples() -> None:
    assert format_xmr(1_500_000_000_000) == "1.5"
    assert format_xmr(PICONERO_PER_XMR) == "1.0"
    assert format_xmr(1) == "0.000000000001"


def _price_input(page: str) -> dict[str, str]:
    match = re.search(r'<input type="text" name="price"([^>]*)>', page)
    assert match, "no price field"
    return {name: html.unescape(value) for name, value in re.findall(r'([a-z-]+)="([^"]*)"', match.group(1))}


def test_the_form_tells_the_browser_the_same_rule(vendor: Person) -> None:
    field = _price_input(vendor.client.get("/sell/new").text)

    assert field["pattern"] == PRICE_PATTERN
    assert "1000 or 0.25" in field["title"]
    # inputmode="decimal" shows a comma-only keypad in comma locales, where no accepted price could be typed.
    assert "inputmode" not in field
    assert int(field["maxlength"]) >= len(format_xmr(1)) + 2


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.one_of(_PRICE_LIKE, st.text(max_size=20)))
def test_the_browser_pattern_lets_through_exactly_the_texts_of_the_accepted_form(text: str) -> None:
    # The browser matches the whole value against the pattern (HTML: ^(?:pattern)$); the server
    # may still refuse a well-formed price for its range (zero, above the highest price).
    browser_accepts = re.fullmatch(PRICE_PATTERN, text) is not None
    assert browser_accepts == (not _refused_for_its_form(text)), text


def _refused_for_its_form(text: str) -> bool:
    try:
        parse_xmr(text)
    except InvalidInput as refused:
        return not refused.message.startswith("The price must be")
    return False


def test_a_comma_price_from_the_form_is_refused_and_nothing_is_published(vendor: Person) -> None:
    form = {"title": "Mug", "description": "Blue.", "description_format": "plain", "stock": "1", "category": "home"}

    refused = vendor.client.submit("/sell/new", "/sell/new", {**form, "price": "1,000"})

    assert refused.status_code == 422
    assert "for example 1000 or 0.25 (no commas)" in refused.text
    assert 'value="1,000"' in refused.text
    assert "You have no listings yet" in vendor.client.get("/sell").text
    published = vendor.client.submit("/sell/new", "/sell/new", {**form, "price": "1000"})
    assert published.status_code == 303
    listing_path = published.headers["location"].partition("?")[0]
    listing = vendor.client.get(f"/api/v1{listing_path}").json()
    assert listing["price_atomic"] == 1000 * PICONERO_PER_XMR
