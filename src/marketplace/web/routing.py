"""Routers whose synchronous handlers make one trip through the thread pool, response included.

FastAPI runs a plain ``def`` handler in its thread pool, then validates the handler's response
model in a SECOND trip through the same pool, and only after that ends the request's
dependencies, which commits ``DbSession``. Between the two trips the transaction holds its locks
(SQLite's write lock, PostgreSQL's row locks) while it waits for a free thread; with the pool's
40 threads all taken by requests waiting for those very locks, nothing moves again (measured: 100
concurrent PATCHes gave 500s after the pool timeout, and a hang on PostgreSQL).

``OneTripRoute`` turns each synchronous handler into an ``async`` one that runs it in one trip;
FastAPI then validates the response on the event loop and commits through its own exit limiter,
which never waits for the pool. Every router of the app is made by ``router`` (a test checks).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def _in_one_trip(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)  # FastAPI reads the signature and annotations through __wrapped__
    async def run(**arguments: Any) -> Any:
        return await run_in_threadpool(functools.partial(handler, **arguments))

    return run


class OneTripRoute(APIRoute):
    """An ``APIRoute`` whose synchronous endpoint runs as one trip through the thread pool."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(inspect.unwrap(endpoint)):
            endpoint = _in_one_trip(endpoint)
        super().__init__(path, endpoint, **kwargs)


def router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` (same arguments) whose routes are ``OneTripRoute``s."""
    return APIRouter(route_class=OneTripRoute, **kwargs)
