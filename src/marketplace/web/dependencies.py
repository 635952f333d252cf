"""Typed dependencies: how a handler gets what the process shares, and the request's database session.

Handlers declare what they need (``settings: SettingsDep``, ``db: DbSession``); tests swap any of
it with ``app.dependency_overrides[get_settings] = ...``. The getters are ``async def`` so that
FastAPI resolves them on the event loop, without a trip through the thread pool.

``DbSession`` is the request's one transaction: committed before the response is sent when the
handler returns, rolled back when it raises. A refusal's records to keep (a throttle reservation's release) are
then committed in a short transaction of their own on the same session, so a request never
holds two connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request

from marketplace.db.engine import Database
from marketplace.db.writes import keep_records
from marketplace.listings.catalog_cache import Catalog
from marketplace.runtime import Runtime
from marketplace.settings import Settings


def runtime_of(request: Request) -> Runtime:
    """The process's runtime, for code that has the request but is not a handler (CSRF, templates)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def settings_of(request: Request) -> Settings:
    return runtime_of(request).settings


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


async def get_database(runtime: RuntimeDep) -> Database:
    return runtime.database


async def get_catalog(runtime: RuntimeDep) -> Catalog:
    return runtime.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def get_db(request: Request, database: DatabaseDep) -> Iterator[Session]:
    """One session per request; commits if the handler returns, rolls back if it raises.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client
    that sees success can rely on the write, and the next read sees it.
    """
    session = database.sessions()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        keep_signed_in_user_readable(request, session)
        session.rollback()
        keep_signed_in_user_readable(request, session, reload=True)
        keep_records(session, exc)
        raise
    finally:
        session.close()


def keep_signed_in_user_readable(request: Request, session: Session, *, reload: bool = False) -> None:
    """Detach the signed-in user from ``session``, so that a page rendered after it closes shows who is signed in.

    A user whose attributes are loaded is detached as it is, without a query. One expired by an
    earlier rollback (a refused page action) is loaded again first, but only with ``reload``
    (call it so once the session is rolled back); if even that fails, the page shows no one
    signed in rather than failing.
    """
    user = getattr(request.state, "user", None)
    if user is None or user not in session:
        return
    if inspect(user).expired_attributes:
        if not reload:
            return
        try:
            session.refresh(user)
        except SQLAlchemyError:
            request.state.user = None
    session.expunge(user)


DbSession = Annotated[Session, Depends(get_db, scope="function")]


def client_address(request: Request) -> str:
    """The client's address, trusting ``X-Forwarded-For`` only as far as ``trusted_proxy_hops`` says."""
    hops = settings_of(request).trusted_proxy_hops
    if hops > 0:
        forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return str(forwarded[-hops])
    return request.client.host if request.client else "unknown"


async def get_client_address(request: Request) -> str:
    return client_address(request)


ClientAddress = Annotated[str, Depends(get_client_address)]
