"""JSON API of the listings domain, mounted under /api/v1.

Database work is synchronous SQLAlchemy, so these endpoints are plain ``def`` (FastAPI runs them
in its thread pool). Errors are domain exceptions; ``web/errors.py`` turns them into the one JSON
error shape.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import File, Query, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from marketplace.accounts.auth import ApiUser, OptionalApiUser
from marketplace.db.engine import Database
from marketplace.errors import InvalidInput
from marketplace.listings import services
from marketplace.listings.catalog_cache import CatalogCache
from marketplace.listings.listing_sql import SortOrder
from marketplace.listings.models import ListingStatus
from marketplace.listings.queries import BrowseQuery, clean_search_term, page_rows
from marketplace.listings.schemas import (
    ImageOut,
    ListingCreate,
    ListingOut,
    ListingPageOut,
    ListingPatch,
    image_out,
    listing_out,
    row_json,
)
from marketplace.web import routing
from marketplace.web.dependencies import CatalogDep, DatabaseDep, DbSession, SettingsDep
from marketplace.web.numbers import ImageId, ListingId, PageNumber, PageSize

router = routing.router(tags=["listings"])


@router.post("/listings", status_code=201, response_model=ListingOut, summary="Create a listing (vendors)")
def create_listing(body: ListingCreate, vendor: ApiUser, db: DbSession, settings: SettingsDep) -> ListingOut:
    listing = services.create_listing(db, vendor, services.ListingFields(**body.model_dump()), settings=settings)
    return listing_out(listing)


@router.get("/listings", response_model=ListingPageOut, summary="Browse and search visible listings")
async def list_listings(
    *,
    catalog: CatalogDep,
    database: DatabaseDep,
    settings: SettingsDep,
    q: Annotated[
        str | None,
        Query(
            description="Words to find in titles and descriptions: a listing matches when it contains every "
            "word, whatever their case and accents (docs/search.md). Text without a letter or digit matches nothing."
        ),
    ] = None,
    category: Annotated[str | None, Query(description="A category key.")] = None,
    sort: SortOrder = SortOrder.NEWEST,
    page: PageNumber = 1,
    page_size: PageSize = None,
) -> Response:
    # The hot path. The answer's bytes are remembered per catalog version (never stale: see
    # catalog_cache.py); checking the version is one primary-key read on a dedicated connection,
    # done on the event loop. Only a miss goes to the thread pool to query the database.
    if category:
        services.check_category(category)
    key = (clean_search_term(q) or None, category or None, sort, page, page_size or settings.listings_page_size)
    reader = catalog.version
    version = reader.read() if reader.is_local else await run_in_threadpool(reader.read)
    cache = catalog.json_bodies
    body = cache.get(key, version)
    if body is None:
        body = await run_in_threadpool(_listing_page_json, database, key, catalog.counts)
        cache.put(key, version, body)
    # Returned as bytes, so FastAPI does not validate it again: the model documents the shape.
    return Response(body, media_type="application/json")


def _listing_page_json(
    database: Database,
    key: tuple[str | None, str | None, SortOrder, int, int],
    counts: CatalogCache[int],
) -> bytes:
    """The answer's bytes, computed on a pooled connection's own cursor (no session, no ORM: the lean path).

    The total and the items describe one state of the catalog (``queries.page_rows``). The
    bytes are those ``page_json`` gives for the same cards (``tests/listings/test_list_json.py``).
    """
    q, category, sort, page, page_size = key
    query = BrowseQuery.of(q=q, category=category, sort=sort, page=page, page_size=page_size)
    connection = database.engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            total, rows = page_rows(cursor, database.dialect, query, counts=counts)
        finally:
            cursor.close()
    finally:
        connection.close()  # back to the pool, which ends the transaction
    page_data = {"items": [row_json(row) for row in rows], "total": total, "page": query.page, "page_size": page_size}
    return orjson.dumps(page_data)


@router.get("/listings/{listing_id}", response_model=ListingOut, summary="One listing")
def get_listing(listing_id: ListingId, db: DbSession, viewer: OptionalApiUser) -> ListingOut:
    return listing_out(services.listing_for_viewer(db, listing_id, viewer))


@router.patch("/listings/{listing_id}", response_model=ListingOut, summary="Change a listing (its vendor)")
def patch_listing(
    listing_id: ListingId, body: ListingPatch, actor: ApiUser, db: DbSession, settings: SettingsDep
) -> ListingOut:
    for name in body.model_fields_set:
        if getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep the current value.", field=name)
    fields = services.ListingFields(**body.model_dump(exclude={"status"}))
    listing = services.update_listing(db, actor, listing_id, fields, status=body.status, settings=settings)
    return listing_out(listing)


@router.delete(
    "/listings/{listing_id}", status_code=204, response_class=Response, summary="Delete a listing (its vendor)"
)
def delete_listing(listing_id: ListingId, actor: ApiUser, db: DbSession) -> Response:
    services.set_listing_status(db, actor, listing_id, ListingStatus.DELETED)
    return Response(status_code=204)


@router.post(
    "/listings/{listing_id}/images",
    status_code=201,
    response_model=ImageOut,
    summary="Add an image to a listing (its vendor)",
)
def add_image(
    listing_id: ListingId,
    file: Annotated[UploadFile, File(description="A JPEG, PNG, WebP or GIF image.")],
    actor: ApiUser,
    db: DbSession,
    settings: SettingsDep,
) -> ImageOut:
    # One byte more than allowed is enough to know it is too large.
    content = file.file.read(settings.image_max_bytes + 1)
    upload = services.Upload(filename=file.filename or "", content=content)
    try:
        (image,) = services.add_images(db, actor, listing_id, [upload], settings)
    except InvalidInput as exc:
        if exc.field == "images":  # the pages' field; here the part is called file
            exc.field = "file"
        raise
    return image_out(image)


@router.delete(
    "/listings/{listing_id}/images/{image_id}",
    status_code=204,
    response_class=Response,
    summary="Remove an image from a listing (its vendor)",
)
def delete_image(listing_id: ListingId, image_id: ImageId, actor: ApiUser, db: DbSession) -> Response:
    services.remove_image(db, actor, listing_id, image_id)
    return Response(status_code=204)
