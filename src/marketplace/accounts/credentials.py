"""What a user sees of their own sign-ins and API tokens: listing, creating and revoking them.

Creating and finding them is ``sessions.py``'s job; this module adds the owner's view.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import ApiToken, User, WebSession
from marketplace.accounts.sessions import hash_token, issue_api_token
from marketplace.db.base import utcnow
from marketplace.db.writes import select_for_update
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.settings import Settings
from marketplace.text import TextKind, require_visible, valid_text

MAX_TOKEN_NAME_LENGTH = 64
MAX_LIVE_TOKENS = 50  # a bound on what one account can make the table hold


def live_web_sessions(db: Session, user: User, settings: Settings) -> list[WebSession]:
    """The user's sign-ins that still work (not revoked, not expired, not idle too long), newest first."""
    now = utcnow()
    return list(
        db.scalars(
            select(WebSession)
            .where(
                WebSession.user_id == user.id,
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
                WebSession.last_seen_at > now - timedelta(seconds=settings.session_idle_seconds),
            )
            .order_by(WebSession.created_at.desc(), WebSession.id.desc())
        )
    )


def live_api_tokens(db: Session, user: User) -> list[ApiToken]:
    """The user's API tokens that are not revoked, newest first."""
    return list(
        db.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def check_token_name(name: str, *, field: str = "name") -> str:
    """The name as one line of visible text (``TextKind.LINE``), NFC, trimmed; 1 to 64 characters."""
    cleaned = valid_text(name, TextKind.LINE, field=field, label="token name").strip()
    if not cleaned:
        raise InvalidInput("Give the token a name, so you can tell it apart later.", field=field)
    if len(cleaned) > MAX_TOKEN_NAME_LENGTH:
        raise InvalidInput(f"A token name is at most {MAX_TOKEN_NAME_LENGTH} characters.", field=field)
    require_visible(cleaned, TextKind.LINE, field=field, label="token name")
    return cleaned


def create_api_token(db: Session, user: User, name: str, *, field: str = "name") -> str:
    """A new API token for ``user``; the secret is returned once and only its hash is kept.

    Raises ``InvalidInput`` for a bad name and ``Conflict`` when the user already has
    ``MAX_LIVE_TOKENS`` live tokens.
    """
    cleaned = check_token_name(name, field=field)
    # The count and the insert must be one step: lock the account's row before counting.
    select_for_update(db, select(User.id).where(User.id == user.id))
    live = db.scalar(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if (live or 0) >= MAX_LIVE_TOKENS:
        raise Conflict(f"You already have {MAX_LIVE_TOKENS} API tokens; revoke some first.")
    return issue_api_token(db, user, cleaned)


def revoke_api_token(db: Session, user: User, token_id: int) -> None:
    """Revoke one of ``user``'s tokens; ``NotFound`` if it is not theirs or already revoked."""
    result = db.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("There is no such API token among yours.")


def revoke_api_token_secret(db: Session, token: str) -> None:
    """Revoke the token whose secret is ``token`` (the one a request authenticated with)."""
    db.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
