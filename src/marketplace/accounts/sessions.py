"""Server-side sign-ins and API tokens: created with a random secret, stored only as its hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, ApiToken, User, WebSession
from marketplace.db.base import utcnow
from marketplace.secret_compare import secret_bytes
from marketplace.settings import Settings

API_TOKEN_PREFIX = "mpt_"  # noqa: S105  (a visible prefix, not a secret)
# Writing last_seen_at on every request would turn every page view into a write.
_LAST_SEEN_GRANULARITY = timedelta(minutes=5)


def hash_token(token: str) -> str:
    """The stored form of a session id or API token; any text from outside hashes (none raises)."""
    return hashlib.sha256(secret_bytes(token)).hexdigest()


def start_web_session(
    db: Session, user: User, settings: Settings, *, client_address: str | None, user_agent: str | None
) -> str:
    """Create a new sign-in for ``user`` and return the token for the cookie (a new id every time)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        WebSession(
            token_hash=hash_token(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=settings.session_max_age_seconds),
            client_address=client_address,
            user_agent=(user_agent or "")[:256] or None,
        )
    )
    db.flush()
    return token


def find_web_session(db: Session, token: str, settings: Settings) -> WebSession | None:
    """The live sign-in for ``token``; None if unknown, revoked, expired, idle too long or its account is inactive."""
    web_session = db.scalar(select(WebSession).where(WebSession.token_hash == hash_token(token)))
    if web_session is None or web_session.revoked_at is not None:
        return None
    now = utcnow()
    if now >= web_session.expires_at or now - web_session.last_seen_at > timedelta(
        seconds=settings.session_idle_seconds
    ):
        return None
    if web_session.user.status is not AccountStatus.ACTIVE:
        return None
    return web_session


def revoke_web_session(db: Session, web_session_id: int, user_id: int) -> bool:
    """Revoke one of ``user_id``'s sign-ins; False if it is not theirs or already revoked."""
    result = db.execute(
        update(WebSession)
        .where(WebSession.id == web_session_id, WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_all_credentials(db: Session, user_id: int) -> None:
    """Sign ``user_id`` out everywhere and revoke every API token."""
    now = utcnow()
    db.execute(
        update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None)).values(revoked_at=now)
    )
    db.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )


def issue_api_token(db: Session, user: User, name: str) -> str:
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(token_hash=hash_token(token), user_id=user.id, name=name[:64] or "API token"))
    db.flush()
    return token


def find_api_token(db: Session, token: str) -> ApiToken | None:
    """The live API token for ``token``, or None if unknown, revoked or its account is not active."""
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    api_token = db.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if api_token is None or api_token.revoked_at is not None or api_token.user.status is not AccountStatus.ACTIVE:
        return None
    return api_token


def note_use(db: Session, credential: WebSession | ApiToken) -> None:
    """Record that a sign-in or token was used now, at most every few minutes; the caller commits at once.

    A request that only reads must not become a writer because of this note: on SQLite it would
    hold the database's write lock for the rest of the request. So the note is a short
    transaction of its own, committed by the authentication dependency before the request does
    its work; one conditional UPDATE, so that concurrent requests with the same credential write
    it once.
    """
    now = utcnow()
    column = WebSession.last_seen_at if isinstance(credential, WebSession) else ApiToken.last_used_at
    last = credential.last_seen_at if isinstance(credential, WebSession) else credential.last_used_at
    if last is not None and now - last <= _LAST_SEEN_GRANULARITY:
        return
    model = type(credential)
    db.execute(
        update(model)
        .where(model.id == credential.id, or_(column.is_(None), column < now - _LAST_SEEN_GRANULARITY))
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )


def is_expired(moment: datetime) -> bool:
    return utcnow() >= moment
