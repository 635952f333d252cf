"""Is a configured secret really random? A conservative estimate, refusing what people type.

A secret made by a machine (``openssl rand -hex 32``, ``secrets.token_urlsafe(32)``) passes; what
a person makes up does not: a placeholder, a repeated pattern (``changeme-changeme-...``, 40 × ``a``),
a dictionary word a default would use, a run such as ``0123456789abcdef``, or simply too little
estimated entropy. The estimate is the text's length times the lower of two Shannon entropies per
character: of its characters, and of the steps between neighbours (which is near zero for runs
such as ``abcdef`` or ``13579``). It overestimates a person's choice and slightly underestimates a
random string: 32 random bytes written in hex or base64 estimate above 170 bits (measured: the
least of 100,000 each), twice ``MIN_ESTIMATED_BITS``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

MIN_LENGTH = 32
MIN_ESTIMATED_BITS = 128
_LONGEST_REPEAT = 8  # a random secret of this kind repeats 8 characters with odds below one in a million
_WEAK_WORDS = (
    "changeme",
    "secret",
    "password",
    "passwd",
    "default",
    "example",
    "sample",
    "placeholder",
    "marketplace",
    "monero",
    "development",
    "production",
    "testing",
    "qwerty",
    "letmein",
    "insecure",
    "unsafe",
)


def _entropy_per_symbol(symbols: Sequence[object]) -> float:
    counts = Counter(symbols)
    total = len(symbols)
    return -sum(count / total * math.log2(count / total) for count in counts.values()) if total else 0.0


def estimated_bits(value: str) -> float:
    """A conservative estimate of the entropy of ``value``, in bits (see the module's docstring)."""
    steps = [ord(after) - ord(before) for before, after in itertools.pairwise(value)]
    return len(value) * min(_entropy_per_symbol(list(value)), _entropy_per_symbol(steps))


def _repeats(value: str) -> bool:
    """Whether some ``_LONGEST_REPEAT`` characters occur twice (overlapping too: ``aaaaaaaaa``)."""
    seen: set[str] = set()
    for start in range(len(value) - _LONGEST_REPEAT + 1):
        piece = value[start : start + _LONGEST_REPEAT]
        if piece in seen:
            return True
        seen.add(piece)
    return False


def weakness(value: str) -> str | None:
    """Why ``value`` is not a random secret (a phrase for an error message), or None if it is one."""
    if len(value) < MIN_LENGTH:
        return f"it is too short: {len(value)} characters, at least {MIN_LENGTH} needed"
    if _repeats(value):
        return "it repeats a pattern"
    lowered = value.lower()
    word = next((word for word in _WEAK_WORDS if word in lowered), None)
    if word is not None:
        return f"it contains the word {word!r}"
    bits = estimated_bits(value)
    if bits < MIN_ESTIMATED_BITS:
        return f"it is not random enough (about {bits:.0f} bits estimated, at least {MIN_ESTIMATED_BITS} needed)"
    return None
