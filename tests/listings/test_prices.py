"""XMR amounts as vendors type them: exact decimal text to integer piconero and back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.errors import InvalidInput
from marketplace.monero.amounts import MAX_PRICE_ATOMIC, PICONERO_PER_XMR, format_xmr, parse_xmr

prices = st.integers(min_value=1, max_value=MAX_PRICE_ATOMIC)


@settings(max_examples=300, deadline=None)
@given(atomic=prices)
def test_formatting_then_parsing_gives_back_the_same_piconero(atomic: int) -> None:
    text = format_xmr(atomic)
    assert parse_xmr(text) == atomic
    assert parse_xmr(f" {text} XMR ") == atomic
    assert parse_xmr(text.replace(".", ",")) == atomic


@settings(max_examples=300, deadline=None)
@given(whole=st.integers(min_value=0, max_value=999_999), fraction=st.text(alphabet="0123456789", max_size=12))
def test_any_decimal_with_up_to_twelve_places_parses_exactly(whole: int, fraction: str) -> None:
    text = f"{whole}.{fraction}" if fraction else str(whole)
    expected = whole * PICONERO_PER_XMR + int((fraction or "0").ljust(12, "0"))
    if expected == 0:
        with pytest.raises(InvalidInput):
            parse_xmr(text)
        return
    assert parse_xmr(text) == expected
    assert parse_xmr(format_xmr(expected)) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30))
def test_arbitrary_text_parses_or_is_refused_by_field(text: str) -> None:
    refusal: InvalidInput | None = None
    try:
        atomic = parse_xmr(text, field="price")
    except InvalidInput as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.field == "price"
        assert refusal.message
    else:
        assert 0 < atomic <= MAX_PRICE_ATOMIC
        assert parse_xmr(format_xmr(atomic)) == atomic


@pytest.mark.parametrize(
    "text",
    ["", " ", "0", "0.0", "-1", "+1", "1e3", "1.2.3", "abc", "0.0000000000001", "NaN", "inf", "1 000", "0x10", "1_000"],
)
def test_not_a_price(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_xmr(text)
    assert refused.value.field == "price"


def test_limits_and_examples() -> None:
    assert parse_xmr("0.25") == 250_000_000_000
    assert parse_xmr("1") == PICONERO_PER_XMR
    assert parse_xmr("0.000000000001") == 1
    assert format_xmr(1_500_000_000_000) == "1.5"
    assert format_xmr(PICONERO_PER_XMR) == "1.0"
    assert format_xmr(1) == "0.000000000001"
    assert parse_xmr(format_xmr(MAX_PRICE_ATOMIC)) == MAX_PRICE_ATOMIC
    with pytest.raises(InvalidInput):
        parse_xmr(format_xmr(MAX_PRICE_ATOMIC + 1))


@pytest.mark.parametrize("text", ["١٢", "１２", "1.5e3", "0x10", "-1", "1.2.3", "", "XMR"])
def test_anything_but_plain_ascii_decimals_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_xmr(text)


def test_a_million_xmr_is_the_highest_price() -> None:
    assert parse_xmr("1000000") == 1_000_000 * PICONERO_PER_XMR
    with pytest.raises(InvalidInput, match=r"at most 1000000\.0 XMR"):
        parse_xmr("1000000.000000000001")
