"""One Jinja environment; each domain keeps its templates in ``<domain>/templates/<domain>/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from marketplace.accounts.models import Role
from marketplace.listings.models import CATEGORIES
from marketplace.monero.amounts import format_xmr
from marketplace.web.csrf import csrf_token, ensure_csrf_cookie

_PACKAGE = Path(__file__).resolve().parent.parent
_DOMAINS = ("web", "accounts", "listings", "admin", "messages", "reviews", "notifications")


def _environment() -> Environment:
    loader = ChoiceLoader([FileSystemLoader(_PACKAGE / domain / "templates") for domain in _DOMAINS])
    env = Environment(loader=loader, autoescape=select_autoescape(default=True), auto_reload=False)
    env.filters["xmr"] = format_xmr
    env.filters["datetime"] = lambda value: value.strftime("%Y-%m-%d %H:%M UTC") if value else ""
    env.globals["categories"] = CATEGORIES
    env.globals["Role"] = Role  # templates compare like the code: user.role == Role.VENDOR
    return env


ENVIRONMENT = _environment()


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """Render ``name`` with the request, the signed-in user (or None) and a CSRF token."""
    full_context = {
        "request": request,
        "current_user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request),
        "unread_notifications": getattr(request.state, "unread_notifications", 0),
        **(context or {}),
    }
    html = ENVIRONMENT.get_template(name).render(full_context)
    response = HTMLResponse(html, status_code=status_code)
    ensure_csrf_cookie(request, response)
    return response
