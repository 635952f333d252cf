"""What search compares: listing text and queries folded the same way, in Python, on every database.

The rule (``docs/search.md``): a listing matches a query when **every word of the query is a
substring of the listing's folded title and description**. Both sides are folded by
``search_normalize``:

- compatibility forms are unified (NFKC: ``ﬁ`` → ``fi``, full-width ``Ｆ`` → ``F``, ``①`` → ``1``);
- the Latin, Greek and Cyrillic combining diacritics are removed (``Ä`` → ``a``, ``ё`` → ``е``,
  ``é`` → ``e``), but no other mark: kana voicing (``ガ``), Indic vowel signs and Hangul stay
  whole;
- case is folded (``casefold``: ``ß`` → ``ss``, ``İ`` → ``i``), and letters that Unicode does not
  decompose are folded by hand (``ł`` → ``l``, ``ø`` → ``o``, ``æ`` → ``ae``, ``œ`` → ``oe`` …);
- words are runs of letters, digits and marks; everything else (punctuation, symbols, ``_``) only
  separates words, and the words are joined by one space.

The folded text is stored (``listings.search_text``, ``listings.title_key``) and indexed (FTS5
trigram on SQLite, pg_trgm on PostgreSQL), so both databases compare the same strings and give
the same results. Changing anything here changes what is stored: every row must then be folded
again (a migration, like 0004's backfill). The Unicode tables of Python's ``unicodedata`` are
part of the definition too (``unicodedata.unidata_version``; 14.0.0 on Python 3.11).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

# A query word is cut to this many characters (a longer one is matched by its first 64), and
# only the longest words of a query count: each word is one more condition on every candidate.
MAX_WORD_LENGTH = 64
MAX_QUERY_WORDS = 8

# The combining diacritics used by Latin, Greek and Cyrillic (accents, umlaut, cedilla, breve…).
_DIACRITIC_BLOCKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
_STRIP_DIACRITICS = str.maketrans(
    "", "", "".join(chr(code) for low, high in _DIACRITIC_BLOCKS for code in range(low, high + 1))
)
# Letters with a stroke, and ligatures, that NFKD leaves whole: what a reader types instead.
_FOLD = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ŧ": "t",
        "ƀ": "b",
        "ı": "i",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ŋ": "n",
    }
)
_ASCII_WORD = re.compile(r"[a-z0-9]+")


@cache
def _unicode_word() -> re.Pattern[str]:
    """Runs of word characters (``_`` is replaced before) and combining marks of any script.

    ``re`` has no class for marks, so one is built from ``unicodedata`` once per process, at
    the first text that is not ASCII (about 0.2 s; ASCII text never needs it).
    """
    ranges: list[str] = []
    start = previous = -2
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code))[0] != "M":
            continue
        if code != previous + 1:
            if start >= 0:
                ranges.append(f"\\U{start:08x}-\\U{previous:08x}")
            start = code
        previous = code
    ranges.append(f"\\U{start:08x}-\\U{previous:08x}")
    return re.compile(r"[\w" + "".join(ranges) + r"]+")


def search_normalize(text: str) -> str:
    """``text`` folded for search: its words, lower-case and without Latin/Greek/Cyrillic accents, one space apart.

    ``"Ägyptische Baumwolle-Tücher!"`` → ``"agyptische baumwolle tucher"``; ``"Straße"`` →
    ``"strasse"``; ``"東京タワー模型"`` → ``"東京タワー模型"``; ``"%_!"`` → ``""``.
    """
    if text.isascii():  # the common case, and exactly what the general path gives for ASCII
        return " ".join(_ASCII_WORD.findall(text.lower()))
    folded = unicodedata.normalize("NFKD", text).translate(_STRIP_DIACRITICS).casefold().translate(_FOLD)
    # casefold can make new diacritics (İ → i + U+0307): strip again, then recompose (Hangul, kana).
    folded = unicodedata.normalize("NFKC", folded.translate(_STRIP_DIACRITICS)).replace("_", " ")
    return " ".join(_unicode_word().findall(folded))


def query_words(query: str) -> tuple[str, ...]:
    """The words a listing must all contain to match ``query``, longest first; ``()`` when it has none.

    Duplicates and words contained in another word are dropped (they add nothing to an AND of
    substrings); each word is cut to ``MAX_WORD_LENGTH`` characters and only the
    ``MAX_QUERY_WORDS`` longest are kept. The order is deterministic: by length, then by text.
    """
    words = {word[:MAX_WORD_LENGTH] for word in search_normalize(query).split()}
    kept: list[str] = []
    for word in sorted(words, key=lambda w: (-len(w), w)):
        if not any(word in longer for longer in kept):
            kept.append(word)
    return tuple(kept[:MAX_QUERY_WORDS])


def stored_search_text(title: str, description: str) -> str:
    """``listings.search_text``: what search looks in (title and description, folded)."""
    return search_normalize(f"{title}\n{description}")


def stored_title_key(title: str) -> str:
    """``listings.title_key``: what "Title A-Z" sorts by (the title folded), then the id."""
    return search_normalize(title)


def search_columns(title: str, description: str) -> dict[str, str]:
    """The stored search columns of a listing with this title and description, by column name.

    Every write of a title or a description stores them: inserts get them from the columns'
    defaults (``listings.models``), updates from ``listings.services`` and the ORM's
    ``before_update`` event. Anything else that writes a title or a description (raw SQL, an
    operator's script) must store these too, or search keeps finding the old text.
    """
    return {"search_text": stored_search_text(title, description), "title_key": stored_title_key(title)}
