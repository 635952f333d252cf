"""Prove there is no stale cache: every write is visible to the very next read.

Against the running server (two workers, their caches warmed by the load just before), a vendor
creates a listing, adds an image (a multipart upload), edits it and deletes it, and an admin
hides and restores it, all through the API; right after each write, new connections (so either
worker may answer) read the listing, the first page of the list (the page the load hammered),
the search results and the browse page, and check that they show the write. Once per server an
admin also suspends and restores a vendor: the list's total must drop by exactly that vendor's
listings at once, and come back.
"""

from __future__ import annotations

import io
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from bench.seed import SeededData

ROUNDS = 10
LIST = "/api/v1/listings"


@dataclass
class FreshnessReport:
    checks: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.checks > 0 and not self.failures

    def expect(self, condition: bool, description: str) -> None:
        self.checks += 1
        if not condition:
            self.failures.append(description)


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class _Client:
    base_url: str

    def request(
        self, method: str, path: str, *, body: Any = None, token: str | None = None, jpeg: bytes | None = None
    ) -> _Response:
        """One request on a new connection (urllib does not keep connections alive)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if jpeg is not None:
            boundary = secrets.token_hex(16)
            data = (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="probe.jpg"\r\n'
                    "Content-Type: image/jpeg\r\n\r\n"
                ).encode()
                + jpeg
                + f"\r\n--{boundary}--\r\n".encode()
            )
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (our own http URL)
                return _Response(response.status, response.read())
        except urllib.error.HTTPError as error:
            return _Response(error.code, error.read())

    def token(self, username: str, password: str) -> str | None:
        response = self.request("POST", "/api/v1/tokens", body={"username": username, "password": password})
        return str(response.json()["token"]) if response.status == 201 else None

    def first_page(self) -> dict[str, Any]:
        response = self.request("GET", LIST)
        return response.json() if response.status == 200 else {"items": [], "total": None}

    def first_page_ids(self) -> list[int]:
        return [item["id"] for item in self.first_page().get("items", [])]

    def search_ids(self, query: str) -> list[int]:
        response = self.request("GET", f"{LIST}?" + urllib.parse.urlencode({"q": query}))
        return [item["id"] for item in response.json().get("items", [])] if response.status == 200 else []

    def page_shows(self, path: str, text: str) -> bool:
        response = self.request("GET", path)
        return response.status == 200 and text.encode() in response.body


def check_write_then_read(base_url: str, seeded: SeededData, *, rounds: int = ROUNDS) -> FreshnessReport:
    """Run the rounds and the suspension check; every read comes straight after the write it checks."""
    report = FreshnessReport()
    client = _Client(base_url)
    vendor = client.token(seeded.vendor_usernames[0], seeded.password)
    admin = client.token(seeded.admin_username, seeded.password)
    report.expect(vendor is not None and admin is not None, "POST /api/v1/tokens refused a seeded account")
    if vendor is None or admin is None:
        return report
    for _ in range(rounds):
        _one_round(client, vendor, admin, report)
    _suspension(client, admin, seeded, report)
    return report


def _one_round(client: _Client, vendor: str, admin: str, report: FreshnessReport) -> None:
    word = "probe" + secrets.token_hex(6)  # unique: found by search only if this write is visible
    title = f"Freshness {word}"
    listing = {
        "title": title,
        "description": "Created by the benchmark to prove that reads see writes.",
        "price_atomic": 1_500_000_000_000,
        "stock": 3,
        "category": "other",
    }
    for _ in range(4):  # new connections each: every worker has answered this page before the write
        client.first_page()
    created = client.request("POST", LIST, body=listing, token=vendor)
    report.expect(created.status == 201, f"POST {LIST} answered {created.status}: {created.body[:200]!r}")
    if created.status != 201:
        return
    listing_id = int(created.json()["id"])
    path = f"{LIST}/{listing_id}"
    report.expect(client.request("GET", path).status == 200, f"GET {path} right after creating it is not 200")
    report.expect(client.first_page_ids()[:1] == [listing_id], f"new listing {listing_id} not first in GET {LIST}")
    report.expect(listing_id in client.search_ids(word), f"new listing {listing_id} not found by search")
    report.expect(client.page_shows("/", title), "the browse page does not show the newest listing first")

    _image(client, vendor, listing_id, report)

    new_title = "Freshness edited" + secrets.token_hex(6)
    edited = client.request("PATCH", path, body={"title": new_title}, token=vendor)
    report.expect(edited.status == 200, f"PATCH {path} answered {edited.status}: {edited.body[:200]!r}")
    read = client.request("GET", path)
    report.expect(read.status == 200 and read.json().get("title") == new_title, f"GET {path} shows the old title")
    titles = [item["title"] for item in client.first_page().get("items", [])]
    report.expect(titles[:1] == [new_title], f"GET {LIST} shows the old title of listing {listing_id}")
    report.expect(listing_id in client.search_ids(new_title), f"edited listing {listing_id} not found by its new title")
    report.expect(listing_id not in client.search_ids(word), f"edited listing {listing_id} found by its old title")
    report.expect(client.page_shows("/?" + urllib.parse.urlencode({"q": new_title}), new_title), "browse: old title")

    reason = {"reason": "benchmark freshness check"}
    hidden = client.request("POST", f"/api/v1/admin/listings/{listing_id}/hide", body=reason, token=admin)
    report.expect(hidden.status == 200, f"hiding listing {listing_id} answered {hidden.status}")
    report.expect(client.request("GET", path).status == 404, f"hidden listing {listing_id} still readable")
    report.expect(listing_id not in client.first_page_ids(), f"hidden listing {listing_id} still in GET {LIST}")
    restored = client.request("POST", f"/api/v1/admin/listings/{listing_id}/restore", body=reason, token=admin)
    report.expect(restored.status == 200, f"restoring listing {listing_id} answered {restored.status}")
    report.expect(client.first_page_ids()[:1] == [listing_id], f"restored listing {listing_id} not back in {LIST}")

    deleted = client.request("DELETE", path, token=vendor)
    report.expect(deleted.status in {200, 204}, f"DELETE {path} answered {deleted.status}")
    report.expect(client.request("GET", path).status == 404, f"GET {path} right after deleting it is not 404")
    report.expect(listing_id not in client.first_page_ids(), f"deleted listing {listing_id} still in GET {LIST}")
    report.expect(not client.page_shows("/", new_title), "the browse page still shows a deleted listing")


def _image(client: _Client, vendor: str, listing_id: int, report: FreshnessReport) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (secrets.randbelow(256), 90, 160)).save(buffer, format="JPEG")
    path = f"{LIST}/{listing_id}/images"
    uploaded = client.request("POST", path, token=vendor, jpeg=buffer.getvalue())
    report.expect(uploaded.status == 201, f"POST {path} answered {uploaded.status}: {uploaded.body[:200]!r}")
    if uploaded.status != 201:
        return
    thumbnail = f"/images/{uploaded.json()['id']}/thumbnail"
    first = client.first_page().get("items", [{}])[0]
    report.expect(first.get("thumbnail_url") == thumbnail, f"GET {LIST} does not show the image just added")
    report.expect(client.request("GET", thumbnail).status == 200, f"GET {thumbnail} is not 200")


def _suspension(client: _Client, admin: str, seeded: SeededData, report: FreshnessReport) -> None:
    vendor_id = seeded.vendor_ids[-1]  # not the vendor that writes in the rounds
    expected_drop = seeded.visible_by_vendor.get(vendor_id, 0)
    before = client.first_page().get("total")
    reason = {"reason": "benchmark freshness check"}
    suspended = client.request("POST", f"/api/v1/admin/users/{vendor_id}/suspend", body=reason, token=admin)
    report.expect(suspended.status == 200, f"suspending vendor {vendor_id} answered {suspended.status}")
    during = client.first_page().get("total")
    restored = client.request("POST", f"/api/v1/admin/users/{vendor_id}/restore", body=reason, token=admin)
    report.expect(restored.status == 200, f"restoring vendor {vendor_id} answered {restored.status}")
    after = client.first_page().get("total")
    report.expect(
        isinstance(before, int) and during == before - expected_drop,
        f"after suspending a vendor with {expected_drop} listings the total went from {before} to {during}",
    )
    report.expect(after == before, f"after restoring the vendor the total is {after}, was {before}")
