"""The folding that search compares (``listings/search_text.py``): no database involved."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.listings.search_text import (
    MAX_QUERY_WORDS,
    MAX_WORD_LENGTH,
    query_words,
    search_columns,
    search_normalize,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Ägyptische Baumwolle Tücher", "agyptische baumwolle tucher"),
        ("Crème brûlée Förmchen (6×)", "creme brulee formchen 6"),
        ("Straße STRASSE", "strasse strasse"),
        ("İstanbul halısı", "istanbul halisi"),
        ("Матрёшка «Москва»", "матрешка москва"),
        ("東京タワー模型", "東京タワー模型"),
        ("北京烤鸭礼盒", "北京烤鸭礼盒"),
        # Marks of other scripts stay: voiced kana, Indic vowel signs, Hangul syllables.
        ("ガンダム", "ガンダム"),
        ("हिन्दी", "हिन्दी"),
        ("한국 전통 차", "한국 전통 차"),
        ("Łódź Ægir Øresund Œuvre", "lodz aegir oresund oeuvre"),
        ("ﬁligree Ｆｕｌｌｗｉｄｔｈ ①", "filigree fullwidth 1"),
        ("ΣΟΦΊΑ σοφία", "σοφια σοφια"),
        ("snake_case e-mail C++ 3.5mm", "snake case e mail c 3 5mm"),
        ("100% off!", "100 off"),
        ("%_'\"\\ -- «»", ""),
        ("", ""),
    ],
)
def test_search_normalize_folds_case_accents_and_compatibility_forms(text: str, folded: str) -> None:
    assert search_normalize(text) == folded


def test_cyrillic_short_i_folds_like_the_other_diacritics() -> None:
    # U+0306 (breve) is one of the stripped diacritics: й is searched as и, like ё as е.
    assert search_normalize("йогурт") == "иогурт"


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_the_ascii_shortcut_gives_what_the_general_rule_gives(text: str) -> None:
    # The same text with one non-ASCII character (a separator) appended takes the general path.
    assert search_normalize(text) == search_normalize(text + " «")


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("ägypt", ("agypt",)),
        ("AGYPT Ägypt agypt", ("agypt",)),
        ("baumwolle baum wolle", ("baumwolle",)),  # words inside a longer word add nothing
        ("tea teapot pot", ("teapot",)),
        ("b a", ("a", "b")),  # longest first, then by text: the same order whatever was typed
        ("%", ()),
        ("  ", ()),
        ("C++ -- ?", ("c",)),
    ],
)
def test_query_words_are_distinct_folded_and_ordered(query: str, words: tuple[str, ...]) -> None:
    assert query_words(query) == words


def test_query_words_are_bounded_in_number_and_length() -> None:
    many = " ".join(f"word{n:02d}" for n in range(20))
    kept = query_words(many)
    assert len(kept) == MAX_QUERY_WORDS
    assert kept == tuple(sorted(f"word{n:02d}" for n in range(20)))[:MAX_QUERY_WORDS]
    assert query_words("x" * 500) == ("x" * MAX_WORD_LENGTH,)


def test_search_columns_fold_title_and_description_together_and_the_title_alone() -> None:
    assert search_columns("Crème brûlée", "Für 6 Personen.") == {
        "search_text": "creme brulee fur 6 personen",
        "title_key": "creme brulee",
    }
