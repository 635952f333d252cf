"""Listing images: what is served, what is refused, and that a refusal changes nothing."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from marketplace.settings import Settings
from tests.listings.conftest import image_bytes, jpeg_with_gps, open_image
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import Person


def _upload(person: Person, listing_id: int, content: bytes, name: str = "photo.jpg") -> Any:
    return person.client.post(
        f"/api/v1/listings/{listing_id}/images", files={"file": (name, content, "application/octet-stream")}
    )


def _png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_uploaded_photo_loses_its_exif_gps_and_profile(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)
    original = jpeg_with_gps()
    assert open_image(original).getexif().get_ifd(0x8825)  # the test photo does carry a position

    response = _upload(vendor, listing["id"], original)
    assert response.status_code == 201, response.text
    image = response.json()
    assert (image["width"], image["height"]) == (800, 600)
    assert image["url"] == f"/images/{image['id']}"

    served = client.get(image["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "public" in served.headers["cache-control"]
    photo = open_image(served.content)
    assert photo.size == (800, 600)
    assert dict(photo.getexif()) == {}
    assert "exif" not in photo.info
    assert "icc_profile" not in photo.info
    assert "comment" not in photo.info
    assert b"Spy Camera" not in served.content
    assert b"secret comment" not in served.content

    thumbnail = client.get(image["thumbnail_url"])
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert max(open_image(thumbnail.content).size) == 400
    assert dict(open_image(thumbnail.content).getexif()) == {}

    shown = client.get(f"/api/v1/listings/{listing['id']}").json()
    assert shown["images"] == [image]


def test_large_images_are_scaled_down_and_turned_upright(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]], settings: Settings
) -> None:
    listing = create_listing(vendor)
    from PIL import Image

    sideways = Image.new("RGB", (3000, 1500), "navy")
    exif = sideways.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    import io

    out = io.BytesIO()
    sideways.save(out, format="JPEG", exif=exif)
    image = _upload(vendor, listing["id"], out.getvalue()).json()
    limit = settings.image_max_dimension
    assert (image["width"], image["height"]) == (limit // 2, limit)
    assert open_image(client.get(image["url"]).content).size == (limit // 2, limit)


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        (image_bytes((300, 200), fmt="PNG", transparent=True), "png"),
        (image_bytes((300, 200), fmt="WEBP"), "webp"),
        (image_bytes((300, 200), fmt="GIF"), "gif"),
    ],
)
def test_png_webp_and_gif_become_jpeg(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]], content: bytes, fmt: str
) -> None:
    listing = create_listing(vendor)
    response = _upload(vendor, listing["id"], content, name=f"picture.{fmt}")
    assert response.status_code == 201, response.text
    served = client.get(response.json()["url"])
    assert served.headers["content-type"] == "image/jpeg"
    assert open_image(served.content).format == "JPEG"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"This is a text file, not a photo.\n", "not a JPEG, PNG, WebP or GIF"),
        (image_bytes((400, 300), fmt="BMP"), "not a JPEG, PNG, WebP or GIF"),
        (image_bytes((1200, 900), quality=95)[:5000], "damaged or truncated"),
        (_png_header_claiming(7_000, 7_000), "7000×7000 pixels"),
        (_png_header_claiming(10_000, 10_000), "too many pixels"),
        (_png_header_claiming(100_000, 100_000), "too many pixels"),
    ],
    ids=["empty", "text", "bmp", "truncated-jpeg", "too-many-pixels", "bomb-warning", "bomb-error"],
)
def test_bad_uploads_are_refused_and_nothing_is_saved(
    vendor: Person,
    client: SiteClient,
    create_listing: Callable[..., dict[str, Any]],
    content: bytes,
    message: str,
) -> None:
    listing = create_listing(vendor)
    first = _upload(vendor, listing["id"], image_bytes())
    assert first.status_code == 201
    before = client.get(f"/api/v1/listings/{listing['id']}").json()

    response = _upload(vendor, listing["id"], content, name="holiday.jpg")
    assert_api_error(response, 422, "invalid", field="file", message=message)
    assert client.get(f"/api/v1/listings/{listing['id']}").json() == before


@pytest.mark.parametrize("settings_overrides", [{"image_max_bytes": 2048}])
def test_oversized_upload_is_refused_before_decoding(
    sign_up: Callable[..., Person], create_listing: Callable[..., dict[str, Any]]
) -> None:
    vendor = sign_up()
    listing = create_listing(vendor)
    # One byte over the image limit, well within the route's body limit (far over it is a 413:
    # tests/web/test_body_limits.py).
    small = image_bytes((20, 20), fmt="PNG", color="white")
    big = small + b"\0" * (2048 + 1 - len(small))
    assert_api_error(_upload(vendor, listing["id"], big), 422, "invalid", field="file", message="larger than")
    assert vendor.client.get(f"/api/v1/listings/{listing['id']}").json()["images"] == []


@pytest.mark.parametrize("settings_overrides", [{"image_max_pixels": 10_000}])
def test_pixel_limit_applies_to_real_images(
    sign_up: Callable[..., Person], create_listing: Callable[..., dict[str, Any]]
) -> None:
    vendor = sign_up()
    listing = create_listing(vendor)
    response = _upload(vendor, listing["id"], image_bytes((1, 10_001), fmt="PNG"))
    assert_api_error(response, 422, "invalid", field="file", message="1×10001 pixels")
    assert _upload(vendor, listing["id"], image_bytes((1, 10_000), fmt="PNG")).status_code == 201


def test_a_ninth_image_is_refused(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)
    ids = [_upload(vendor, listing["id"], image_bytes((40, 30), color=f"#0000{n:02x}")).json()["id"] for n in range(8)]
    ninth = _upload(vendor, listing["id"], image_bytes((40, 30)))
    assert_api_error(ninth, 422, "invalid", field="file", message="at most 8 images")
    assert [image["id"] for image in client.get(f"/api/v1/listings/{listing['id']}").json()["images"]] == ids


def test_removing_an_image_keeps_the_others_in_order(
    vendor: Person,
    other_vendor: Person,
    client: SiteClient,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    listing = create_listing(vendor)
    ids = [_upload(vendor, listing["id"], image_bytes((40, 30))).json()["id"] for _ in range(3)]
    url = f"/api/v1/listings/{listing['id']}/images/{ids[1]}"
    assert_api_error(other_vendor.client.delete(url), 404, "not_found", message="no such listing")
    assert_api_error(client.delete(url), 401, "not_authenticated")
    assert vendor.client.delete(url).status_code == 204
    assert_api_error(vendor.client.delete(url), 404, "not_found", message="no such image")
    assert [image["id"] for image in client.get(f"/api/v1/listings/{listing['id']}").json()["images"]] == [
        ids[0],
        ids[2],
    ]
    assert client.get(f"/images/{ids[1]}").status_code == 404
    fourth = _upload(vendor, listing["id"], image_bytes((40, 30))).json()["id"]
    assert [image["id"] for image in client.get(f"/api/v1/listings/{listing['id']}").json()["images"]] == [
        ids[0],
        ids[2],
        fourth,
    ]


def test_only_the_vendor_adds_images(
    vendor: Person, other_vendor: Person, buyer: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)
    assert_api_error(_upload(other_vendor, listing["id"], image_bytes()), 404, "not_found")
    assert_api_error(_upload(buyer, listing["id"], image_bytes()), 403, "forbidden")
    assert_api_error(_upload(vendor, 999_999, image_bytes()), 404, "not_found")
    missing_file = vendor.client.post(f"/api/v1/listings/{listing['id']}/images", data={"x": "y"})
    assert_api_error(missing_file, 422, "invalid", field="file")
    assert vendor.client.get(f"/api/v1/listings/{listing['id']}").json()["images"] == []


def test_images_of_unlisted_listings_are_only_for_their_vendor(
    vendor: Person, other_vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)
    image = _upload(vendor, listing["id"], image_bytes()).json()
    vendor.client.patch(f"/api/v1/listings/{listing['id']}", json={"status": "paused"})
    for path in (image["url"], image["thumbnail_url"]):
        assert client.get(path).status_code == 404
        assert other_vendor.client.get(path).status_code == 404
        own = vendor.client.get(path)
        assert own.status_code == 200
        assert own.headers["content-type"] == "image/jpeg"
        assert "public" not in own.headers["cache-control"]
    vendor.client.delete(f"/api/v1/listings/{listing['id']}")
    assert vendor.client.get(image["url"]).status_code == 404
    for impossible in ("abc", "0", "99999999999999999999", "123456"):
        assert client.get(f"/images/{impossible}").status_code == 404
        assert client.get(f"/images/{impossible}/thumbnail").status_code == 404


def test_a_browser_revalidates_an_image_cheaply(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)
    image = _upload(vendor, listing["id"], image_bytes()).json()
    first = client.get(image["url"])
    etag = first.headers["etag"]
    again = client.get(image["url"], headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(image["thumbnail_url"]).headers["etag"] != etag
