"""What every domain's pages share: form fields, notices, redirects, refusals (numbers: ``web.numbers``).

The pattern of a page action (POST, then redirect, then GET):

    outcome = attempt(db, lambda: services.suspend_account(db, admin, user_id, reason))
    if isinstance(outcome, MarketplaceError):
        return form_page(request, "admin/users.html", context, outcome)   # 4xx, the form again
    return redirect("/admin/users", notice="suspended")                   # 303

``attempt`` undoes everything the refused action wrote (the request's transaction is rolled
back, as the API does) and commits its records to keep (the release of a throttle reservation
that was no failed guess), so a refused form changes nothing, on pages as in the API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Form
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from marketplace.db.writes import keep_records
from marketplace.errors import MarketplaceError
from marketplace.web.templating import render

T = TypeVar("T")

FormText = Annotated[str, Form()]
NOTICE_PARAMETER = "notice"
_MAX_NEXT_LENGTH = 2000


def form_text(form: FormData, name: str) -> str:
    """A text field's value from a form read by hand; a file sent where text belongs counts as empty."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def notice_from(request: Request, notices: Mapping[str, str]) -> str | None:
    """The message for the ``?notice=`` key, chosen from ``notices`` (never text from the URL itself)."""
    return notices.get(request.query_params.get(NOTICE_PARAMETER, ""))


def redirect(path: str, *, notice: str | None = None, **params: Any) -> RedirectResponse:
    """A 303 to ``path`` with ``notice`` and the non-empty ``params`` (page 1 and False are left out)."""
    query = {key: value for key, value in params.items() if value not in ("", None, 1, False)}
    if notice:
        query[NOTICE_PARAMETER] = notice
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{separator}{urlencode(query)}" if query else path, status_code=303)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect to another host)."""
    if (
        not target
        or len(target) > _MAX_NEXT_LENGTH
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        # Browsers drop tabs and newlines inside URLs, which would turn "/\t/evil" into "//evil".
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)
    ):
        return "/"
    return target


def form_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    error: MarketplaceError | None = None,
    *,
    errors: dict[str, str] | None = None,
    status_code: int | None = None,
) -> HTMLResponse:
    """Render a form page; with ``error`` (or ``errors``) show the message(s) next to the field(s).

    The status is the error's (422, 409, 401, 429 ...) and a throttled answer says when to retry.
    The template gets ``errors`` (field → message) and ``error_message`` (a message for no field).
    """
    field_errors = dict(errors or {})
    page_context = {"errors": field_errors, **context}
    code = status_code or 200
    if error is not None:
        code = error.status_code
        if error.field:
            field_errors[error.field] = error.message
        else:
            page_context["error_message"] = error.message
    elif field_errors:
        code = status_code or 422
    response = render(request, template, page_context, status_code=code)
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def attempt(db: Session, action: Callable[[], T]) -> T | MarketplaceError:
    """Run a page's ``action``; if it raises a domain error, undo what it wrote and return the error.

    The request's transaction is rolled back, then the error's records to keep are committed in a
    short transaction of their own; later reads (to render the form again) start afresh.
    """
    try:
        return action()
    except MarketplaceError as exc:
        _undo(db, exc)
        return exc


async def attempt_async(db: Session, action: Callable[[], Awaitable[T]]) -> T | MarketplaceError:
    """``attempt`` for an action that awaits (a sign-in waiting for its password hash)."""
    try:
        return await action()
    except MarketplaceError as exc:
        await run_in_threadpool(_undo, db, exc)
        return exc


def _undo(db: Session, error: MarketplaceError) -> None:
    db.rollback()
    keep_records(db, error)
