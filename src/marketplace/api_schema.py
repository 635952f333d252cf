"""Stating in the OpenAPI document the rules a service enforces, from the service's own constants.

API input models check only shape and a generous size bound, so that the services can refuse with
a message naming the field that a person can act on (and pages share those rules). The document
must still say what the server enforces, so that a generated client is not refused by surprise:
``enforced`` writes those rules into a field's JSON schema, overriding the parsing bounds there,
and ``with_error_shape`` documents the one shape of every error answer.

Every API input model derives from ``ApiInput``: unknown fields are refused, and so is text that
is not valid Unicode (JSON's ``"\\ud800"`` escapes give Python a lone surrogate, which no
database driver can store and no hash can encode) in any field, naming it, before any service
sees it. The services apply the rest of the text policy (``marketplace.text``) per field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from typing_extensions import TypedDict

from marketplace.text import has_invalid_unicode


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


class ApiInput(BaseModel):
    """The base of every API input model: no unknown field, no text that is not valid Unicode."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        if isinstance(value, str) and has_invalid_unicode(value):
            msg = "this text is not valid Unicode (it holds half of a UTF-16 surrogate pair)"
            raise ValueError(msg)
        return value


class ErrorOut(TypedDict):
    """The body of every error answer (``errors.MarketplaceError.to_dict``, ``web.errors``)."""

    error: Annotated[str, Field(description="A stable code: invalid, not_authenticated, forbidden, not_found, ...")]
    message: Annotated[str, Field(description="What went wrong, for a person to read.")]
    field: NotRequired[Annotated[str, Field(description="The input at fault, when there is one.")]]
    state: NotRequired[Annotated[str, Field(description="The state that forbids the change (409), when there is one.")]]


# web/numbers.py: a path id that cannot name a row is answered like one that names none.
_NO_SUCH_ID = "No such thing: nothing has this id, or the id is not a whole number in the documented range."
_ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
_ERROR_CONTENT = {"application/json": {"schema": _ERROR_REF}}


def with_error_shape(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (an OpenAPI document from FastAPI) with every error answer in the server's shape.

    FastAPI documents its own validation error (``{"detail": [...]}``) for 422; this server
    answers every error, 422 included, with ``ErrorOut``. Each operation gets that shape for
    its 422 and for ``default`` (any other error status), and FastAPI's unused schemas go. An
    operation with an id in its path documents its 404 (``web.numbers``: any impossible id too).
    """
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorOut"] = TypeAdapter(ErrorOut).json_schema()
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if any(parameter.get("in") == "path" for parameter in operation.get("parameters", ())):
                responses.setdefault("404", {"description": _NO_SUCH_ID})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = _ERROR_CONTENT
            if "422" in responses:
                responses["422"]["description"] = "Invalid input (the body's `field` names it)."
            responses["default"] = {"description": "An error, in the shape every error has.", "content": _ERROR_CONTENT}
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document
