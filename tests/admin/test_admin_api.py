"""The admin API as an admin's script sees it: suspend, restore, hide, restore, the record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.db.engine import Database
from marketplace.listings.models import Listing, ListingStatus
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, Person

SignInAs = Callable[[User], Person]


@pytest.fixture
def admin_api(admin: User, sign_in_as: SignInAs) -> SiteClient:
    return sign_in_as(admin).client


def test_suspending_an_account_cuts_off_its_tokens_at_once(
    admin_api: SiteClient, make_user: Callable[..., User], sign_in_as: SignInAs, client: SiteClient
) -> None:
    buyer = make_user(Role.BUYER)
    buyer_api = sign_in_as(buyer).client
    assert buyer_api.get("/api/v1/me").status_code == 200

    response = admin_api.post(f"/api/v1/admin/users/{buyer.id}/suspend", json={"reason": "Spam in every listing"})

    assert response.status_code == 200
    assert response.json() == {"id": buyer.id, "username": buyer.username, "role": "buyer", "status": "suspended"}
    assert_api_error(buyer_api.get("/api/v1/me"), 401, "not_authenticated")
    # Nor can the account get a new token.
    token = client.post("/api/v1/tokens", json={"username": buyer.username, "password": DEFAULT_PASSWORD})
    assert_api_error(token, 401, "not_authenticated")


def test_restoring_an_account_lets_it_in_again_with_new_credentials_only(
    admin_api: SiteClient, make_user: Callable[..., User], sign_in_as: SignInAs
) -> None:
    vendor = make_user(Role.VENDOR)
    old_token = sign_in_as(vendor).client
    admin_api.post(f"/api/v1/admin/users/{vendor.id}/suspend", json={"reason": "Unpaid fees"})

    response = admin_api.post(f"/api/v1/admin/users/{vendor.id}/restore", json={"reason": "Fees paid"})

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert_api_error(old_token.get("/api/v1/admin/actions"), 401, "not_authenticated")  # revoked tokens stay revoked
    # A new one works (and is not an admin's).
    assert_api_error(sign_in_as(vendor).client.get("/api/v1/admin/actions"), 403, "forbidden")


def test_the_record_says_who_did_what_when_and_why_newest_first(
    admin: User, admin_api: SiteClient, make_user: Callable[..., User], make_listing: Callable[..., Listing]
) -> None:
    buyer = make_user(Role.BUYER)
    listing = make_listing()
    before = datetime.now().astimezone()
    admin_api.post(f"/api/v1/admin/users/{buyer.id}/suspend", json={"reason": "Threatened a vendor"})
    admin_api.post(f"/api/v1/admin/listings/{listing.id}/hide", json={"reason": "Counterfeit goods"})

    response = admin_api.get("/api/v1/admin/actions")

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert body["page"] == 1
    hide, suspend = body["items"]
    assert hide["kind"] == "hide_listing"
    assert hide["target_listing_id"] == listing.id
    assert hide["target_user_id"] is None
    assert hide["reason"] == "Counterfeit goods"
    assert suspend["kind"] == "suspend_account"
    assert suspend["target_user_id"] == buyer.id
    assert suspend["target_listing_id"] is None
    assert suspend["reason"] == "Threatened a vendor"
    for item in body["items"]:
        assert item["actor"] == admin.username
        assert datetime.fromisoformat(item["created_at"]) >= before.replace(microsecond=0)
    assert suspend["id"] < hide["id"]


def test_the_record_is_paginated(admin_api: SiteClient, make_listing: Callable[..., Listing]) -> None:
    listing = make_listing()
    for n in range(51):
        verb = "hide" if n % 2 == 0 else "restore"
        assert admin_api.post(f"/api/v1/admin/listings/{listing.id}/{verb}", json={"reason": f"step {n}"}).is_success

    first = admin_api.get("/api/v1/admin/actions").json()
    second = admin_api.get("/api/v1/admin/actions?page=2").json()

    assert first["total"] == second["total"] == 51
    assert len(first["items"]) == 50
    assert first["items"][0]["reason"] == "step 50"
    assert [item["reason"] for item in second["items"]] == ["step 0"]
    assert_api_error(admin_api.get("/api/v1/admin/actions?page=0"), 422, "invalid", field="page")


@pytest.mark.parametrize(
    ("body", "message_part"),
    [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   "}, "reason"), ({"reason": "x" * 1001}, "1000")],
)
def test_an_action_without_a_proper_reason_is_refused_and_changes_nothing(
    *,
    admin_api: SiteClient,
    make_user: Callable[..., User],
    make_listing: Callable[..., Listing],
    sign_in_as: SignInAs,
    body: dict[str, str],
    message_part: str,
) -> None:
    buyer = make_user(Role.BUYER)
    buyer_api = sign_in_as(buyer).client
    listing = make_listing()

    for path in (f"/api/v1/admin/users/{buyer.id}/suspend", f"/api/v1/admin/listings/{listing.id}/hide"):
        assert_api_error(admin_api.post(path, json=body), 422, "invalid", field="reason", message=message_part)

    assert_api_error(buyer_api.get("/api/v1/admin/actions"), 403, "forbidden")  # still signed in
    assert admin_api.get("/api/v1/admin/actions").json()["total"] == 0
    # Not hidden: hiding it now works.
    assert admin_api.post(f"/api/v1/admin/listings/{listing.id}/hide", json={"reason": "x" * 1000}).status_code == 200


def test_admins_cannot_suspend_themselves_or_each_other(
    admin: User, admin_api: SiteClient, make_user: Callable[..., User]
) -> None:
    other_admin = make_user(Role.ADMIN)

    own = admin_api.post(f"/api/v1/admin/users/{admin.id}/suspend", json={"reason": "testing"})
    other = admin_api.post(f"/api/v1/admin/users/{other_admin.id}/suspend", json={"reason": "a coup"})

    assert_api_error(own, 403, "forbidden", message="your own account")
    assert_api_error(other, 403, "forbidden", message="admins cannot suspend each other")
    assert admin_api.get("/api/v1/admin/actions").json()["total"] == 0


def test_acting_twice_is_a_conflict_that_names_the_current_state(
    admin_api: SiteClient, make_user: Callable[..., User], make_listing: Callable[..., Listing]
) -> None:
    buyer = make_user(Role.BUYER)
    listing = make_listing()

    restore_active = admin_api.post(f"/api/v1/admin/users/{buyer.id}/restore", json={"reason": "r"})
    admin_api.post(f"/api/v1/admin/users/{buyer.id}/suspend", json={"reason": "first"})
    suspend_again = admin_api.post(f"/api/v1/admin/users/{buyer.id}/suspend", json={"reason": "second"})
    restore_visible = admin_api.post(f"/api/v1/admin/listings/{listing.id}/restore", json={"reason": "r"})
    admin_api.post(f"/api/v1/admin/listings/{listing.id}/hide", json={"reason": "first"})
    hide_again = admin_api.post(f"/api/v1/admin/listings/{listing.id}/hide", json={"reason": "second"})

    for response, state in [
        (restore_active, "active"),
        (suspend_again, "suspended"),
        (restore_visible, "active"),
        (hide_again, "hidden"),
    ]:
        assert_api_error(response, 409, "conflict", state=state)
    assert admin_api.get("/api/v1/admin/actions").json()["total"] == 2


def test_deleted_accounts_and_listings_cannot_be_moderated(
    admin_api: SiteClient,
    database: Database,
    make_user: Callable[..., User],
    make_listing: Callable[..., Listing],
) -> None:
    gone = make_user(Role.VENDOR)
    listing = make_listing(vendor=gone, status=ListingStatus.DELETED)
    with database.session() as session:
        account = session.get(User, gone.id)
        assert account is not None
        account.status = AccountStatus.DELETED  # as the account deletion does

    for path in (
        f"/api/v1/admin/users/{gone.id}/suspend",
        f"/api/v1/admin/users/{gone.id}/restore",
        f"/api/v1/admin/listings/{listing.id}/hide",
        f"/api/v1/admin/listings/{listing.id}/restore",
    ):
        assert_api_error(admin_api.post(path, json={"reason": "cleanup"}), 409, "conflict", state="deleted")
    assert admin_api.get("/api/v1/admin/actions").json()["total"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/admin/users/999999/suspend",
        "/api/v1/admin/users/999999/restore",
        "/api/v1/admin/listings/999999/hide",
        "/api/v1/admin/listings/999999/restore",
    ],
)
def test_unknown_targets_are_not_found(admin_api: SiteClient, path: str) -> None:
    assert_api_error(admin_api.post(path, json={"reason": "whatever"}), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/api/v1/admin/users/0/suspend", "account"),
        ("/api/v1/admin/users/99999999999999999999999/suspend", "account"),  # the example of issue 6
        ("/api/v1/admin/users/99999999999999999999/restore", "account"),
        ("/api/v1/admin/listings/2147483648/hide", "listing"),
        ("/api/v1/admin/listings/abc/restore", "listing"),
    ],
)
def test_ids_that_cannot_exist_are_not_found(admin_api: SiteClient, path: str, what: str) -> None:
    assert_api_error(
        admin_api.post(path, json={"reason": "whatever"}), 404, "not_found", message=f"There is no such {what}."
    )


def test_hiding_and_restoring_a_listing(
    admin_api: SiteClient, make_listing: Callable[..., Listing], client: SiteClient
) -> None:
    listing = make_listing(title="Suspicious watch")

    hidden = admin_api.post(f"/api/v1/admin/listings/{listing.id}/hide", json={"reason": "Replica"})
    public_while_hidden = client.get("/api/v1/listings").json()
    restored = admin_api.post(f"/api/v1/admin/listings/{listing.id}/restore", json={"reason": "Proof of origin"})
    public_after = client.get("/api/v1/listings").json()

    assert hidden.status_code == 200
    assert hidden.json()["id"] == listing.id
    assert hidden.json()["title"] == "Suspicious watch"
    assert hidden.json()["hidden"] is True
    assert hidden.json()["state"] == "hidden"
    assert restored.status_code == 200
    assert restored.json()["hidden"] is False
    assert restored.json()["hidden_at"] is None
    assert restored.json()["state"] == "active"
    assert public_while_hidden["total"] == 0
    assert [item["id"] for item in public_after["items"]] == [listing.id]


def test_an_admin_creates_accounts_of_any_role(admin_api: SiteClient, sign_in_as: SignInAs, database: Database) -> None:
    created = {}
    for role in ("arbiter", "admin", "vendor", "buyer"):
        response = admin_api.post(
            "/api/v1/admin/users", json={"username": f"new-{role}", "password": DEFAULT_PASSWORD, "role": role}
        )
        assert response.status_code == 201
        body = response.json()
        assert body["username"] == f"new-{role}"
        assert body["role"] == role
        assert body["status"] == "active"
        created[role] = body["id"]
    # The new admin is a real admin, the new arbiter is not.
    with database.session() as session:
        new_admin, new_arbiter = session.get(User, created["admin"]), session.get(User, created["arbiter"])
    assert new_admin is not None
    assert new_arbiter is not None
    record = sign_in_as(new_admin).client.get("/api/v1/admin/actions")
    assert record.status_code == 200
    assert_api_error(sign_in_as(new_arbiter).client.get("/api/v1/admin/actions"), 403, "forbidden")
    # Each creation is on the moderation record, with the role it was given.
    creations = [item for item in record.json()["items"] if item["kind"] == "create_account"]
    assert sorted(item["target_user_id"] for item in creations) == sorted(created.values())
    assert {item["reason"] for item in creations} == {f"Created as {role} by an admin." for role in created}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"username": "arb", "password": "short", "role": "arbiter"}, 422, "password"),
        ({"username": "a b", "password": DEFAULT_PASSWORD, "role": "arbiter"}, 422, "username"),
        ({"username": "arbiter1", "password": DEFAULT_PASSWORD, "role": "king"}, 422, "role"),
        ({"username": "taken", "password": DEFAULT_PASSWORD, "role": "arbiter"}, 409, "username"),
        ({"username": "arbiter1", "role": "arbiter"}, 422, "password"),
    ],
)
def test_bad_new_accounts_are_refused(
    admin_api: SiteClient, make_user: Callable[..., User], body: dict[str, str], status: int, field: str
) -> None:
    make_user(Role.BUYER, username="taken")

    response = admin_api.post("/api/v1/admin/users", json=body)

    assert_api_error(response, status, "conflict" if status == 409 else "invalid", field=field)
    assert DEFAULT_PASSWORD not in response.text


_ENDPOINTS = [
    ("POST", "/api/v1/admin/users/1/suspend"),
    ("POST", "/api/v1/admin/users/1/restore"),
    ("POST", "/api/v1/admin/listings/1/hide"),
    ("POST", "/api/v1/admin/listings/1/restore"),
    ("POST", "/api/v1/admin/users"),
    ("GET", "/api/v1/admin/actions"),
]


@pytest.mark.parametrize("role", [Role.BUYER, Role.VENDOR, Role.ARBITER])
def test_only_admins_may_use_the_admin_api(
    *,
    role: Role,
    make_user: Callable[..., User],
    sign_in_as: SignInAs,
    make_listing: Callable[..., Listing],
    client: SiteClient,
    admin_api: SiteClient,
) -> None:
    make_listing()
    someone = sign_in_as(make_user(role)).client
    body = {"reason": "because", "username": "sneaky", "password": DEFAULT_PASSWORD, "role": "admin"}

    for method, path in _ENDPOINTS:
        json_body = body if path.endswith("/users") else {"reason": "because"}
        forbidden = someone.request(method, path, json=json_body if method == "POST" else None)
        anonymous = client.request(method, path, json=json_body if method == "POST" else None)
        assert_api_error(forbidden, 403, "forbidden")
        assert_api_error(anonymous, 401, "not_authenticated")
    assert admin_api.get("/api/v1/admin/actions").json()["total"] == 0


@pytest.mark.parametrize("reason", ["spam\x00", "spam\x1b[31m"])
def test_a_reason_with_control_characters_is_refused_and_changes_nothing(
    admin_api: SiteClient, make_user: Callable[..., User], reason: str
) -> None:
    buyer = make_user(Role.BUYER)
    response = admin_api.post(f"/api/v1/admin/users/{buyer.id}/suspend", json={"reason": reason})
    assert_api_error(response, 422, "invalid", field="reason")
    assert admin_api.get("/api/v1/admin/actions").json()["total"] == 0


def test_text_no_username_can_be_finds_no_one(admin: User, sign_in_as: SignInAs, client: SiteClient) -> None:
    assert client.get("/vendors/a%00b").status_code == 404
    page = sign_in_as(admin).client.get("/admin/users?q=%00")
    assert page.status_code == 200
