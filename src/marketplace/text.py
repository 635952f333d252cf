"""The one policy for text from outside: valid Unicode, visible, normalised (NFC), refused naming the field.

Every text a person or a client sends is one of these kinds, and its service checks it with
``valid_text`` (or ``ascii_text``, ``secret_text``) before anything else reads it:

- ``TextKind.LINE`` (names, titles, token names): no control character at all, no line or
  paragraph separator, and no invisible character but those some scripts and emoji need (zero
  width joiner and non-joiner, variation selectors);
- ``TextKind.MULTILINE`` (descriptions, moderation reasons): tab and line breaks too, and the
  invisible characters that shape real text (soft hyphen, zero width space, word joiner, the
  left-to-right and right-to-left marks, the combining grapheme joiner).

Every kind refuses what is not valid Unicode (a lone UTF-16 surrogate, which no encoding can
store, and U+FFFD, which stands for bytes that were not valid UTF-8), the noncharacters, and the
bidirectional embeddings, overrides and isolates, which reorder
what is shown (a price, an address, a name) without showing themselves ("Trojan Source"). The
other invisible characters are Unicode's ``Default_Ignorable_Code_Point`` set (Unicode 14,
DerivedCoreProperties.txt), as fixed ranges below. ``require_visible`` then asks for at least one
character that shows (not white space, not invisible): a title of one zero width space is refused.

Accepted text is returned in Unicode normalisation form C, so that one word typed on two
keyboards is stored the same. Passwords are secrets, not text to show: ``secret_text`` refuses
what cannot be typed (surrogates, control characters) and never normalises, at registration or at
sign-in alike. Search terms are cleaned, not refused (``clean_line``).

``json_schema_pattern`` states each kind in the OpenAPI document from the same ranges, so the
document and the server cannot drift apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import Enum
from functools import cache

from marketplace.errors import InvalidInput

Ranges = tuple[tuple[int, int], ...]


class TextKind(Enum):
    LINE = "line"
    MULTILINE = "multiline"


_CONTROLS: Ranges = ((0x00, 0x1F), (0x7F, 0x9F))
_LINE_BREAKS_AND_TAB: Ranges = ((0x09, 0x0A), (0x0D, 0x0D))
_SURROGATES: Ranges = ((0xD800, 0xDFFF),)
_NONCHARACTERS: Ranges = (
    (0xFDD0, 0xFDEF),
    *((plane + 0xFFFE, plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000)),
)
_BIDI_CONTROLS: Ranges = ((0x202A, 0x202E), (0x2066, 0x2069))
# U+FFFD REPLACEMENT CHARACTER: what a decoder puts where the bytes were not valid UTF-8 (a page
# form is decoded that way), so it stands for text that was lost, never for what was meant.
_REPLACEMENT: Ranges = ((0xFFFD, 0xFFFD),)
_LINE_SEPARATORS: Ranges = ((0x2028, 0x2029),)
# Default_Ignorable_Code_Point (Unicode 14.0.0): rendered as nothing.
_DEFAULT_IGNORABLE: Ranges = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Invisible characters text needs: joiners (Indic and Arabic scripts, emoji sequences) and
# variation selectors (emoji and ideograph variants) in every kind; more in running text.
_JOINERS_AND_SELECTORS: Ranges = ((0x200C, 0x200D), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
_RUNNING_TEXT_MARKS: Ranges = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x200B, 0x200B),  # zero width space (word boundaries in Thai, Khmer...)
    (0x200E, 0x200F),  # left-to-right and right-to-left marks
    (0x2060, 0x2060),  # word joiner
)
# Characters that are not default-ignorable yet show as blank.
_BLANK_GLYPHS: Ranges = ((0x2800, 0x2800), (0x1D159, 0x1D159))
_WHITE_SPACE: Ranges = tuple((ord(char), ord(char)) for char in map(chr, range(0x3001)) if char.isspace())

_ALLOWED_IGNORABLE = {
    TextKind.LINE: _JOINERS_AND_SELECTORS,
    TextKind.MULTILINE: _JOINERS_AND_SELECTORS + _RUNNING_TEXT_MARKS,
}


def _minus(ranges: Ranges, removed: Ranges) -> Ranges:
    """``ranges`` without the code points of ``removed``."""
    result: list[tuple[int, int]] = []
    for low, high in ranges:
        pieces = [(low, high)]
        for cut_low, cut_high in removed:
            pieces = [
                piece
                for start, end in pieces
                for piece in ((start, min(end, cut_low - 1)), (max(start, cut_high + 1), end))
                if piece[0] <= piece[1]
            ]
        result.extend(pieces)
    return tuple(result)


def _merged(*groups: Ranges) -> Ranges:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(item for group in groups for item in group):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return tuple(merged)


def refused_ranges(kind: TextKind) -> Ranges:
    """The code points ``kind`` refuses, as sorted inclusive ranges."""
    controls = _CONTROLS if kind is TextKind.LINE else _minus(_CONTROLS, _LINE_BREAKS_AND_TAB)
    separators = _LINE_SEPARATORS if kind is TextKind.LINE else ()
    ignorable = _minus(_DEFAULT_IGNORABLE, _ALLOWED_IGNORABLE[kind])
    return _merged(controls, _SURROGATES, _NONCHARACTERS, _BIDI_CONTROLS, _REPLACEMENT, separators, ignorable)


def _invisible_ranges(kind: TextKind) -> Ranges:
    return _merged(refused_ranges(kind), _DEFAULT_IGNORABLE, _BLANK_GLYPHS, _WHITE_SPACE)


def _class_body(ranges: Iterable[tuple[int, int]], *, for_schema: bool) -> str:
    """The inside of a regex character class. Astral code points are written as themselves in the
    schema (ECMA-262 with the ``u`` flag and Python read them alike), as ``\\U`` escapes for ``re``."""

    def one(code: int) -> str:
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        return chr(code) if for_schema else f"\\U{code:08x}"

    return "".join(one(low) if low == high else f"{one(low)}-{one(high)}" for low, high in ranges)


@cache
def _refused_pattern(kind: TextKind) -> re.Pattern[str]:
    return re.compile(f"[{_class_body(refused_ranges(kind), for_schema=False)}]")


@cache
def _visible_pattern(kind: TextKind) -> re.Pattern[str]:
    return re.compile(f"[^{_class_body(_invisible_ranges(kind), for_schema=False)}]")


@cache
def json_schema_pattern(kind: TextKind) -> str:
    """The OpenAPI ``pattern`` of a ``kind`` field that must show something (after trimming)."""
    allowed = f"[^{_class_body(refused_ranges(kind), for_schema=True)}]"
    visible = f"[^{_class_body(_invisible_ranges(kind), for_schema=True)}]"
    return f"^{allowed}*{visible}{allowed}*$"


_UNNAMED = {"Cc": "(a control character)", "Cs": "(half of a UTF-16 pair: not valid Unicode)", "Cn": "(a noncharacter)"}


def describe(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: a character named without showing it (it may be invisible)."""
    name = unicodedata.name(char, "") or _UNNAMED.get(unicodedata.category(char), "an unnamed character")
    return f"U+{ord(char):04X} {name}"


def valid_text(value: str, kind: TextKind, *, field: str, label: str) -> str:
    """``value`` in normalisation form C, if every character of it is allowed in ``kind``.

    Raises ``InvalidInput`` naming ``field`` and the first refused character. ``label`` is how a
    person calls the field ("title", "reason"). Trimming, emptiness and length are the caller's.
    """
    refused = _refused_pattern(kind).search(value)
    if refused is not None:
        char = refused.group()
        where = "one line of text" if kind is TextKind.LINE else "text"
        raise InvalidInput(
            f"The {label} contains {describe(char)}, which is not allowed in {where}; remove it.", field=field
        )
    return unicodedata.normalize("NFC", value)


def require_visible(value: str, kind: TextKind, *, field: str, label: str) -> None:
    """Raise ``InvalidInput`` (``field``) unless ``value`` has a character that shows."""
    if _visible_pattern(kind).search(value) is None:
        raise InvalidInput(f"The {label} has no visible character.", field=field)


_ASCII_TEXT = re.compile(r"[\t\n\r\x20-\x7e]*")


def ascii_text(value: str, *, field: str, label: str) -> str:
    """``value`` if it is printable ASCII, tab and line breaks (armoured PGP keys); else ``InvalidInput``."""
    if _ASCII_TEXT.fullmatch(value) is None:
        bad = next(char for char in value if _ASCII_TEXT.fullmatch(char) is None)
        raise InvalidInput(f"The {label} is ASCII text; it contains {describe(bad)}.", field=field)
    return value


_SECRET_REFUSED = re.compile(f"[{_class_body(_merged(_CONTROLS, _SURROGATES), for_schema=False)}]")


def secret_text(value: str, *, field: str, label: str) -> str:
    """``value`` unchanged if it can be a new secret (a password): no control character, valid Unicode.

    Never normalised: the same characters are hashed at sign-in as at registration, so an
    account made before this rule keeps signing in. Raises ``InvalidInput`` naming ``field``
    (without quoting the secret).
    """
    refused = _SECRET_REFUSED.search(value)
    if refused is not None:
        kind = "an invalid character" if 0xD800 <= ord(refused.group()) <= 0xDFFF else "a control character"
        raise InvalidInput(f"The {label} contains {kind}; use characters you can type.", field=field)
    return value


_SURROGATE = re.compile("[\\ud800-\\udfff]")


def has_invalid_unicode(value: str) -> bool:
    """Whether ``value`` holds a lone surrogate: text no encoding (and no database) can store."""
    return _SURROGATE.search(value) is not None


def clean_line(value: str) -> str:
    """``value`` as one line of valid text: every character ``TextKind.LINE`` refuses becomes a space.

    For text that is data to match, never refused (search terms): the result is NFC and safe to
    store, show and send to the database.
    """
    return unicodedata.normalize("NFC", _refused_pattern(TextKind.LINE).sub(" ", value))
