"""The profile: GET /api/v1/me, the payout address (vendors, validated for real) and the PGP key, via API and page."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from marketplace.accounts.models import Role, User
from marketplace.db.engine import Database
from marketplace.settings import Settings
from tests.support.addresses import BAD_KEYS, NETBYTES, forge_address, real_key
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, MAINNET_ADDRESS, STAGENET_ADDRESS, sign_in_directly

PGP_KEY = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
    "mDMEZQAAABYJKwYBBAHaRw8BAQdA<script>alert(1)</script>'; DROP TABLE users;--\n"
    "=AbCd\n"
    "-----END PGP PUBLIC KEY BLOCK-----"
)
# One character changed in the middle: the right length and alphabet, the wrong checksum.
CHECKSUM_BROKEN = MAINNET_ADDRESS[:40] + ("A" if MAINNET_ADDRESS[40] != "A" else "B") + MAINNET_ADDRESS[41:]


@pytest.fixture
def api_as(
    client: SiteClient, make_user: Callable[..., User], database: Database, settings: Settings
) -> Callable[..., User]:
    """Create an account of ``role`` and use an API token of it on ``client``."""

    def use(role: Role = Role.VENDOR) -> User:
        user = make_user(role=role)
        sign_in_directly(database, settings, user, client)
        return user

    return use


def test_me_needs_a_token(client: SiteClient) -> None:
    assert_api_error(client.get("/api/v1/me"), 401, "not_authenticated")


def test_a_vendor_sets_a_valid_payout_address(client: SiteClient, api_as: Callable[..., User]) -> None:
    user = api_as(Role.VENDOR)
    response = client.put(
        "/api/v1/me/payout-address", json={"address": f"  {MAINNET_ADDRESS}\n", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["payout_address"] == MAINNET_ADDRESS
    assert response.json()["id"] == user.id
    assert client.get("/api/v1/me").json()["payout_address"] == MAINNET_ADDRESS


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (CHECKSUM_BROKEN, "not a valid Monero address"),
        (STAGENET_ADDRESS, "stagenet"),
        (MAINNET_ADDRESS[:-1], "not a valid Monero address"),
        ("", "not a valid Monero address"),
        ("<b>4AdUnd</b>' OR 1=1 --", "not a valid Monero address"),
    ],
)
def test_a_bad_payout_address_is_refused_and_the_old_one_kept(
    client: SiteClient, api_as: Callable[..., User], address: str, reason: str
) -> None:
    api_as(Role.VENDOR)
    saved = client.put("/api/v1/me/payout-address", json={"address": MAINNET_ADDRESS, "password": DEFAULT_PASSWORD})
    assert saved.status_code == 200
    response = client.put("/api/v1/me/payout-address", json={"address": address, "password": DEFAULT_PASSWORD})
    assert_api_error(response, 422, "invalid", field="address", message=reason)
    assert client.get("/api/v1/me").json()["payout_address"] == MAINNET_ADDRESS


@pytest.mark.parametrize("role", [Role.BUYER, Role.ARBITER, Role.ADMIN])
def test_only_vendors_have_a_payout_address(client: SiteClient, api_as: Callable[..., User], role: Role) -> None:
    api_as(role)
    response = client.put("/api/v1/me/payout-address", json={"address": MAINNET_ADDRESS, "password": DEFAULT_PASSWORD})
    assert_api_error(response, 403, "forbidden")
    assert client.get("/api/v1/me").json()["payout_address"] is None


def test_the_me_endpoints_refuse_unknown_fields(client: SiteClient, api_as: Callable[..., User]) -> None:
    api_as(Role.VENDOR)
    response = client.put(
        "/api/v1/me/payout-address", json={"address": MAINNET_ADDRESS, "role": "admin", "password": DEFAULT_PASSWORD}
    )
    assert_api_error(response, 422, "invalid", field="role")
    assert client.get("/api/v1/me").json()["role"] == "vendor"
    assert client.get("/api/v1/me").json()["payout_address"] is None


def test_a_pgp_key_is_stored_as_given_and_can_be_cleared(client: SiteClient, api_as: Callable[..., User]) -> None:
    api_as(Role.BUYER)
    response = client.put("/api/v1/me/pgp-key", json={"pgp_key": PGP_KEY + "\n", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert response.json()["pgp_key"] == PGP_KEY
    assert client.get("/api/v1/me").json()["pgp_key"] == PGP_KEY
    cleared = client.put("/api/v1/me/pgp-key", json={"pgp_key": "", "password": DEFAULT_PASSWORD})
    assert cleared.status_code == 200
    assert cleared.json()["pgp_key"] is None


@pytest.mark.parametrize(
    ("pgp_key", "reason"),
    [
        ("just some text", "ASCII-armoured public key"),
        (PGP_KEY.replace("-----END PGP PUBLIC KEY BLOCK-----", ""), "ASCII-armoured public key"),
        (PGP_KEY.replace("PUBLIC", "PRIVATE"), "PRIVATE key"),
        (PGP_KEY.replace("=AbCd", "A" * 20_001), "at most 20000 characters"),
        ("A" * 40_001, "at most 40000 characters"),
        (PGP_KEY.replace("=AbCd", "=Ab\x00Cd"), "control characters"),
    ],
)
def test_anything_but_a_public_key_block_is_refused(
    client: SiteClient, api_as: Callable[..., User], pgp_key: str, reason: str
) -> None:
    api_as(Role.VENDOR)
    client.put("/api/v1/me/pgp-key", json={"pgp_key": PGP_KEY, "password": DEFAULT_PASSWORD})
    response = client.put("/api/v1/me/pgp-key", json={"pgp_key": pgp_key, "password": DEFAULT_PASSWORD})
    assert_api_error(response, 422, "invalid", field="pgp_key", message=reason)
    assert client.get("/api/v1/me").json()["pgp_key"] == PGP_KEY


def test_the_profile_page_saves_and_escapes_what_a_vendor_typed(
    client: SiteClient, signed_in: Callable[..., User]
) -> None:
    signed_in(Role.VENDOR)
    saved = client.submit(
        "/account",
        "/account/profile",
        {"pgp_key": PGP_KEY, "payout_address": MAINNET_ADDRESS, "password": DEFAULT_PASSWORD},
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert "Your profile is saved." in page.text
    assert MAINNET_ADDRESS in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#39;; DROP TABLE users;--" in page.text
    assert "<script>" not in page.text


@pytest.mark.parametrize(
    ("fields", "field_message"),
    [
        ({"payout_address": STAGENET_ADDRESS, "pgp_key": ""}, "this marketplace runs on mainnet"),
        ({"payout_address": CHECKSUM_BROKEN, "pgp_key": ""}, "not a valid Monero address"),
        ({"payout_address": MAINNET_ADDRESS, "pgp_key": "not a key"}, "ASCII-armoured public key"),
    ],
)
def test_the_profile_page_shows_the_error_keeps_the_input_and_saves_nothing(
    client: SiteClient, signed_in: Callable[..., User], fields: dict[str, str], field_message: str
) -> None:
    signed_in(Role.VENDOR)
    response = client.submit("/account", "/account/profile", fields)
    assert response.status_code == 422
    assert field_message in response.text
    assert 'class="field-error"' in response.text
    assert fields["payout_address"] in response.text
    assert "not set" in response.text  # the saved profile is unchanged


def test_a_buyer_profile_has_no_payout_address(client: SiteClient, signed_in: Callable[..., User]) -> None:
    signed_in(Role.BUYER)
    saved = client.submit(
        "/account",
        "/account/profile",
        {"pgp_key": PGP_KEY, "payout_address": MAINNET_ADDRESS, "password": DEFAULT_PASSWORD},
    )
    assert saved.status_code == 303
    page = client.get("/account")
    assert MAINNET_ADDRESS not in page.text
    assert "BEGIN PGP PUBLIC KEY BLOCK" in page.text


_FORGED_KEYS = [
    (kind, which, bad)
    for kind in ("standard", "subaddress")
    for which, bad in (
        ("spend", "identity"),
        ("view", "small order"),
        ("spend", "not on the curve"),
        ("view", "with a small-order part"),
    )
]


def _forged(kind: str, which: str, bad: str) -> str:
    keys = {"spend": real_key("spend"), "view": real_key("view"), which: BAD_KEYS[bad]}
    return forge_address(NETBYTES[("mainnet", kind)], keys["spend"], keys["view"])


@pytest.mark.parametrize("kind", ["standard", "subaddress"])
def test_a_payout_address_with_real_keys_is_accepted_by_the_api_and_the_page(
    client: SiteClient, api_as: Callable[..., User], signed_in: Callable[..., User], kind: str
) -> None:
    address = forge_address(NETBYTES[("mainnet", kind)], real_key("spend"), real_key("view"))
    api_as(Role.VENDOR)
    assert (
        client.put("/api/v1/me/payout-address", json={"address": address, "password": DEFAULT_PASSWORD}).json()[
            "payout_address"
        ]
        == address
    )
    signed_in(Role.VENDOR)
    saved = client.submit(
        "/account", "/account/profile", {"pgp_key": "", "payout_address": address, "password": DEFAULT_PASSWORD}
    )
    assert saved.status_code == 303
    assert address in client.get("/account").text


@pytest.mark.parametrize(("kind", "which", "bad"), _FORGED_KEYS)
def test_the_api_refuses_a_payout_address_whose_keys_no_wallet_can_own(
    client: SiteClient, api_as: Callable[..., User], kind: str, which: str, bad: str
) -> None:
    api_as(Role.VENDOR)
    assert (
        client.put(
            "/api/v1/me/payout-address", json={"address": MAINNET_ADDRESS, "password": DEFAULT_PASSWORD}
        ).status_code
        == 200
    )

    response = client.put(
        "/api/v1/me/payout-address", json={"address": _forged(kind, which, bad), "password": DEFAULT_PASSWORD}
    )

    assert_api_error(response, 422, "invalid", field="address", message=f"public {which} key is not a valid key")
    assert client.get("/api/v1/me").json()["payout_address"] == MAINNET_ADDRESS


@pytest.mark.parametrize(("kind", "which", "bad"), _FORGED_KEYS)
def test_the_profile_page_refuses_a_payout_address_whose_keys_no_wallet_can_own(
    client: SiteClient, signed_in: Callable[..., User], kind: str, which: str, bad: str
) -> None:
    signed_in(Role.VENDOR)
    forged = _forged(kind, which, bad)

    response = client.submit(
        "/account", "/account/profile", {"pgp_key": "", "payout_address": forged, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 422
    assert f"public {which} key is not a valid key" in response.text
    assert 'id="payout_address-error"' in response.text
    assert "not set" in response.text  # nothing saved
