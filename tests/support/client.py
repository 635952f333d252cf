"""An in-process client that speaks to the app as a browser or an API client would."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class SiteClient(TestClient):
    """A ``TestClient`` over https (so Secure cookies flow, as in production) with form helpers."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app, base_url="https://testserver", follow_redirects=False)

    def csrf_token(self, page: str = "/login") -> str:
        """The CSRF token from a form on ``page`` (fetching it sets the CSRF cookie)."""
        response = self.get(page)
        match = _CSRF_INPUT.search(response.text)
        assert match, f"no CSRF field on {page} (status {response.status_code})"
        return match.group(1)

    def submit(self, page: str, action: str, data: dict[str, Any], files: Any = None) -> Any:
        """Fill the form found on ``page`` and post it to ``action``, as a browser would."""
        fields = {"csrf_token": self.csrf_token(page), **data}
        return self.post(action, data=fields, files=files)

    def sign_in(self, username: str, password: str, totp_code: str = "") -> Any:
        response = self.submit("/login", "/login", {"username": username, "password": password, "totp_code": totp_code})
        assert response.status_code == 303, f"sign-in failed: {response.status_code} {response.text[:500]}"
        return response

    def api_token(self, username: str, password: str, totp_code: str | None = None) -> str:
        body: dict[str, Any] = {"username": username, "password": password}
        if totp_code is not None:
            body["totp_code"] = totp_code
        response = self.post("/api/v1/tokens", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def use_token(self, token: str) -> None:
        self.headers["Authorization"] = f"Bearer {token}"
