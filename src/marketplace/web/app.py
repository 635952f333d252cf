"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from marketplace import __version__
from marketplace.accounts import api as accounts_api
from marketplace.accounts import views as accounts_views
from marketplace.accounts.services import MAX_PGP_KEY_LENGTH
from marketplace.admin import api as admin_api
from marketplace.admin import views as admin_views
from marketplace.admin.services import MAX_REASON_LENGTH
from marketplace.api_schema import with_error_shape
from marketplace.db.engine import Database
from marketplace.listings import api as listings_api
from marketplace.listings import views as listings_views
from marketplace.listings.images import upload_body_max_bytes
from marketplace.listings.services import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from marketplace.logs import configure_logging
from marketplace.messages import api as messages_api
from marketplace.messages import views as messages_views
from marketplace.notifications import api as notifications_api
from marketplace.notifications import views as notifications_views
from marketplace.observability import registry as metrics_registry
from marketplace.observability import views as observability_views
from marketplace.observability.metrics import record_build_info
from marketplace.orders import api as orders_api
from marketplace.orders import pages as orders_pages
from marketplace.reviews import api as reviews_api
from marketplace.reviews import views as reviews_views
from marketplace.runtime import build_runtime
from marketplace.settings import Settings, load_settings
from marketplace.web import health
from marketplace.web.body_limit import RequestBodyLimit, RouteBodyLimit, form_body_max_bytes
from marketplace.web.errors import install_error_handlers
from marketplace.web.middleware import RequestContextMiddleware
from marketplace.web.private_caching import PrivateResponsesMiddleware
from marketplace.web.responses import JSONResponse

STATIC_DIR = Path(__file__).parent / "static"
# The most text one form or JSON body carries: a listing's title and description.
_MOST_TEXT_CHARACTERS = max(TITLE_MAX_LENGTH + DESCRIPTION_MAX_LENGTH, MAX_PGP_KEY_LENGTH, MAX_REASON_LENGTH)
FORM_BODY_MAX_BYTES = form_body_max_bytes(_MOST_TEXT_CHARACTERS)


class PublicStaticFiles(StaticFiles):
    """The style sheet and icons: the same for everyone, so shareable, but checked again on each use."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, no-cache"
        return response


class TemplatedMount(Mount):
    """A mount that names itself in ``scope["route"]``, as Starlette's router does and FastAPI's does not for
    mounts: the request metrics then count ``/static/...`` under ``/static``, not as ``unmatched``."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


class TemplatedRoute(Route):
    """A plain Starlette route (FastAPI's own: the API document) that names itself in ``scope["route"]``,
    as ``TemplatedMount`` does: the request metrics count ``/api/openapi.json`` under its path, not as
    ``unmatched``. ``_name_plain_routes`` turns the app's plain routes into these."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def _name_plain_routes(app: FastAPI) -> None:
    for route in app.router.routes:
        if type(route) is Route:
            route.__class__ = TemplatedRoute  # same object and state; only ``matches`` differs


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. With no arguments (as ``marketplace serve`` workers do) settings come from the environment."""
    settings = settings or load_settings()
    runtime = build_runtime(settings, database)
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(_started: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.close()
        metrics_registry.mark_process_dead()

    app = FastAPI(
        title="Monero Marketplace",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI needs JavaScript from a CDN; the document itself is the reference
        redoc_url=None,
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    _document_error_shape(app)
    install_error_handlers(app)
    # Added first, so it runs inside the request context: a 413 has the request id and headers.
    app.add_middleware(RequestBodyLimit, default_max_bytes=FORM_BODY_MAX_BYTES, routes=body_limits(settings))
    app.add_middleware(RequestContextMiddleware, metrics=settings.metrics_enabled)
    app.add_middleware(PrivateResponsesMiddleware)  # outermost: it sees every answer, a 500 included
    app.router.routes.append(TemplatedMount("/static", app=PublicStaticFiles(directory=STATIC_DIR), name="static"))
    app.include_router(health.router)
    if settings.metrics_enabled:
        record_build_info()
        app.include_router(observability_views.router, include_in_schema=False)
    api_routers = (
        accounts_api.router,
        listings_api.router,
        orders_api.router,
        messages_api.router,
        reviews_api.router,
        notifications_api.router,
        admin_api.router,
    )
    for api_router in api_routers:
        app.include_router(api_router, prefix="/api/v1")
    page_routers = (
        accounts_views.router,
        listings_views.router,
        orders_pages.router,
        messages_views.router,
        reviews_views.router,
        notifications_views.router,
        admin_views.router,
    )
    for page_router in page_routers:
        app.include_router(page_router, include_in_schema=False)
    if settings.is_development:  # "Pay from demo wallet": never mounted in production
        from marketplace.devstack import views as devstack_views

        app.include_router(devstack_views.router, include_in_schema=False)
    _name_plain_routes(app)
    return app


def body_limits(settings: Settings) -> list[RouteBodyLimit]:
    """The routes that take image files and their body limits, in bytes; every other route takes
    ``FORM_BODY_MAX_BYTES``. The page forms take a listing's worth of images with the listing's text."""
    listing_form = upload_body_max_bytes(
        settings, images=settings.listing_max_images, other_fields_bytes=FORM_BODY_MAX_BYTES
    )
    return [
        RouteBodyLimit("POST", "/sell/new", listing_form),
        RouteBodyLimit("POST", "/listings/{listing_id}/edit", listing_form),
        RouteBodyLimit(
            "POST",
            "/api/v1/listings/{listing_id}/images",
            upload_body_max_bytes(settings, images=1, other_fields_bytes=0),
        ),
    ]


def _document_error_shape(app: FastAPI) -> None:
    """Make ``app.openapi()`` state the server's error shape (``api_schema.with_error_shape``), once."""
    make_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_error_shape(make_document())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to change the document
