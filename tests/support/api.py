"""Assertions on the API's one error shape, used by every test of an API error."""

from __future__ import annotations

from typing import Any

_KEYS = {"error", "message", "field", "state"}


def assert_api_error(
    response: Any,
    status: int,
    code: str,
    *,
    field: str | None = None,
    state: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """Assert ``response`` is the API error ``{"error": code, "message", "field"?, "state"?}`` with ``status``.

    ``field`` and ``state`` must match exactly when given (and be absent when not); ``message`` is
    a piece of text the message must contain. Returns the body for further checks.
    """
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/json"), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert set(body) <= _KEYS, f"unexpected keys in the error body: {sorted(set(body) - _KEYS)}"
    assert body.get("error") == code, f"expected error {code!r}, got {body}"
    assert isinstance(body.get("message"), str), body
    assert body["message"].strip(), "the message is empty"
    assert body.get("field") == field, f"expected field {field!r}, got {body.get('field')!r}"
    assert body.get("state") == state, f"expected state {state!r}, got {body.get('state')!r}"
    if message is not None:
        assert message in body["message"], f"{message!r} not in {body['message']!r}"
    return body
