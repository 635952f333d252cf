"""Another vendor's listing answers exactly like a listing that does not exist, on pages and in the API.

A vendor asking to edit someone else's paused (or hidden) listing must not learn that it exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.listings.models import Listing
from tests.listings.conftest import image_bytes
from tests.support.factories import Person

_FORM = {"title": "Mine now", "description": "Taken.", "price": "1", "stock": "1", "category": "other"}
_NO_SUCH = 2_000_000_000


def _api_answers(stranger: Person, listing_id: int, image_id: int) -> list[tuple[int, Any]]:
    url = f"/api/v1/listings/{listing_id}"
    answers = [
        stranger.client.patch(url, json={"title": "Mine now"}),
        stranger.client.patch(url, json={"status": "active"}),
        stranger.client.delete(url),
        stranger.client.post(f"{url}/images", files={"file": ("a.png", image_bytes(), "image/png")}),
        stranger.client.delete(f"{url}/images/{image_id}"),
        stranger.client.get(url),
    ]
    return [(answer.status_code, answer.json()) for answer in answers]


def _visible_text(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def _page_answers(stranger: Person, listing_id: int, image_id: int) -> list[tuple[int, str]]:
    page = f"/listings/{listing_id}"
    actions = ("edit", "pause", "resume", "delete", f"images/{image_id}/delete")
    answers = [stranger.client.get(f"{page}/edit"), stranger.client.get(page)]
    answers += [stranger.client.submit("/sell", f"{page}/{action}", _FORM) for action in actions]
    return [(answer.status_code, _visible_text(answer.text)) for answer in answers]


def test_a_strangers_paused_or_hidden_listing_answers_like_no_listing(
    vendor: Person,
    other_vendor: Person,
    database: Database,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    paused = create_listing(vendor, title="Paused lamp")
    hidden = create_listing(vendor, title="Hidden lamp")
    for listing in (paused, hidden):
        upload = vendor.client.post(
            f"/api/v1/listings/{listing['id']}/images", files={"file": ("a.png", image_bytes(), "image/png")}
        )
        listing["image"] = upload.json()["id"]
    assert vendor.client.patch(f"/api/v1/listings/{paused['id']}", json={"status": "paused"}).status_code == 200
    with database.session() as session:
        session.execute(update(Listing).where(Listing.id == hidden["id"]).values(hidden_at=utcnow()))

    nothing_api = _api_answers(other_vendor, _NO_SUCH, _NO_SUCH)
    nothing_pages = _page_answers(other_vendor, _NO_SUCH, _NO_SUCH)
    assert {status for status, _ in nothing_api + nothing_pages} == {404}
    for listing in (paused, hidden):
        assert _api_answers(other_vendor, listing["id"], listing["image"]) == nothing_api
        answers = _page_answers(other_vendor, listing["id"], listing["image"])
        assert answers == nothing_pages
    owner_view = vendor.client.get(f"/api/v1/listings/{paused['id']}").json()
    assert owner_view["title"] == "Paused lamp"
    assert owner_view["status"] == "paused"
    assert len(owner_view["images"]) == 1
