"""HTML pages of the listings domain (they work with JavaScript disabled).

Reading pages are plain ``def`` (synchronous database work in the thread pool). Form posts are
``async def`` because the form and its files are read asynchronously; their database work then
runs in the thread pool too. A refused form is shown again (422) with the message and what the
vendor typed; nothing is saved.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from marketplace.accounts.auth import OptionalPageUser, PageUser, page_user_optional
from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.accounts.services import find_user_by_username
from marketplace.errors import InvalidInput, NotFound
from marketplace.listings import services
from marketplace.listings.forms import ListingForm, uploaded_files
from marketplace.listings.models import CATEGORIES, DescriptionFormat, Listing, ListingStatus
from marketplace.listings.queries import (
    MAX_PAGE,
    SORT_LABELS,
    SortOrder,
    browse_listings,
    image_content,
    vendor_own_listings,
)
from marketplace.listings.rendering import render_description
from marketplace.monero.amounts import format_xmr
from marketplace.settings import Settings
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import DbSession, keep_signed_in_user_readable, runtime_of, settings_of
from marketplace.web.templating import render

router = APIRouter(dependencies=[Depends(verify_csrf)])


def _signed_in_vendor(user: PageUser) -> User:
    services.require_vendor(user)
    return user


# Whoever is signed in on a page, or None.
Viewer = OptionalPageUser
# The signed-in user of a page, who must be an active vendor (a buyer gets the 403 page).
Vendor = Annotated[User, Depends(_signed_in_vendor)]

MAX_ID = 2_147_483_647
NOTICES = {
    "created": "Your listing is published.",
    "saved": "Your changes are saved.",
    "paused": "The listing is paused: nobody else sees it until you resume it.",
    "resumed": "The listing is active again.",
    "deleted": "The listing is deleted.",
    "image-removed": "The image is removed.",
}


def _settings(request: Request) -> Settings:
    return settings_of(request)


def _id(text: str, what: str = "listing") -> int:
    """A path id; anything that cannot be an id is simply not found."""
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not 1 <= int(text) <= MAX_ID:
        raise NotFound(f"There is no such {what}.")
    return int(text)


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def _browse_params(request: Request) -> tuple[dict[str, Any], str | None]:
    """Read q, category, sort and page from the query; the second value is the complaint, if any."""
    params = request.query_params
    q = params.get("q", "")
    category = params.get("category", "")
    sort_text = params.get("sort", "") or SortOrder.NEWEST.value
    page_text = params.get("page", "").strip() or "1"
    values: dict[str, Any] = {"q": q, "category": category, "sort": sort_text, "page": 1}
    if category and category not in CATEGORIES:
        return values, "There is no such category; choose one from the list."
    if sort_text not in SORT_LABELS:
        return values, "Sort by newest, price or title."
    page = _page_number(page_text)
    if page is None:
        return values, "The page is a whole number, 1 or more."
    values["page"] = page
    return values, None


def _page_number(text: str) -> int | None:
    """A page number from the query; None if it is not one. Absurdly long numbers mean "far away"."""
    if not text.isascii() or not text.isdigit():
        return None
    page = int(text) if len(text) <= 12 else MAX_PAGE
    return page if page >= 1 else None


def _page_link(base: str, values: dict[str, Any], page: int) -> str:
    query = {name: values[name] for name in ("q", "category", "sort") if values.get(name)}
    if query.get("sort") == SortOrder.NEWEST.value:
        del query["sort"]
    if page > 1:
        query["page"] = str(page)
    return f"{base}?{urlencode(query)}" if query else base


@router.get("/")
def browse(request: Request) -> Response:
    # The hot path: one trip through the thread pool, so the session is opened here rather than
    # through the DbSession and Viewer dependencies (each a trip of its own).
    values, complaint = _browse_params(request)
    context: dict[str, Any] = {**values, "sort_labels": SORT_LABELS, "error_message": complaint}
    runtime = runtime_of(request)
    with runtime.database.session() as db:
        page_user_optional(request, db, runtime.settings)
        keep_signed_in_user_readable(request, db)  # this session is not DbSession's
        result = None
        if not complaint:
            result = browse_listings(
                db,
                q=values["q"],
                category=values["category"] or None,
                sort=SortOrder(values["sort"]),
                page=values["page"],
                page_size=_settings(request).listings_page_size,
                cache=runtime.catalog.pages,
            )
    if result is None:
        return render(request, "listings/browse.html", {**context, "result": None}, status_code=422)
    links = {
        "previous": _page_link("/", values, result.page - 1) if result.has_previous else None,
        "next": _page_link("/", values, result.page + 1) if result.has_next else None,
        "first": _page_link("/", values, 1),
    }
    return render(request, "listings/browse.html", {**context, "result": result, "links": links})


@router.get("/listings/{listing_id}")
def listing_page(listing_id: str, request: Request, db: DbSession, viewer: Viewer) -> Response:
    listing = services.listing_for_viewer(db, _id(listing_id), viewer)
    context = {
        "listing": listing,
        "description_html": render_description(listing.description, listing.description_format),
        "is_owner": viewer is not None and viewer.id == listing.vendor_id,
        "notice": _notice(request),
    }
    return render(request, "listings/detail.html", context)


@router.get("/vendors/{username}")
def vendor_page(username: str, request: Request, db: DbSession, viewer: Viewer) -> Response:
    vendor = find_user_by_username(db, username) if len(username) <= 64 else None
    if vendor is None or vendor.role != Role.VENDOR.value or vendor.status != AccountStatus.ACTIVE.value:
        raise NotFound("There is no such vendor.")
    page = _page_number(request.query_params.get("page", "1")) or 1
    result = browse_listings(
        db,
        vendor_id=vendor.id,
        page=page,
        page_size=_settings(request).listings_page_size,
        cache=runtime_of(request).catalog.pages,
    )
    values = {"q": "", "category": "", "sort": ""}
    links = {
        "previous": _page_link(f"/vendors/{vendor.username}", values, result.page - 1) if result.has_previous else None,
        "next": _page_link(f"/vendors/{vendor.username}", values, result.page + 1) if result.has_next else None,
        "first": f"/vendors/{vendor.username}",
    }
    return render(request, "listings/vendor.html", {"vendor": vendor, "result": result, "links": links})


@router.get("/sell")
def sell_page(request: Request, db: DbSession, vendor: Vendor) -> Response:
    listings = vendor_own_listings(db, vendor.id)
    return render(request, "listings/sell.html", {"listings": listings, "notice": _notice(request)})


def _form_page(
    request: Request, form: ListingForm, listing: Listing | None, *, status_code: int = 200, error: str | None = None
) -> Response:
    context = {
        "form": form,
        "listing": listing,
        "formats": {DescriptionFormat.PLAIN.value: "Plain text", DescriptionFormat.MARKDOWN.value: "Markdown"},
        "max_images": _settings(request).listing_max_images,
        "error_message": error,
        "notice": _notice(request),
    }
    return render(request, "listings/form.html", context, status_code=status_code)


def _refused(request: Request, form: ListingForm, listing: Listing | None, exc: InvalidInput) -> Response:
    if exc.field:
        form.errors[exc.field] = exc.message
    return _form_page(request, form, listing, status_code=exc.status_code, error=exc.message)


@router.get("/sell/new")
def new_listing_form(request: Request, vendor: Vendor) -> Response:
    return _form_page(request, ListingForm(), None)


@router.post("/sell/new")
async def create_listing(request: Request, db: DbSession, vendor: Vendor) -> Response:
    settings = _settings(request)
    form_data = await request.form()
    form = ListingForm.from_form(form_data)
    try:
        uploads = await uploaded_files(form_data, "images", settings.image_max_bytes)
        listing = await run_in_threadpool(
            lambda: services.create_listing(
                db,
                vendor,
                title=form.title,
                description=form.description,
                description_format=form.description_format,
                price_atomic=form.price_atomic(),
                stock=form.stock_count(),
                category=form.category,
                images=uploads,
                settings=settings,
            )
        )
    except InvalidInput as exc:
        return _refused(request, form, None, exc)
    return RedirectResponse(f"/listings/{listing.id}?notice=created", status_code=303)


@router.get("/listings/{listing_id}/edit")
def edit_listing_form(listing_id: str, request: Request, db: DbSession, vendor: Vendor) -> Response:
    listing = services.owned_listing(db, vendor, _id(listing_id))
    form = ListingForm(
        title=listing.title,
        description=listing.description,
        description_format=listing.description_format,
        price=format_xmr(listing.price_atomic),
        stock=str(listing.stock),
        category=listing.category,
    )
    return _form_page(request, form, listing)


@router.post("/listings/{listing_id}/edit")
async def edit_listing(listing_id: str, request: Request, db: DbSession, vendor: Vendor) -> Response:
    settings = _settings(request)
    listing = await run_in_threadpool(services.owned_listing, db, vendor, _id(listing_id))
    form_data = await request.form()
    form = ListingForm.from_form(form_data)
    try:
        uploads = await uploaded_files(form_data, "images", settings.image_max_bytes)
        await run_in_threadpool(
            lambda: services.update_listing(
                db,
                vendor,
                listing.id,
                title=form.title,
                description=form.description,
                description_format=form.description_format,
                price_atomic=form.price_atomic(),
                stock=form.stock_count(),
                category=form.category,
                images=uploads,
                settings=settings,
            )
        )
    except InvalidInput as exc:
        return _refused(request, form, listing, exc)
    return RedirectResponse(f"/listings/{listing.id}/edit?notice=saved", status_code=303)


def _status_action(status: ListingStatus, notice: str) -> Any:
    def action(listing_id: str, db: DbSession, vendor: Vendor) -> Response:
        services.set_listing_status(db, vendor, _id(listing_id), status)
        return RedirectResponse(f"/sell?notice={notice}", status_code=303)

    return action


router.post("/listings/{listing_id}/pause")(_status_action(ListingStatus.PAUSED, "paused"))
router.post("/listings/{listing_id}/resume")(_status_action(ListingStatus.ACTIVE, "resumed"))
router.post("/listings/{listing_id}/delete")(_status_action(ListingStatus.DELETED, "deleted"))


@router.post("/listings/{listing_id}/images/{image_id}/delete")
def remove_image(listing_id: str, image_id: str, db: DbSession, vendor: Vendor) -> Response:
    listing_number = _id(listing_id)
    services.remove_image(db, vendor, listing_number, _id(image_id, "image"))
    return RedirectResponse(f"/listings/{listing_number}/edit?notice=image-removed", status_code=303)


# Image ids are never reused and an image never changes, so a browser may keep it; a day, not a
# year, so that a listing hidden by a moderator stops being served from shared caches soon.
_PUBLIC_CACHE = "public, max-age=86400, immutable"
_PRIVATE_CACHE = "private, no-cache"


def _serve_image(image_id: str, request: Request, db: Session, *, thumbnail: bool) -> Response:
    number = _id(image_id, "image")
    image = image_content(db, number, thumbnail=thumbnail)
    if image is None or image.listing_deleted:
        raise NotFound("There is no such image.")
    viewer = page_user_optional(request, db, settings_of(request))
    if not image.publicly_visible and not services.can_see_unlisted(viewer, image.vendor_id):
        raise NotFound("There is no such image.")
    etag = f'"{image.sha256[:32]}{"-t" if thumbnail else ""}"'
    headers = {"ETag": etag, "Cache-Control": _PUBLIC_CACHE if image.publicly_visible else _PRIVATE_CACHE}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(image.content, media_type=image.content_type, headers=headers)


@router.get("/images/{image_id}")
def image_file(image_id: str, request: Request, db: DbSession) -> Response:
    return _serve_image(image_id, request, db, thumbnail=False)


@router.get("/images/{image_id}/thumbnail")
def image_thumbnail(image_id: str, request: Request, db: DbSession) -> Response:
    return _serve_image(image_id, request, db, thumbnail=True)
