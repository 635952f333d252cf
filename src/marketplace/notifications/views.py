"""The notifications page: yours, unread first, and "Mark all as read" (the header shows the unread count)."""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts.auth import PageUser
from marketplace.notifications import services
from marketplace.web import routing
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import DbSession, SettingsDep
from marketplace.web.numbers import parse_page
from marketplace.web.pages import form_page, notice_from, redirect

router = routing.router(dependencies=[Depends(verify_csrf)])

NOTICES = {"read": "All your notifications are marked as read."}


@router.get("/notifications")
def notifications_page(request: Request, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    page = parse_page(request.query_params.get("page"))
    found = services.list_for(db, user.id, page=page, page_size=settings.listings_page_size)
    context = {
        "found": found,
        "unread": services.unread_count(db, user.id),
        "notice": notice_from(request, NOTICES),
    }
    return form_page(request, "notifications/list.html", context)


@router.post("/notifications/read")
def mark_all_read(request: Request, db: DbSession, user: PageUser) -> Response:
    services.mark_read(db, user.id, everything=True)
    request.state.unread_notifications = 0
    return redirect("/notifications", notice="read")
