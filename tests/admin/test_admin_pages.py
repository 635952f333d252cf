"""The admin pages as an admin uses them in a browser without JavaScript."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest

from marketplace.accounts.models import Role, User
from marketplace.listings.models import Listing, ListingStatus
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, Person

SignInAs = Callable[[User], Person]
ADMIN_PAGES = ["/admin", "/admin/users", "/admin/users/new", "/admin/listings", "/admin/actions"]


@pytest.fixture
def browser(admin: User, sign_in_as: SignInAs) -> SiteClient:
    return sign_in_as(admin).client


def _row(page: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.DOTALL)
    assert match, f"no row {row_id} on the page"
    return match.group(1)


@pytest.mark.parametrize("role", [Role.BUYER, Role.VENDOR, Role.ARBITER])
def test_other_roles_are_refused_every_admin_page(
    role: Role, make_user: Callable[..., User], sign_in_as: SignInAs
) -> None:
    someone = sign_in_as(make_user(role)).client
    for path in ADMIN_PAGES:
        response = someone.get(path)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text


def test_the_signed_out_are_sent_to_sign_in(client: SiteClient) -> None:
    for path in ADMIN_PAGES:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/login?next={path}"


def test_the_dashboard_counts_accounts_and_listings(
    browser: SiteClient, make_user: Callable[..., User], make_listing: Callable[..., Listing]
) -> None:
    vendor = make_user(Role.VENDOR)
    make_user(Role.BUYER)
    make_listing(vendor=vendor)
    make_listing(vendor=vendor, status=ListingStatus.PAUSED)

    page = browser.get("/admin")

    assert page.status_code == 200
    assert "Accounts (3)" in page.text  # the admin, the vendor, the buyer
    assert "Listings (2)" in page.text
    assert "No action has been taken yet." in page.text
    for link in ('href="/admin/users"', 'href="/admin/listings?hidden=1"', 'href="/admin/users/new"'):
        assert link in page.text


def test_finding_and_suspending_an_account(
    browser: SiteClient, make_user: Callable[..., User], sign_in_as: SignInAs
) -> None:
    target = make_user(Role.VENDOR, username="shady-seller")
    make_user(Role.BUYER, username="honest-buyer")
    target_browser = sign_in_as(target).client
    assert target_browser.get("/admin").status_code == 403  # signed in

    found = browser.get("/admin/users?q=SHADY")
    response = browser.submit(
        "/admin/users?q=shady", f"/admin/users/{target.id}/suspend", {"reason": "Sells stolen goods", "q": "shady"}
    )
    after = browser.get(response.headers["location"])

    assert "shady-seller" in found.text
    assert "honest-buyer" not in found.text
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/users?q=shady&notice=suspended"
    assert "The account is suspended" in after.text
    assert "suspended" in _row(after.text, f"user-{target.id}")
    assert "Restore" in _row(after.text, f"user-{target.id}")
    # Their browser is signed out at once.
    assert target_browser.get("/admin").status_code == 303


def test_restoring_an_account_from_the_page(
    browser: SiteClient, admin: User, make_user: Callable[..., User], client: SiteClient
) -> None:
    target = make_user(Role.BUYER)
    browser.submit("/admin/users", f"/admin/users/{target.id}/suspend", {"reason": "Chargeback fraud"})

    response = browser.submit("/admin/users", f"/admin/users/{target.id}/restore", {"reason": "Bank confirmed error"})

    assert response.status_code == 303
    assert "The account is active again" in browser.get(response.headers["location"]).text
    client.sign_in(target.username, DEFAULT_PASSWORD)


def test_a_missing_reason_shows_the_form_again_and_changes_nothing(
    browser: SiteClient, make_user: Callable[..., User], sign_in_as: SignInAs
) -> None:
    target = make_user(Role.BUYER)
    target_browser = sign_in_as(target).client

    response = browser.submit("/admin/users", f"/admin/users/{target.id}/suspend", {"reason": "  "})

    assert response.status_code == 422
    assert "Give a reason" in response.text
    assert "active" in _row(response.text, f"user-{target.id}")
    assert target_browser.get("/admin").status_code == 403  # still signed in
    assert "No action has been taken yet." in browser.get("/admin/actions").text


def test_a_failed_action_keeps_the_reason_typed(browser: SiteClient, make_user: Callable[..., User]) -> None:
    target = make_user(Role.BUYER)

    response = browser.submit(
        "/admin/users", f"/admin/users/{target.id}/restore", {"reason": "Typed <carefully> & kept"}
    )

    assert response.status_code == 409
    assert "is already active" in response.text
    assert 'value="Typed &lt;carefully&gt; &amp; kept"' in _row(response.text, f"user-{target.id}")


def test_admins_are_not_offered_a_suspend_button_for_themselves_or_other_admins(
    browser: SiteClient, admin: User, make_user: Callable[..., User]
) -> None:
    other = make_user(Role.ADMIN)

    page = browser.get("/admin/users").text
    forced = browser.submit("/admin/users", f"/admin/users/{other.id}/suspend", {"reason": "power grab"})

    assert "/suspend" not in _row(page, f"user-{admin.id}")
    assert "/suspend" not in _row(page, f"user-{other.id}")
    assert forced.status_code == 403
    assert "admins cannot suspend each other" in forced.text


def test_an_action_without_the_form_token_is_refused(browser: SiteClient, make_user: Callable[..., User]) -> None:
    target = make_user(Role.BUYER)

    response = browser.post(f"/admin/users/{target.id}/suspend", data={"reason": "no token"})

    assert response.status_code == 403
    assert "active" in _row(browser.get("/admin/users").text, f"user-{target.id}")


def test_hiding_and_restoring_listings(
    browser: SiteClient, make_listing: Callable[..., Listing], client: SiteClient
) -> None:
    shown = make_listing(title="Ordinary teapot")
    doomed = make_listing(title="Fake designer bag")

    hidden = browser.submit("/admin/listings", f"/admin/listings/{doomed.id}/hide", {"reason": "Counterfeit"})
    all_page = browser.get("/admin/listings").text
    hidden_page = browser.get("/admin/listings?hidden=1").text

    assert hidden.status_code == 303
    assert "The listing is hidden" in browser.get(hidden.headers["location"]).text
    assert "Ordinary teapot" in all_page
    assert "hidden" in _row(all_page, f"listing-{doomed.id}")
    assert "Fake designer bag" in hidden_page
    assert "Ordinary teapot" not in hidden_page
    # Gone from the public listings, still there for admins.
    public = client.get("/api/v1/listings").json()
    assert [item["id"] for item in public["items"]] == [shown.id]
    assert client.get(f"/api/v1/listings/{doomed.id}").status_code == 404

    restored = browser.submit(
        "/admin/listings?hidden=1", f"/admin/listings/{doomed.id}/restore", {"reason": "Receipt shown", "hidden": "1"}
    )
    assert restored.status_code == 303
    assert restored.headers["location"].startswith("/admin/listings?hidden=1")
    assert "No listing is hidden." in browser.get(restored.headers["location"]).text
    assert client.get(f"/api/v1/listings/{doomed.id}").status_code == 200


def test_hiding_without_a_reason_is_refused(browser: SiteClient, make_listing: Callable[..., Listing]) -> None:
    listing = make_listing()

    response = browser.submit("/admin/listings", f"/admin/listings/{listing.id}/hide", {"reason": ""})

    assert response.status_code == 422
    assert "Give a reason" in response.text
    assert "active" in _row(response.text, f"listing-{listing.id}")


def test_the_record_shows_who_when_and_why_newest_first_escaped(
    browser: SiteClient, admin: User, make_user: Callable[..., User], make_listing: Callable[..., Listing]
) -> None:
    target = make_user(Role.BUYER, username="troublemaker")
    listing = make_listing(title="Lockpicks <b>bold</b>")
    browser.submit("/admin/users", f"/admin/users/{target.id}/suspend", {"reason": "<script>alert(1)</script>"})
    browser.submit("/admin/listings", f"/admin/listings/{listing.id}/hide", {"reason": "Second action"})

    page = browser.get("/admin/actions")

    assert page.status_code == 200
    text = page.text
    assert "<script>alert(1)</script>" not in text
    assert html.escape("<script>alert(1)</script>", quote=False) in text
    assert "<b>bold</b>" not in text
    assert text.index("Second action") < text.index("alert(1)")  # newest first
    assert text.count(f"<td>{admin.username}</td>") == 2
    assert "suspended account" in text
    assert "troublemaker" in text
    assert "hid listing" in text
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>', text)
    assert "Second action" in browser.get("/admin").text  # the dashboard's latest actions


def test_the_record_pages(browser: SiteClient, make_listing: Callable[..., Listing], admin: User) -> None:
    listing = make_listing()
    for n in range(51):
        verb = "hide" if n % 2 == 0 else "restore"
        browser.submit("/admin/listings", f"/admin/listings/{listing.id}/{verb}", {"reason": f"step-{n}-done"})

    first = browser.get("/admin/actions").text
    second = browser.get("/admin/actions?page=2").text

    assert "step-50-done" in first
    assert "step-0-done" not in first
    assert "step-0-done" in second
    assert "Page 2 of 2" in second


@pytest.mark.parametrize("path", ["/admin/users", "/admin/listings", "/admin/actions"])
def test_a_page_number_must_be_a_whole_number_and_one_too_far_is_an_empty_page(browser: SiteClient, path: str) -> None:
    for nonsense in ("abc", "0", "-1", "1.5", "1000001", "99999999999999999999"):
        refused = browser.get(f"{path}?page={nonsense}")
        assert refused.status_code == 422, nonsense
        assert "The page is a whole number from 1 to 1,000,000." in refused.text

    far = browser.get(f"{path}?page=1000000")

    assert far.status_code == 200
    assert "There is nothing on page 1000000." in far.text


def test_creating_an_arbiter_from_the_page(browser: SiteClient, client: SiteClient) -> None:
    response = browser.submit(
        "/admin/users/new",
        "/admin/users/new",
        {"username": "wise-arbiter", "password": DEFAULT_PASSWORD, "role": "arbiter"},
    )

    assert response.status_code == 303
    listed = browser.get(response.headers["location"]).text
    assert "The account is created" in listed
    assert "wise-arbiter" in listed
    assert "arbiter" in listed
    client.sign_in("wise-arbiter", DEFAULT_PASSWORD)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"username": "new-arb", "password": "short", "role": "arbiter"}, 422, "at least 10"),
        ({"username": "new-arb", "password": DEFAULT_PASSWORD, "role": "emperor"}, 422, "Choose a role"),
        ({"username": "<b>x</b>", "password": DEFAULT_PASSWORD, "role": "admin"}, 422, "3 to 32 characters"),
    ],
)
def test_a_bad_new_account_shows_the_form_again_without_the_password(
    browser: SiteClient, fields: dict[str, str], status: int, message: str
) -> None:
    response = browser.submit("/admin/users/new", "/admin/users/new", fields)

    assert response.status_code == status
    assert message in response.text
    assert f'value="{html.escape(fields["username"])}"' in response.text
    assert fields["password"] not in response.text
    assert "<b>x</b>" not in response.text


@pytest.mark.parametrize("target", ["999999", "abc", "-1"])
def test_an_unknown_target_shows_the_list_again_with_not_found(browser: SiteClient, target: str) -> None:
    for action in (f"/admin/users/{target}/suspend", f"/admin/listings/{target}/hide"):
        response = browser.submit("/admin", action, {"reason": "whatever"})
        assert response.status_code == 404, action
        assert "There is no" in response.text


@pytest.mark.parametrize(
    ("target_role", "reason", "status", "message"),
    [
        (Role.ADMIN, "power grab", 403, "admins cannot suspend each other"),
        (Role.VENDOR, "x" * 1001, 422, "at most 1000 characters"),
    ],
)
def test_a_refused_page_action_leaves_no_record_and_no_change(
    *,
    browser: SiteClient,
    make_user: Callable[..., User],
    sign_in_as: SignInAs,
    target_role: Role,
    reason: str,
    status: int,
    message: str,
) -> None:
    target = make_user(target_role)
    target_client = sign_in_as(target).client

    refused = browser.submit("/admin/users", f"/admin/users/{target.id}/suspend", {"reason": reason})

    assert refused.status_code == status
    assert message in refused.text
    assert "active" in _row(refused.text, f"user-{target.id}")
    assert "No action has been taken yet." in browser.get("/admin/actions").text
    # Still signed in: neither its session nor its API token was revoked.
    assert target_client.get("/account").status_code == 200
    assert target_client.get("/api/v1/me").status_code == 200


def test_a_notice_is_chosen_by_its_code_never_taken_from_the_address(browser: SiteClient) -> None:
    known = browser.get("/admin/listings?notice=hidden").text
    unknown = browser.get("/admin/listings?notice=Your+account+is+closed").text

    assert "The listing is hidden from everyone" in known
    assert "Your account is closed" not in unknown
    assert 'class="notice"' not in unknown
