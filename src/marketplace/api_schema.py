"""Stating in the OpenAPI document the rules a service enforces, from the service's own constants.

API input models check only shape and a generous size bound, so that the services can refuse with
a message naming the field that a person can act on (and pages share those rules). The document
must still say what the server enforces, so that a generated client is not refused by surprise:
``enforced`` writes those rules into a field's JSON schema, overriding the parsing bounds there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def enforced(
    *,
    pattern: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The JSON schema keywords for the rules a service applies to one field (``json_schema_extra``)."""
    keywords = {
        "enum": list(choices) if choices is not None else None,
        "pattern": pattern,
        "minLength": min_length,
        "maxLength": max_length,
        "minimum": minimum,
        "maximum": maximum,
    }
    return {name: value for name, value in keywords.items() if value is not None}
