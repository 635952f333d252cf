"""Request bodies are bounded per route: a body over the limit is answered 413 before CSRF,
authentication or parsing, whether its length is declared, lied about or never ends, and nothing
is stored (no account, no listing, no image, no temporary file)."""

from __future__ import annotations

import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from PIL import Image
from sqlalchemy import func, select
from starlette.routing import Route

from marketplace.accounts.auth import SESSION_COOKIE
from marketplace.accounts.models import Role, User
from marketplace.db.engine import Database
from marketplace.listings.models import Listing, ListingImage
from marketplace.settings import Settings
from marketplace.web.app import FORM_BODY_MAX_BYTES, body_limits
from marketplace.web.csrf import CSRF_COOKIE
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, Person, unique_name
from tests.support.live_server import require_loopback

# Small images keep the upload routes' limits (and the bodies sent to pass them) small.
SMALL_IMAGES = {"image_max_bytes": 16 * 1024}
_BOUNDARY = "body-limit-test-boundary"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _limit_of(method: str, path: str, settings: Settings) -> int:
    """The body limit the app should apply to ``method`` ``path`` (a concrete path)."""
    for route in body_limits(settings):
        if route.method == method and Route(route.path, endpoint=lambda: None).path_regex.match(path):
            return route.max_bytes
    return FORM_BODY_MAX_BYTES


def _assert_too_large(response: Any, path: str) -> None:
    """413 in the usual error shape of ``path`` (JSON for the API, the error page otherwise), closing."""
    assert response.status_code == 413, f"{path}: {response.status_code} {response.text[:300]}"
    assert response.headers["connection"] == "close", path
    assert response.headers["x-request-id"], path
    assert response.headers["x-content-type-options"] == "nosniff", path
    if path.startswith("/api/"):
        assert_api_error(response, 413, "too_large", message="larger than this address accepts")
    else:
        assert response.headers["content-type"].startswith("text/html"), path
        assert "larger than this address accepts" in response.text, path


def _png_of_exactly(size: int) -> bytes:
    """A valid PNG padded (after its end) to exactly ``size`` bytes."""
    from io import BytesIO

    out = BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, format="PNG")
    raw = out.getvalue()
    assert len(raw) <= size
    return raw + b"\0" * (size - len(raw))


def _multipart(
    fields: dict[str, str], files: list[tuple[str, bytes]] = (), *, total: int | None = None, file_field: str = "images"
) -> bytes:
    """A multipart/form-data body (boundary ``_BOUNDARY``); with ``total``, padded by an ignored
    ``padding`` field to exactly that many bytes."""
    parts = [
        f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts += [
        f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + content
        + b"\r\n"
        for filename, content in files
    ]
    closing = f"--{_BOUNDARY}--\r\n".encode()
    body = b"".join(parts)
    if total is not None:
        head = f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="padding"\r\n\r\n'.encode()
        room = total - len(body) - len(head) - len(b"\r\n") - len(closing)
        assert room >= 0, f"the fields alone take more than {total} bytes"
        body += head + b"p" * room + b"\r\n"
    body += closing
    assert total is None or len(body) == total
    return body


_MULTIPART = {"content-type": f"multipart/form-data; boundary={_BOUNDARY}"}
_URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def _count(database: Database, model: type[Any]) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- every route ------------------------------------------------------------------------------


def _routes_with_a_body(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, concrete path) for every route that accepts a method with a body; ids are 1."""
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.route, APIRoute):
            continue
        path = re.sub(r"\{[^}]+\}", "1", context.path)
        for method in sorted((context.route.methods or set()) & _BODY_METHODS):
            yield method, path


@pytest.mark.parametrize("settings_overrides", [SMALL_IMAGES])
def test_every_route_refuses_a_body_over_its_limit_and_takes_one_at_it(
    app: FastAPI, client: SiteClient, settings: Settings
) -> None:
    routes = list(_routes_with_a_body(app))
    assert ("POST", "/login") in routes
    assert ("POST", "/api/v1/listings/1/images") in routes
    for method, path in routes:
        limit = _limit_of(method, path, settings)
        over = client.request(method, path, content=b"x" * (limit + 1))
        _assert_too_large(over, path)
        # At the limit the size is no reason to refuse: whatever else is wrong is answered (403 for
        # the missing CSRF token, 401, 422 for the junk...), never 413 and never 500.
        at = client.request(method, path, content=b"x" * limit)
        assert at.status_code not in (413, 500), f"{method} {path}: {at.status_code} {at.text[:300]}"


def test_the_upload_routes_take_a_listing_worth_of_images(settings: Settings) -> None:
    per_image = settings.image_max_bytes
    limits = {(route.method, route.path): route.max_bytes for route in body_limits(settings)}
    assert limits[("POST", "/api/v1/listings/{listing_id}/images")] > per_image
    for page in ("/sell/new", "/listings/{listing_id}/edit"):
        assert limits[("POST", page)] > settings.listing_max_images * per_image + FORM_BODY_MAX_BYTES
    # Every other route takes a listing's whole description in the worst encoding (12 bytes a
    # character outside the BMP, percent-encoded or escaped in JSON) and no image.
    assert 20_000 * 12 < FORM_BODY_MAX_BYTES < per_image


@pytest.mark.parametrize(("path", "headers"), [("/login", _URLENCODED), ("/api/v1/tokens", {})])
def test_a_lying_content_length_is_caught_by_counting(client: SiteClient, path: str, headers: dict[str, str]) -> None:
    # Over real HTTP the server frames the body by its Content-Length; an ASGI server that does not
    # (or a proxy) must still not hand the app more than the limit.
    lying = client.post(path, content=b"x" * (FORM_BODY_MAX_BYTES + 1), headers={**headers, "content-length": "10"})
    _assert_too_large(lying, path)


# --- exactly at the limit and one byte over -----------------------------------------------------


def test_a_page_form_at_the_limit_registers_and_one_byte_more_changes_nothing(
    client: SiteClient, database: Database
) -> None:
    token = client.csrf_token("/register")

    def form(username: str, total: int) -> bytes:
        fields = f"csrf_token={token}&username={username}&password={DEFAULT_PASSWORD}&role=buyer&padding="
        return (fields + "p" * (total - len(fields))).encode()

    refused_name, accepted_name = unique_name("toolarge"), unique_name("atlimit")
    refused = client.post("/register", content=form(refused_name, FORM_BODY_MAX_BYTES + 1), headers=_URLENCODED)
    _assert_too_large(refused, "/register")
    accepted = client.post("/register", content=form(accepted_name, FORM_BODY_MAX_BYTES), headers=_URLENCODED)
    assert accepted.status_code == 303, accepted.text[:300]
    with database.session() as session:
        names = set(session.scalars(select(User.username)))
    assert accepted_name in names
    assert refused_name not in names


def test_an_api_json_body_at_the_limit_is_read_and_one_byte_more_changes_nothing(
    sign_up: Callable[..., Person], database: Database
) -> None:
    vendor = sign_up(Role.VENDOR)
    listing = {"title": "Padded", "description": "d", "price_atomic": 10**12, "stock": 1, "category": "books"}
    document = orjson.dumps(listing)

    def padded(total: int) -> bytes:
        return document + b" " * (total - len(document))  # white space after the document is still JSON

    json_headers = {"content-type": "application/json"}
    refused = vendor.client.post("/api/v1/listings", content=padded(FORM_BODY_MAX_BYTES + 1), headers=json_headers)
    _assert_too_large(refused, "/api/v1/listings")
    assert _count(database, Listing) == 0
    accepted = vendor.client.post("/api/v1/listings", content=padded(FORM_BODY_MAX_BYTES), headers=json_headers)
    assert accepted.status_code == 201, accepted.text[:300]
    assert _count(database, Listing) == 1


@pytest.mark.parametrize("settings_overrides", [SMALL_IMAGES])
def test_the_listing_page_with_every_image_at_the_limit_publishes_and_one_byte_more_changes_nothing(
    sign_up: Callable[..., Person], database: Database, settings: Settings
) -> None:
    vendor = sign_up(Role.VENDOR)
    limit = _limit_of("POST", "/sell/new", settings)
    token = vendor.client.csrf_token("/sell/new")
    fields = {"csrf_token": token, "title": "Eight photos", "description": "d", "price": "1", "stock": "1"}
    fields["category"] = "books"
    images = [(f"{n}.png", _png_of_exactly(settings.image_max_bytes)) for n in range(settings.listing_max_images)]

    refused = vendor.client.post("/sell/new", content=_multipart(fields, images, total=limit + 1), headers=_MULTIPART)
    _assert_too_large(refused, "/sell/new")
    assert (_count(database, Listing), _count(database, ListingImage)) == (0, 0)

    accepted = vendor.client.post("/sell/new", content=_multipart(fields, images, total=limit), headers=_MULTIPART)
    assert accepted.status_code == 303, accepted.text[:500]
    assert (_count(database, Listing), _count(database, ListingImage)) == (1, settings.listing_max_images)


@pytest.mark.parametrize("settings_overrides", [SMALL_IMAGES])
def test_the_image_api_at_the_limit_adds_the_image_and_one_byte_more_changes_nothing(
    sign_up: Callable[..., Person], database: Database, settings: Settings
) -> None:
    vendor = sign_up(Role.VENDOR)
    listing = vendor.client.post(
        "/api/v1/listings",
        json={"title": "One photo", "description": "d", "price_atomic": 10**12, "stock": 1, "category": "books"},
    ).json()
    path = f"/api/v1/listings/{listing['id']}/images"
    limit = _limit_of("POST", path, settings)
    image = [("photo.png", _png_of_exactly(settings.image_max_bytes))]

    refused = vendor.client.post(
        path, content=_multipart({}, image, total=limit + 1, file_field="file"), headers=_MULTIPART
    )
    _assert_too_large(refused, path)
    assert _count(database, ListingImage) == 0

    accepted = vendor.client.post(
        path, content=_multipart({}, image, total=limit, file_field="file"), headers=_MULTIPART
    )
    assert accepted.status_code == 201, accepted.text[:500]
    assert _count(database, ListingImage) == 1


# --- over real HTTP: a body that never ends, a length declared and never sent -------------------


class EndlessBody:
    """A request body that never ends on its own: chunks until the server answers or ``max_bytes``."""

    def __init__(self, prefix: bytes = b"", *, max_bytes: int, chunk: bytes = b"x" * 65536) -> None:
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.chunk = chunk
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.prefix
        self.sent = len(self.prefix)
        while self.sent < self.max_bytes:  # a server that reads forever fails the test instead of hanging it
            yield self.chunk
            self.sent += len(self.chunk)


def _post_endless(base_url: str, path: str, body: EndlessBody, headers: dict[str, str]) -> httpx.Response:
    require_loopback(base_url)
    with httpx.Client(base_url=base_url, timeout=30, trust_env=False) as http:
        return http.post(path, content=iter(body), headers=headers)


def _spool_files(spool: Path) -> list[str]:
    """Files the process holds open in ``spool`` (the multipart parser's temporary files are unnamed)."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue  # closed meanwhile
        if target.startswith(str(spool)):
            held.append(target)
    return held


@pytest.mark.parametrize("settings_overrides", [{"image_max_bytes": 1024 * 1024}])
def test_a_body_that_never_ends_is_refused_on_every_kind_of_route_and_nothing_is_kept(  # noqa: PLR0917  (fixtures)
    live_server: str,
    sign_up: Callable[..., Person],
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where the multipart parser spools files
    vendor = sign_up(Role.VENDOR)
    listing = vendor.client.post(
        "/api/v1/listings",
        json={"title": "Endless", "description": "d", "price_atomic": 10**12, "stock": 1, "category": "books"},
    ).json()
    token = vendor.client.csrf_token("/sell/new")
    signed_in = {
        "cookie": "; ".join(f"{name}={vendor.client.cookies.get(name)}" for name in (SESSION_COOKIE, CSRF_COOKIE))
    }
    bearer = {"authorization": vendor.client.headers["authorization"]}
    file_start = (
        f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="images"; filename="endless.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    api_file_start = file_start.replace(b'name="images"', b'name="file"')
    cases = [
        ("/login", b"username=someone&password=", _URLENCODED),
        ("/api/v1/tokens", b'{"username": "someone", "password": "', {"content-type": "application/json"}),
        ("/sell/new", file_start, {**_MULTIPART, **signed_in}),
        (f"/api/v1/listings/{listing['id']}/images", api_file_start, {**_MULTIPART, **bearer}),
    ]
    spooled_while_sending: list[str] = []
    for path, prefix, headers in cases:
        limit = _limit_of("POST", path, settings)
        # Far past the limit, and past what loopback socket buffers absorb before the client
        # notices the answer (several megabytes).
        body = EndlessBody(prefix, max_bytes=max(20 * limit, 64 * 1024 * 1024))
        sending = threading.Event()
        if path == "/sell/new":
            # Past the parser's 1 MB in memory, the file is spooled to disk: look, all the while
            # the request is under way (the client may be megabytes ahead of what the server read).
            def look(sending: threading.Event = sending) -> None:
                while sending.is_set() and not spooled_while_sending:
                    spooled_while_sending.extend(_spool_files(spool))
                    time.sleep(0.0005)

            sending.set()
            looker = threading.Thread(target=look, daemon=True)
            looker.start()
        try:
            answer = _post_endless(live_server, path, body, headers)
        finally:
            sending.clear()
        _assert_too_large(answer, path)
        assert body.sent < body.max_bytes, f"{path}: the server read {body.sent} bytes without answering"
    assert _count(database, Listing) == 1  # the one made above, and none of the endless uploads
    assert _count(database, ListingImage) == 0
    assert _count(database, User) == 1
    assert spooled_while_sending, "the parser spooled nothing to disk: the check below would prove nothing"
    assert _spool_files(spool) == []


def test_a_declared_length_is_refused_before_any_of_the_body_is_sent(live_server: str) -> None:
    require_loopback(live_server)
    host, port = live_server.removeprefix("http://").split(":")
    for path in ("/login", "/api/v1/tokens", "/sell/new"):
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: 3000000000\r\n\r\n".encode()
            )
            received = b""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                data = connection.recv(65536)
                if not data:
                    break  # the server closed the connection after its answer
                received += data
            head, _, body = received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 413 "), (path, head)
            assert b"connection: close" in head.lower(), head
            assert b"larger than this address accepts" in body, body[:300]
