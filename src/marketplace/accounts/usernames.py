"""Names nobody may register for themselves: the site's own roles and voices, and names of punctuation only.

A username is 3 to 32 ASCII letters, digits, ``.``, ``-`` or ``_`` (``services.USERNAME_PATTERN``),
so it can hold no lookalike or invisible character. At self-registration it must also not pass
for the site: a name is reserved when, in any case and with its dots, dashes and underscores
removed, it is one of ``RESERVED_USERNAMES`` (``Admin``, ``ad.min``, ``__root__`` ...), or when it
has no letter or digit at all (``...``). Existing accounts are untouched, and an administrator
creating an account (page, API or ``marketplace users create``) may use a reserved name: the
operator's own staff accounts are the site speaking, not someone passing for it.
"""

from __future__ import annotations

import re

from marketplace.errors import InvalidInput

RESERVED_USERNAMES = frozenset(
    {
        "abuse",
        "account",
        "accounts",
        "admin",
        "administrator",
        "anonymous",
        "api",
        "arbiter",
        "arbitrator",
        "billing",
        "deleted",
        "escrow",
        "help",
        "helpdesk",
        "hostmaster",
        "info",
        "login",
        "marketplace",
        "mod",
        "moderator",
        "monero",
        "noreply",
        "null",
        "official",
        "operator",
        "postmaster",
        "register",
        "root",
        "security",
        "staff",
        "support",
        "sysadmin",
        "system",
        "team",
        "webmaster",
        "xmr",
    }
)
_PUNCTUATION = re.compile(r"[._-]")


def is_reserved(username: str) -> bool:
    """Whether ``username`` (assumed to match ``USERNAME_PATTERN``) is kept from self-registration."""
    core = _PUNCTUATION.sub("", username).lower()
    return not core or core in RESERVED_USERNAMES


def check_not_reserved(username: str) -> None:
    """Raise ``InvalidInput`` (field ``username``) if ``username`` is reserved."""
    if is_reserved(username.strip()):
        raise InvalidInput(
            "This username is reserved: it could pass for the marketplace itself, or has no letter or digit. "
            "Choose another.",
            field="username",
        )


def _spelled_loosely(word: str) -> str:
    """A regex for ``word`` in any case with any dots, dashes and underscores around its letters."""
    between = "[._-]*"
    letters = between.join(f"[{char.upper()}{char}]" if char.isalpha() else char for char in word)
    return f"{between}{letters}{between}"


def registrable_pattern(base: str) -> str:
    """``base`` (the username pattern, ``^...$``) without the reserved names: the OpenAPI ``pattern``.

    Negative lookaheads only, which ECMA-262 and Python read alike.
    """
    reserved = "|".join(_spelled_loosely(word) for word in sorted(RESERVED_USERNAMES))
    return f"^(?![._-]*$)(?!(?:{reserved})$){base.removeprefix('^')}"
