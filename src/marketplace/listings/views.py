"""HTML pages of the listings domain (they work with JavaScript disabled).

Reading pages are plain ``def`` (synchronous database work in the thread pool), except the
browse page: like the list API, it answers remembered results on the event loop and otherwise
goes through the thread pool once. Form posts are ``async def`` because the form and its files
are read asynchronously; their database work then runs in the thread pool too. Every page
action runs its service through ``web.pages.attempt``: a refusal rolls the request's transaction
back (whatever the service wrote before refusing), then the form is shown again (4xx) with the
message and what the vendor typed.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts.auth import SESSION_COOKIE, OptionalPageUser, PageUser, page_user_optional
from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.accounts.services import find_user_by_username
from marketplace.db.engine import Database
from marketplace.errors import InvalidInput, MarketplaceError, NotFound
from marketplace.listings import services
from marketplace.listings.catalog_cache import Catalog
from marketplace.listings.forms import ListingForm, uploaded_files
from marketplace.listings.listing_sql import SortOrder
from marketplace.listings.models import CATEGORIES, DescriptionFormat, Listing, ListingStatus
from marketplace.listings.queries import (
    SORT_LABELS,
    browse_listings,
    clean_search_term,
    image_content,
    vendor_own_listings,
)
from marketplace.listings.rendering import render_description
from marketplace.monero.amounts import FORM_MESSAGE, PRICE_PATTERN
from marketplace.reviews import services as reviews
from marketplace.reviews import views as reviews_views
from marketplace.settings import Settings
from marketplace.web import routing
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import (
    CatalogDep,
    DatabaseDep,
    DbSession,
    SettingsDep,
    keep_signed_in_user_readable,
)
from marketplace.web.numbers import parse_id, parse_page
from marketplace.web.pages import attempt, attempt_async, form_page, notice_from, redirect
from marketplace.web.templating import ENVIRONMENT, render

router = routing.router(dependencies=[Depends(verify_csrf)])


async def _signed_in_vendor(user: PageUser) -> User:
    services.require_vendor(user)
    return user


# Whoever is signed in on a page, or None.
Viewer = OptionalPageUser
# The signed-in user of a page, who must be an active vendor (a buyer gets the 403 page).
Vendor = Annotated[User, Depends(_signed_in_vendor)]

NOTICES = {
    "created": "Your listing is published.",
    "saved": "Your changes are saved.",
    "paused": "The listing is paused: nobody else sees it until you resume it.",
    "resumed": "The listing is active again.",
    "deleted": "The listing is deleted.",
    "image-removed": "The image is removed.",
}
_FORMATS = {DescriptionFormat.PLAIN.value: "Plain text", DescriptionFormat.MARKDOWN.value: "Markdown"}


def _browse_params(request: Request) -> tuple[dict[str, Any], str | None]:
    """Read q, category, sort and page from the query; the second value is the complaint, if any."""
    params = request.query_params
    category = params.get("category", "")
    sort_text = params.get("sort", "") or SortOrder.NEWEST.value
    # Only the cleaned query and known values are shown again or used as a key.
    values: dict[str, Any] = {
        "q": clean_search_term(params.get("q")),
        "category": "",
        "sort": SortOrder.NEWEST.value,
        "page": 1,
    }
    if category and category not in CATEGORIES:
        return values, "There is no such category; choose one from the list."
    values["category"] = category
    if sort_text not in SORT_LABELS:
        return values, "Sort by newest, price or title."
    values["sort"] = sort_text
    try:
        values["page"] = parse_page(params.get("page"))
    except InvalidInput as exc:
        return values, exc.message
    return values, None


def _page_link(base: str, values: dict[str, Any], page: int) -> str:
    query = {name: values[name] for name in ("q", "category", "sort") if values.get(name)}
    if query.get("sort") == SortOrder.NEWEST.value:
        del query["sort"]
    if page > 1:
        query["page"] = str(page)
    return f"{base}?{urlencode(query)}" if query else base


@router.get("/")
async def browse(request: Request, database: DatabaseDep, catalog: CatalogDep, settings: SettingsDep) -> Response:
    # The hot path, served like the list API. A visitor who is not signed in, asking for results
    # remembered at the current catalog version, is answered on the event loop: on SQLite the
    # version is a primary-key read on the reader's own connection, and nothing else touches the
    # database. Anything else (a signed-in visitor, whose session is looked up; results to
    # compute) is one trip through the thread pool.
    values, complaint = _browse_params(request)
    if complaint is None and not request.cookies.get(SESSION_COOKIE) and catalog.version.is_local:
        key = _results_key(values, settings.listings_page_size)
        results_html = catalog.browse_html.get(key, catalog.version.read())
        if results_html is not None:
            request.state.user = request.state.web_session = None  # what page_user_optional finds
            return _browse_page(request, values, complaint, results_html)
    return await run_in_threadpool(_browse_in_thread, request, database, catalog, settings)


def _browse_in_thread(request: Request, database: Database, catalog: Catalog, settings: Settings) -> Response:
    # The session is opened here rather than through the DbSession and Viewer dependencies (each
    # would be a trip through the thread pool of its own).
    values, complaint = _browse_params(request)
    results_html = None
    with database.session() as db:
        page_user_optional(request, db, settings)
        keep_signed_in_user_readable(request, db)  # this session is not DbSession's
        if not complaint:
            results_html = _browse_results(db, catalog, values, settings.listings_page_size)
    return _browse_page(request, values, complaint, results_html)


def _browse_page(
    request: Request, values: dict[str, Any], complaint: str | None, results_html: Markup | None
) -> Response:
    context: dict[str, Any] = {**values, "sort_labels": SORT_LABELS, "error_message": complaint}
    status = 422 if results_html is None else 200
    return render(request, "listings/browse.html", {**context, "results_html": results_html}, status_code=status)


def _results_key(values: dict[str, Any], page_size: int) -> tuple[Any, ...]:
    return (values["q"], values["category"], values["sort"], values["page"], page_size)


def _browse_results(db: Session, catalog: Catalog, values: dict[str, Any], page_size: int) -> Markup:
    """The results part of the browse page (count, cards, pages), as HTML.

    It shows nothing of the viewer, so it is rendered once per catalog version and query and
    remembered like the pages themselves: the version is read first, and a remembered part is
    used only if it was rendered at that version (never stale).
    """
    version = catalog.version.read()
    key = _results_key(values, page_size)
    html = catalog.browse_html.get(key, version)
    if html is None:
        result = browse_listings(
            db,
            q=values["q"],
            category=values["category"] or None,
            sort=SortOrder(values["sort"]),
            page=values["page"],
            page_size=page_size,
            cache=catalog.pages,
            counts=catalog.counts,
            version=version,
        )
        links = {
            "previous": _page_link("/", values, result.page - 1) if result.has_previous else None,
            "next": _page_link("/", values, result.page + 1) if result.has_next else None,
            "first": _page_link("/", values, 1),
        }
        context = {"result": result, "links": links, "q": values["q"], "category": values["category"]}
        html = Markup(ENVIRONMENT.get_template("listings/_browse_results.html").render(context))  # noqa: S704  (autoescaped)
        catalog.browse_html.put(key, version, html)
    return html


@router.get("/listings/{listing_id}")
def listing_page(listing_id: str, request: Request, db: DbSession, viewer: Viewer) -> Response:
    listing = services.listing_for_viewer(db, parse_id(listing_id, "listing"), viewer)
    context = {
        "listing": listing,
        "description_html": render_description(listing.description, listing.description_format),
        "is_owner": viewer is not None and viewer.id == listing.vendor_id,
        "notice": notice_from(request, NOTICES),
    }
    return render(request, "listings/detail.html", context)


@router.get("/vendors/{username}")
def vendor_page(
    username: str, request: Request, *, db: DbSession, _viewer: Viewer, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    vendor = find_user_by_username(db, username) if len(username) <= 64 else None
    if vendor is None or vendor.role is not Role.VENDOR or vendor.status is not AccountStatus.ACTIVE:
        raise NotFound("There is no such vendor.")
    result = browse_listings(
        db,
        vendor_id=vendor.id,
        page=parse_page(request.query_params.get("page")),
        page_size=settings.listings_page_size,
        cache=catalog.pages,
        counts=catalog.counts,
    )
    base = f"/vendors/{vendor.username}"
    values = {"q": "", "category": "", "sort": ""}
    links = {
        "previous": _page_link(base, values, result.page - 1) if result.has_previous else None,
        "next": _page_link(base, values, result.page + 1) if result.has_next else None,
        "first": base,
    }
    context = {
        "vendor": vendor,
        "result": result,
        "links": links,
        "reviews": reviews.of_vendor(db, vendor.id),
        "notice": notice_from(request, reviews_views.NOTICES),
    }
    return render(request, "listings/vendor.html", context)


def _sell_page(request: Request, db: Session, vendor: User, error: MarketplaceError | None = None) -> Response:
    context = {"listings": vendor_own_listings(db, vendor.id), "notice": notice_from(request, NOTICES)}
    return form_page(request, "listings/sell.html", context, error)


@router.get("/sell")
def sell_page(request: Request, db: DbSession, vendor: Vendor) -> Response:
    return _sell_page(request, db, vendor)


def _form_page(
    request: Request,
    settings: Settings,
    form: ListingForm,
    listing: Listing | None,
    error: MarketplaceError | None = None,
) -> Response:
    context = {
        "form": form,
        "listing": listing,
        "formats": _FORMATS,
        "max_images": settings.listing_max_images,
        "notice": notice_from(request, NOTICES),
        "price_pattern": PRICE_PATTERN,
        "price_rule": FORM_MESSAGE,
    }
    return form_page(request, "listings/form.html", context, error)


@router.get("/sell/new")
def new_listing_form(request: Request, vendor: Vendor, settings: SettingsDep) -> Response:
    return _form_page(request, settings, ListingForm(), None)


@router.post("/sell/new")
async def create_listing(request: Request, db: DbSession, vendor: Vendor, settings: SettingsDep) -> Response:
    form_data = await request.form()
    form = ListingForm.from_form(form_data)
    uploads = await uploaded_files(form_data, "images", settings.image_max_bytes)
    listing = await attempt_async(
        db,
        lambda: run_in_threadpool(
            lambda: services.create_listing(db, vendor, form.fields(), images=uploads, settings=settings)
        ),
    )
    if isinstance(listing, MarketplaceError):
        await run_in_threadpool(db.refresh, vendor)  # the rollback expired it; the page shows who is signed in
        return _form_page(request, settings, form, None, listing)
    return redirect(f"/listings/{listing.id}", notice="created")


@router.get("/listings/{listing_id}/edit")
def edit_listing_form(
    listing_id: str, request: Request, db: DbSession, vendor: Vendor, settings: SettingsDep
) -> Response:
    listing = services.owned_listing(db, vendor, parse_id(listing_id, "listing"))
    return _form_page(request, settings, ListingForm.of(listing), listing)


def _listing_for_form(db: Session, vendor: User, listing_id: int) -> Listing:
    """The listing to show under a refused form, read afresh after the rollback.

    Called in the thread pool: its images are loaded here, not by the template on the event loop.
    """
    listing = services.owned_listing(db, vendor, listing_id)
    _ = listing.images
    return listing


@router.post("/listings/{listing_id}/edit")
async def edit_listing(
    listing_id: str, request: Request, db: DbSession, vendor: Vendor, settings: SettingsDep
) -> Response:
    number = parse_id(listing_id, "listing")
    form_data = await request.form()
    form = ListingForm.from_form(form_data)
    uploads = await uploaded_files(form_data, "images", settings.image_max_bytes)
    saved = await attempt_async(
        db,
        lambda: run_in_threadpool(
            lambda: services.update_listing(db, vendor, number, form.fields(), images=uploads, settings=settings)
        ),
    )
    if isinstance(saved, MarketplaceError):
        listing = await run_in_threadpool(_listing_for_form, db, vendor, number)
        return _form_page(request, settings, form, listing, saved)
    return redirect(f"/listings/{number}/edit", notice="saved")


def _status_action(status: ListingStatus, notice: str) -> Any:
    def action(listing_id: str, request: Request, db: DbSession, vendor: Vendor) -> Response:
        number = parse_id(listing_id, "listing")
        refused = attempt(db, lambda: services.set_listing_status(db, vendor, number, status))
        if isinstance(refused, MarketplaceError):
            # The vendor's list as it is now, saying why (gone, or never theirs: the same 404).
            return _sell_page(request, db, vendor, refused)
        return redirect("/sell", notice=notice)

    return action


router.post("/listings/{listing_id}/pause")(_status_action(ListingStatus.PAUSED, "paused"))
router.post("/listings/{listing_id}/resume")(_status_action(ListingStatus.ACTIVE, "resumed"))
router.post("/listings/{listing_id}/delete")(_status_action(ListingStatus.DELETED, "deleted"))


@router.post("/listings/{listing_id}/images/{image_id}/delete")
def remove_image(
    listing_id: str, image_id: str, request: Request, *, db: DbSession, vendor: Vendor, settings: SettingsDep
) -> Response:
    number = parse_id(listing_id, "listing")
    refused = attempt(db, lambda: services.remove_image(db, vendor, number, parse_id(image_id, "image")))
    if isinstance(refused, MarketplaceError):
        # The image is gone (removed in another tab, say): the edit form again, saying so.
        listing = _listing_for_form(db, vendor, number)
        return _form_page(request, settings, ListingForm.of(listing), listing, refused)
    return redirect(f"/listings/{number}/edit", notice="image-removed")


# Image ids are never reused and an image never changes, so a browser may keep it; a day, not a
# year, so that a listing hidden by a moderator stops being served from shared caches soon.
_PUBLIC_CACHE = "public, max-age=86400, immutable"
_PRIVATE_CACHE = "no-store"  # what web/private_caching.py gives every signed-in answer anyway


def _serve_image(image_id: str, request: Request, db: Session, settings: Settings, *, thumbnail: bool) -> Response:
    number = parse_id(image_id, "image")
    image = image_content(db, number, thumbnail=thumbnail)
    if image is None or image.listing_deleted:
        raise NotFound("There is no such image.")
    viewer = page_user_optional(request, db, settings)
    if not image.publicly_visible and not services.can_see_unlisted(viewer, image.vendor_id):
        raise NotFound("There is no such image.")
    etag = f'"{image.sha256[:32]}{"-t" if thumbnail else ""}"'
    headers = {"ETag": etag, "Cache-Control": _PUBLIC_CACHE if image.publicly_visible else _PRIVATE_CACHE}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(image.content, media_type=image.content_type, headers=headers)


@router.get("/images/{image_id}")
def image_file(image_id: str, request: Request, db: DbSession, settings: SettingsDep) -> Response:
    return _serve_image(image_id, request, db, settings, thumbnail=False)


@router.get("/images/{image_id}/thumbnail")
def image_thumbnail(image_id: str, request: Request, db: DbSession, settings: SettingsDep) -> Response:
    return _serve_image(image_id, request, db, settings, thumbnail=True)
