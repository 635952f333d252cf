"""JSON API of notifications, mounted under /api/v1: your own, and marking them read."""

from __future__ import annotations

from marketplace.accounts.auth import ApiUser
from marketplace.notifications import services
from marketplace.notifications.schemas import NotificationsOut, ReadIn, ReadOut, notification_out
from marketplace.web import routing
from marketplace.web.dependencies import DbSession, SettingsDep
from marketplace.web.numbers import PageNumber, PageSize

router = routing.router(tags=["notifications"])


@router.get("/notifications", response_model=NotificationsOut, summary="Your notifications and how many are unread")
def list_notifications(
    user: ApiUser, db: DbSession, settings: SettingsDep, page: PageNumber = 1, page_size: PageSize = None
) -> NotificationsOut:
    found = services.list_for(db, user.id, page=page, page_size=page_size or settings.listings_page_size)
    return NotificationsOut(
        items=[notification_out(row) for row in found.items],
        unread=services.unread_count(db, user.id),
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )


@router.post("/notifications/read", response_model=ReadOut, summary="Mark your notifications read (some or all)")
def mark_read(body: ReadIn, user: ApiUser, db: DbSession) -> ReadOut:
    marked = services.mark_read(db, user.id, ids=body.ids, everything=body.all_)
    return ReadOut(marked=marked, unread=services.unread_count(db, user.id))
