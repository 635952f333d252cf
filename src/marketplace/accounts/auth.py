"""Who is asking: FastAPI dependencies for pages (session cookie) and the API (bearer token).

Authorization rules live with each domain's services; these only establish identity and role.

The two that read the database end their transaction before they return, so the request's
connection goes back to the pool while the request waits for the thread that runs its handler:
a request never holds a connection while it waits for a thread (with every thread waiting for a
connection, nothing would move). The checks on top of them are ``async``: no trip at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from marketplace.accounts.models import Role, User
from marketplace.accounts.sessions import find_api_token, find_web_session, note_use
from marketplace.errors import Forbidden, NotAuthenticated
from marketplace.notifications.services import unread_count
from marketplace.web.dependencies import DbSession, SettingsDep

SESSION_COOKIE = "mp_session"


def page_user_optional(request: Request, db: DbSession, settings: SettingsDep) -> User | None:
    """The signed-in user of a page request, or None; also made available to templates."""
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    request.state.web_session = None
    if token:
        web_session = find_web_session(db, token, settings)
        if web_session is not None:
            note_use(db, web_session)
            request.state.web_session = web_session
            user = web_session.user
    request.state.user = user
    # The header's "Notifications (N)".
    request.state.unread_notifications = 0 if user is None else unread_count(db, user.id)
    db.commit()  # the loaded objects stay readable; the connection goes back to the pool
    return user


async def page_user(user: Annotated[User | None, Depends(page_user_optional)]) -> User:
    if user is None:
        raise NotAuthenticated("Your session has expired or you are not signed in. Sign in to continue.")
    return user


def api_user_optional(request: Request, db: DbSession) -> User | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    api_token = find_api_token(db, token.strip())
    if api_token is None:
        raise NotAuthenticated("The API token is invalid, revoked or expired.")
    note_use(db, api_token)
    db.commit()  # the loaded objects stay readable; the connection goes back to the pool
    return api_token.user


async def api_user(user: Annotated[User | None, Depends(api_user_optional)]) -> User:
    if user is None:
        raise NotAuthenticated("Send an API token as 'Authorization: Bearer <token>'.")
    return user


def _require_role(user: User, roles: frozenset[Role]) -> User:
    if user.role not in roles:
        allowed = " or ".join(sorted(role.value for role in roles))
        raise Forbidden(f"Only a {allowed} account can do this.")
    return user


# The checks' parameters are annotated with module-level names (PageUser, ApiUser): FastAPI
# resolves these string annotations (``from __future__ import annotations``) in the module's
# globals, where a closure variable such as a ``source`` argument would not be found.
def page_user_with_role(*roles: Role) -> Callable[..., Awaitable[User]]:
    async def check(user: PageUser) -> User:
        return _require_role(user, frozenset(roles))

    return check


def api_user_with_role(*roles: Role) -> Callable[..., Awaitable[User]]:
    async def check(user: ApiUser) -> User:
        return _require_role(user, frozenset(roles))

    return check


OptionalPageUser = Annotated[User | None, Depends(page_user_optional)]
PageUser = Annotated[User, Depends(page_user)]
OptionalApiUser = Annotated[User | None, Depends(api_user_optional)]
ApiUser = Annotated[User, Depends(api_user)]
PageVendor = Annotated[User, Depends(page_user_with_role(Role.VENDOR))]
ApiVendor = Annotated[User, Depends(api_user_with_role(Role.VENDOR))]
PageAdmin = Annotated[User, Depends(page_user_with_role(Role.ADMIN))]
ApiAdmin = Annotated[User, Depends(api_user_with_role(Role.ADMIN))]
