"""The metrics the web process records (and the database ones the worker records too): HTTP, database, build.

Importing this module imports prometheus-client: ``marketplace.db`` imports it only when it
first records something, so that ``marketplace serve`` can set multiprocess mode first
(``observability.registry``). Every label value comes from a closed set: route templates,
standard methods, status classes, exception class names, process names.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from marketplace import __version__
from marketplace.observability import names
from marketplace.observability.process import process_name

UNMATCHED_ROUTE = "unmatched"  # every path no route matched: one label value, whatever the path
OTHER_METHOD = "OTHER"
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

HTTP_REQUESTS = Counter(
    names.HTTP_REQUESTS,
    "HTTP requests answered, by route template, method and status class.",
    ["route", "method", "status_class"],
)
HTTP_DURATION = Histogram(
    names.HTTP_DURATION,
    "Time from a request's arrival to the end of its answer, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
DB_ERRORS = Counter(
    names.DB_ERRORS,
    "Database errors raised by statements, by SQLAlchemy exception class (OperationalError, IntegrityError ...).",
    ["process", "error"],
)
DB_LOCK_WAIT = Histogram(
    names.DB_LOCK_WAIT,
    "Time to take the write lock of a guarded change (SQLite: BEGIN IMMEDIATE; PostgreSQL: the SELECT ... FOR "
    "UPDATE or advisory lock statement).",
    ["process"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BUILD_INFO = Gauge(
    names.BUILD_INFO,
    "Always 1: the version running, its Python, and which process (web or worker).",
    ["version", "python_version", "process"],
    multiprocess_mode="livemax",
)


def route_template(scope: Mapping[str, Any]) -> str:
    """The template of the route a request matched, as the app serves it, or ``unmatched``.

    A route of a router included with a prefix (``/api/v1``) is, in FastAPI 0.165, the router's
    own route object (``scope["route"].path`` is ``/listings/{listing_id}``, which a page route
    also is); the route as included, prefix and all, is FastAPI's effective route context in the
    scope (``path_format``: ``/api/v1/listings/{listing_id}``). Otherwise ``scope["route"]``,
    set by the router (``web.app.TemplatedMount`` for ``/static``). A test pins both.
    """
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path_format", None)
    if not isinstance(path, str):
        path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


def method_label(method: str) -> str:
    return method if method in STANDARD_METHODS else OTHER_METHOD


def status_class(status: int) -> str:
    index = status // 100 - 1
    return _STATUS_CLASSES[index] if 0 <= index < len(_STATUS_CLASSES) else "5xx"


def served_method_label(scope: Mapping[str, Any]) -> str:
    """The method label of a request: one its route serves (``OTHER`` for any other), so a route
    answering 405 to seven methods adds one series, not seven."""
    method = method_label(scope["method"])
    served = getattr(scope.get("route"), "methods", None)
    if isinstance(served, set | frozenset) and served and method not in served:
        return OTHER_METHOD
    return method


# The labelled children of the request metrics, by their labels: looking one up in
# prometheus-client takes a lock and builds a key (about 2 µs each, twice per request). The
# labels are bounded (see ``served_method_label``), so is this.
_REQUEST_CHILDREN: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def record_request(scope: Mapping[str, Any], status: int, seconds: float) -> None:
    key = (route_template(scope), served_method_label(scope), status_class(status))
    children = _REQUEST_CHILDREN.get(key)
    if children is None:
        children = _REQUEST_CHILDREN[key] = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key[:2]))
    children[0].inc()
    children[1].observe(seconds)


def record_db_error(error: BaseException) -> None:
    DB_ERRORS.labels(process_name(), type(error).__name__).inc()


def record_lock_wait(seconds: float) -> None:
    DB_LOCK_WAIT.labels(process_name()).observe(seconds)


def record_build_info() -> None:
    BUILD_INFO.labels(__version__, platform.python_version(), process_name()).set(1)
