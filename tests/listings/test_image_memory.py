"""An upload costs bounded memory: an image that would take more than the budget to process is
refused before it is decoded (422 naming the field), ordinary photos are still accepted, and at
most ``image_processing_slots`` images are decoded at once."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, ImageFile
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.db.engine import Database
from marketplace.listings.models import Listing, ListingImage
from marketplace.settings import Settings
from tests.listings.conftest import listing_body
from tests.support.api import assert_api_error
from tests.support.checkouts import CheckoutTracker, track_checkouts
from tests.support.concurrency import HttpRequest, parallel_requests
from tests.support.factories import Person

MEBIBYTE = 1024 * 1024


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def transparent_png(width: int, height: int) -> bytes:
    """A real, complete PNG of ``width``×``height`` fully transparent RGBA pixels, made row by row
    (the issue's example: 6300×6300 is a 154 KB file that decodes to 159 MB)."""
    row = b"\0" + b"\0" * (width * 4)  # filter type 0, then transparent black pixels
    compressor = zlib.compressobj(9)
    compressed = [compressor.compress(row) for _ in range(height)]
    compressed.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(compressed))
        + _png_chunk(b"IEND", b"")
    )


def _encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _count(database: Database, model: type[Any]) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _upload(person: Person, listing_id: int, content: bytes, name: str = "picture.png") -> Any:
    return person.client.post(
        f"/api/v1/listings/{listing_id}/images", files={"file": (name, content, "application/octet-stream")}
    )


@pytest.fixture
def vendor_listing(sign_up: Callable[..., Person]) -> tuple[Person, int]:
    vendor = sign_up(Role.VENDOR)
    response = vendor.client.post("/api/v1/listings", json=listing_body())
    assert response.status_code == 201, response.text
    return vendor, int(response.json()["id"])


def test_the_issue_png_is_refused_before_decoding_on_the_api_and_the_page(
    vendor_listing: tuple[Person, int], database: Database, settings: Settings
) -> None:
    vendor, listing_id = vendor_listing
    bomb = transparent_png(6300, 6300)
    assert len(bomb) < 200 * 1024
    assert settings.image_max_pixels >= 6300 * 6300  # under the pixel cap: the memory budget refuses it

    refused = _upload(vendor, listing_id, bomb, name="clear.png")
    assert_api_error(refused, 422, "invalid", field="file", message="6300×6300 pixels")
    assert "clear.png" in refused.json()["message"]

    page = vendor.client.post(
        "/sell/new",
        data={"csrf_token": vendor.client.csrf_token("/sell/new"), "title": "Clear", "description": "d"}
        | {"price": "1", "stock": "1", "category": "books"},
        files=[("images", ("clear.png", bomb, "image/png"))],
    )
    assert page.status_code == 422, page.text[:500]
    assert "6300×6300 pixels" in page.text
    assert (_count(database, Listing), _count(database, ListingImage)) == (1, 0)


@pytest.mark.parametrize("settings_overrides", [{"image_memory_budget_bytes": 24 * MEBIBYTE}])
def test_the_budget_is_counted_in_memory_not_pixels(vendor_listing: tuple[Person, int]) -> None:
    vendor, listing_id = vendor_listing
    # A transparent PNG takes 8 bytes a pixel at its peak (decoded, and flattened onto white):
    # 24 MiB holds 3,145,728 such pixels: 1773×1773 = 3,143,529 but not 1774×1774 = 3,147,076.
    assert _upload(vendor, listing_id, transparent_png(1773, 1773)).status_code == 201
    too_big = _upload(vendor, listing_id, transparent_png(1774, 1774))
    assert_api_error(too_big, 422, "invalid", field="file", message="PNG with transparency like it")
    # A grey image costs a quarter of that: the same pixel count is accepted.
    grey = _encoded(Image.new("L", (1774, 1774), 128), "PNG")
    assert _upload(vendor, listing_id, grey).status_code == 201


@pytest.mark.parametrize(
    ("size", "options"),
    [
        ((6000, 4000), {}),  # a 24-megapixel camera photo: decoded at half size
        ((4000, 3000), {"progressive": True, "subsampling": 0}),  # a phone photo saved progressive, full colour
    ],
    ids=["baseline-24mp", "progressive-12mp"],
)
def test_ordinary_photos_are_still_accepted_and_scaled_down(
    vendor_listing: tuple[Person, int], settings: Settings, size: tuple[int, int], options: dict[str, Any]
) -> None:
    vendor, listing_id = vendor_listing
    photo = _encoded(Image.new("RGB", size, "darkgreen"), "JPEG", quality=90, **options)
    response = _upload(vendor, listing_id, photo, name="photo.jpg")
    assert response.status_code == 201, response.text
    limit = settings.image_max_dimension
    assert (response.json()["width"], response.json()["height"]) == (limit, round(limit * size[1] / size[0]))


class DecodeWatch:
    """Counts the images being decoded at once (Pillow's ``ImageFile.load``, the decoder).

    Each decode waits (bounded) until ``expected`` are under way, so that if more than expected
    could decode at once, they would be seen together. With a ``tracker``, it also notes how many
    database connections the decoding thread holds (``connections_held``, one entry per decode).
    """

    def __init__(self, expected: int, tracker: CheckoutTracker | None = None) -> None:
        self.expected = expected
        self.tracker = tracker
        self.connections_held: list[int] = []
        self.active = 0
        self.most = 0
        self.decodes = 0
        self._lock = threading.Lock()
        self._enough = threading.Event()

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def load(image: ImageFile.ImageFile) -> Any:
            if not image.tile:  # already decoded: no work, not a decode
                return original(image)
            held = self.tracker.held_by_this_thread() if self.tracker is not None else 0
            with self._lock:
                self.connections_held.append(held)
                self.active += 1
                self.decodes += 1
                self.most = max(self.most, self.active)
                if self.active >= self.expected:
                    self._enough.set()
            try:
                self._enough.wait(timeout=5)
                return original(image)
            finally:
                with self._lock:
                    self.active -= 1

        return load


def _multipart_image(content: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = "slot-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def watch_decodes(monkeypatch: pytest.MonkeyPatch) -> Callable[..., DecodeWatch]:
    def watch(expected: int, tracker: CheckoutTracker | None = None) -> DecodeWatch:
        watcher = DecodeWatch(expected, tracker)
        monkeypatch.setattr(ImageFile.ImageFile, "load", watcher.wrap(ImageFile.ImageFile.load))
        return watcher

    return watch


@pytest.mark.parametrize("settings_overrides", [{"image_processing_slots": 2}])
def test_at_most_the_slot_count_of_images_decode_at_once_and_every_upload_completes(
    live_server: str,
    vendor_listing: tuple[Person, int],
    database: Database,
    watch_decodes: Callable[..., DecodeWatch],
) -> None:
    vendor, _first = vendor_listing
    listing_ids = []
    for _ in range(6):  # one listing each: a listing takes 8 images at most
        response = vendor.client.post("/api/v1/listings", json=listing_body())
        listing_ids.append(int(response.json()["id"]))
    body, headers = _multipart_image(_encoded(Image.new("RGBA", (900, 700), (9, 99, 199, 150)), "PNG"))
    authorization = {"authorization": vendor.client.headers["authorization"]}
    uploads = [
        HttpRequest("POST", f"/api/v1/listings/{listing_id}/images", headers={**headers, **authorization}, content=body)
        for listing_id in listing_ids
    ]
    with track_checkouts(database.engine) as tracker:
        watcher = watch_decodes(2, tracker)
        answers = parallel_requests(live_server, uploads, timeout_s=60)

    assert [answer.status for answer in answers] == [201] * 6, [answer.text[:200] for answer in answers]
    assert watcher.decodes == 6
    assert watcher.most == 2  # two at once (the slots are used), never three
    # No upload holds a database connection while it decodes (or waits for a slot).
    assert watcher.connections_held == [0] * 6
    assert tracker.max_per_request() <= 1, tracker.report()
    assert _count(database, ListingImage) == 6
