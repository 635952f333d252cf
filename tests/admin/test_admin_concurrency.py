"""Two admins acting on one account or listing at the same moment: exactly one succeeds.

On SQLite and PostgreSQL alike, the second admin's change waits for the first one's transaction
(SQLite: the database's write lock; PostgreSQL: the row's lock), then finds the state changed and
is refused with a ``Conflict`` naming it; only the first action is on the moderation record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2 as httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.admin import services
from marketplace.admin.models import ModerationAction, ModerationKind
from marketplace.db.engine import Database
from marketplace.errors import Conflict
from marketplace.listings.models import Listing
from tests.support.api import assert_api_error
from tests.support.concurrency import HttpAnswer, HttpRequest, interleave, parallel_requests
from tests.support.factories import Person

# Each database step waits for its lock at most a few seconds (SQLite's busy timeout is 5 s).
TIMEOUT_S = 15.0
Action = Callable[[Session, User], object]


def _acting_admin(database: Database, admin_id: int, action: Action) -> Iterator[str]:
    """An admin's action in a transaction of its own, paused after acting and before committing."""
    with database.session() as session:
        admin = session.get(User, admin_id)
        assert admin is not None
        action(session, admin)
        yield "acted"
    yield "committed"


def _record(database: Database) -> list[tuple[ModerationKind, int, int | None, int | None]]:
    with database.session() as session:
        rows = session.execute(
            select(
                ModerationAction.kind,
                ModerationAction.actor_id,
                ModerationAction.target_user_id,
                ModerationAction.target_listing_id,
            ).order_by(ModerationAction.id)
        )
        return [(kind, actor, user, listing) for kind, actor, user, listing in rows]


def _account_status(database: Database, user_id: int) -> AccountStatus:
    with database.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.status


def _is_hidden(database: Database, listing_id: int) -> bool:
    with database.session() as session:
        listing = session.get(Listing, listing_id)
        assert listing is not None
        return listing.hidden_at is not None


def _second_waits_for_the_first_and_is_refused(
    database: Database, first: User, second: User, action: Callable[[str], Action]
) -> Conflict:
    """Interleave ``first`` and ``second`` doing ``action``; return the ``Conflict`` the second got."""
    run = interleave(
        {
            "a": lambda: _acting_admin(database, first.id, action("first")),
            "b": lambda: _acting_admin(database, second.id, action("second")),
        },
        ["a:acted", "b:acted", "a:committed", "b"],
        timeout_s=TIMEOUT_S,
    )

    assert run["a"].labels == ["acted", "committed"], run
    run["a"].unwrap()
    # b's change waited for a's transaction ...
    assert run["b"].blocked, run
    # ... and was refused only after a committed, having seen what a did.
    assert run.seq("b", "raised") > run.seq("a", "step", "committed"), run
    assert run["b"].labels == [], run
    assert isinstance(run["b"].error, Conflict), run
    return run["b"].error


def test_two_admins_suspending_one_account_at_once_suspend_it_once(
    database: Database, make_user: Callable[..., User]
) -> None:
    first, second = make_user(Role.ADMIN), make_user(Role.ADMIN)
    buyer = make_user(Role.BUYER)

    def suspend(reason: str) -> Action:
        return lambda session, admin: services.suspend_account(session, admin, buyer.id, reason)

    refusal = _second_waits_for_the_first_and_is_refused(database, first, second, suspend)

    assert refusal.state == AccountStatus.SUSPENDED
    assert f"{buyer.username} is already suspended" in refusal.message
    assert _account_status(database, buyer.id) is AccountStatus.SUSPENDED
    assert _record(database) == [(ModerationKind.SUSPEND_ACCOUNT, first.id, buyer.id, None)]


def test_two_admins_hiding_one_listing_at_once_hide_it_once(
    database: Database, make_user: Callable[..., User], make_listing: Callable[..., Listing]
) -> None:
    first, second = make_user(Role.ADMIN), make_user(Role.ADMIN)
    listing = make_listing()

    def hide(reason: str) -> Action:
        return lambda session, admin: services.hide_listing(session, admin, listing.id, reason)

    refusal = _second_waits_for_the_first_and_is_refused(database, first, second, hide)

    assert refusal.state == services.ListingState.HIDDEN
    assert "already hidden" in refusal.message
    assert _is_hidden(database, listing.id)
    assert _record(database) == [(ModerationKind.HIDE_LISTING, first.id, None, listing.id)]


def _as_response(answer: HttpAnswer) -> httpx.Response:
    return httpx.Response(answer.status, headers=answer.headers, content=answer.body)


@pytest.mark.parametrize(
    ("target", "kind", "state"),
    [
        ("account", ModerationKind.SUSPEND_ACCOUNT, "suspended"),
        ("listing", ModerationKind.HIDE_LISTING, "hidden"),
    ],
)
def test_six_requests_from_two_admins_at_once_change_it_once(
    *,
    live_server: str,
    database: Database,
    make_user: Callable[..., User],
    make_listing: Callable[..., Listing],
    sign_in_as: Callable[[User], Person],
    target: str,
    kind: ModerationKind,
    state: str,
) -> None:
    admins = [sign_in_as(make_user(Role.ADMIN)), sign_in_as(make_user(Role.ADMIN))]
    if target == "account":
        target_id = make_user(Role.VENDOR).id
        path = f"/api/v1/admin/users/{target_id}/suspend"
    else:
        target_id = make_listing().id
        path = f"/api/v1/admin/listings/{target_id}/hide"
    requests = [
        HttpRequest(
            "POST",
            path,
            headers={"Authorization": admins[n % 2].client.headers["Authorization"]},
            json={"reason": f"request {n}"},
        )
        for n in range(6)
    ]

    answers = parallel_requests(live_server, requests, timeout_s=TIMEOUT_S)

    statuses = [answer.status for answer in answers]
    assert sorted(statuses) == [200] + [409] * 5, [answer.text for answer in answers]
    for answer in answers:
        if answer.status == 409:
            assert_api_error(_as_response(answer), 409, "conflict", state=state)
    winner = statuses.index(200)
    assert answers[winner].json()["id"] == target_id
    winner_id = admins[winner % 2].user.id
    expected = (kind, winner_id, target_id, None) if target == "account" else (kind, winner_id, None, target_id)
    assert _record(database) == [expected]
    if target == "account":
        assert _account_status(database, target_id) is AccountStatus.SUSPENDED
    else:
        assert _is_hidden(database, target_id)
