"""Map errors to responses: the one JSON error shape under /api, HTML pages elsewhere."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from marketplace.errors import MarketplaceError, NotAuthenticated
from marketplace.web.responses import JSONResponse

log = logging.getLogger("marketplace.errors")

_STATUS_CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("not_authenticated", "Sign in to do this."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "There is nothing here."),
    405: ("method_not_allowed", "This address does not accept that method."),
    413: ("too_large", "The request is too large."),
    429: ("rate_limited", "Too many requests; wait a moment and try again."),
}


INTERNAL_ERROR = {"error": "internal", "message": "Something went wrong on our side; it has been logged."}


def is_api_request(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(
    request: Request, status_code: int, body: dict[str, str], headers: dict[str, str] | None = None
) -> Response:
    if is_api_request(request):
        return JSONResponse(body, status_code=status_code, headers=headers)
    from marketplace.web.templating import render

    if status_code == 401 and request.method == "GET":
        # A page that needs a sign-in sends the browser to the sign-in form and back.
        from starlette.responses import RedirectResponse

        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    response = render(request, "error.html", {"status_code": status_code, "error": body}, status_code=status_code)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def _marketplace_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, MarketplaceError):  # pragma: no cover - registered for this type only
        raise exc
    headers = {}
    retry_after = getattr(exc, "retry_after_seconds", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if isinstance(exc, NotAuthenticated) and is_api_request(request):
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(request, exc.status_code, exc.to_dict(), headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered for this type only
        raise exc
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        # Its location is a character offset in the body, not a field.
        return error_response(request, 422, {"error": "invalid", "message": "The request body is not valid JSON."})
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "form")]
    field = ".".join(location) or None
    message = str(first.get("msg", "Invalid input.")).removeprefix("Value error, ")
    body = {"error": "invalid", "message": f"{field}: {message}" if field else message}
    if field:
        body["field"] = field
    return error_response(request, 422, body)


def http_error_response(request: Request, exc: StarletteHTTPException) -> Response:
    """The answer to an ``HTTPException`` (404, 405, 413...): the error shape with its code and headers."""
    code, default_message = _STATUS_CODES.get(exc.status_code, ("error", "The request failed."))
    message = exc.detail if isinstance(exc.detail, str) and exc.status_code not in (404, 405) else default_message
    return error_response(request, exc.status_code, {"error": code, "message": message}, dict(exc.headers or {}))


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover - registered for this type only
        raise exc
    return http_error_response(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Handlers for the errors a user causes. Anything else is a bug: ``RequestContextMiddleware``
    logs it with its traceback and answers 500 (a database ``IntegrityError`` included: the one
    expected race, a duplicate username, is caught where it happens)."""
    app.add_exception_handler(MarketplaceError, _marketplace_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
