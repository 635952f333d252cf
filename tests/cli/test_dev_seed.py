"""``marketplace dev seed``: demo data a developer can sign in with, the same on every run."""

from __future__ import annotations

import io
import re
import stat
from pathlib import Path

import pytest
from PIL import Image

from marketplace.listings.models import CATEGORIES
from tests.cli.conftest import Run
from tests.support.api import assert_api_error
from tests.support.client import SiteClient

_CREDENTIAL_ROW = re.compile(r"(demo-(?:buyer|vendor|arbiter|admin))\s*│\s*(buyer|vendor|arbiter|admin)\s*│\s*(\S+)")


def _credentials(output: str) -> dict[str, str]:
    return {username: password for username, _role, password in _CREDENTIAL_ROW.findall(output)}


@pytest.fixture
def development_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Path:
    data_dir = tmp_path / "dev-data"
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", database_url)
    return data_dir


def test_seed_twice_gives_the_same_accounts_and_listings(run: Run, development_env: Path, client: SiteClient) -> None:
    first = run("dev", "seed")
    second = run("dev", "seed")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    credentials = _credentials(first.stdout)
    assert set(credentials) == {"demo-buyer", "demo-vendor", "demo-arbiter", "demo-admin"}
    assert _credentials(second.stdout) == credentials
    assert "created 4 accounts, 36 listings" in first.stdout
    assert "created 0 accounts, 0 listings and 0 images" in second.stdout
    credentials_file = development_env / "demo-credentials.txt"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    for username, password in credentials.items():
        assert password in credentials_file.read_text(encoding="utf-8")
        client.use_token(client.api_token(username, password))
        assert client.get("/api/v1/me").json()["username"] == username
    client.use_token(client.api_token("demo-vendor", credentials["demo-vendor"]))
    assert client.get("/api/v1/me").json()["payout_address"].startswith("4")  # mainnet (the default network)

    listings = client.get("/api/v1/listings").json()
    assert listings["total"] == 36
    assert client.get("/api/v1/listings", params={"q": "POSTFIX dovecot"}).json()["total"] == 1  # searchable
    for category in CATEGORIES:
        assert client.get(f"/api/v1/listings?category={category}").json()["total"] >= 1, category


def test_a_lost_credentials_file_gets_new_passwords_that_work(
    run: Run, development_env: Path, client: SiteClient
) -> None:
    old = _credentials(run("dev", "seed").stdout)
    (development_env / "demo-credentials.txt").unlink()

    result = run("dev", "seed")

    assert result.exit_code == 0, result.output
    new = _credentials(result.stdout)
    assert new["demo-admin"] != old["demo-admin"]
    assert "created 0 accounts, 0 listings" in result.stdout
    client.use_token(client.api_token("demo-admin", new["demo-admin"]))
    assert client.get("/api/v1/admin/actions").status_code == 200
    refused = client.post("/api/v1/tokens", json={"username": "demo-admin", "password": old["demo-admin"]})
    assert_api_error(refused, 401, "not_authenticated")


def test_seeded_pictures_are_plain_jpegs_with_thumbnails(run: Run, development_env: Path, client: SiteClient) -> None:
    assert run("dev", "seed").exit_code == 0
    listing_id = client.get("/api/v1/listings").json()["items"][0]["id"]
    page = client.get(f"/listings/{listing_id}")
    image_ids = sorted(set(re.findall(r"/images/(\d+)", page.text)))
    assert 1 <= len(image_ids) <= 3

    for image_id in image_ids:
        full = client.get(f"/images/{image_id}")
        thumbnail = client.get(f"/images/{image_id}/thumbnail")
        assert full.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(full.content)) as picture:
            assert picture.format == "JPEG"
            assert not picture.getexif()
        with Image.open(io.BytesIO(thumbnail.content)) as small:
            assert max(small.size) <= 400


@pytest.mark.usefixtures("production_env")
def test_seed_refuses_outside_development(run: Run, client: SiteClient, tmp_path: Path) -> None:
    result = run("dev", "seed")

    assert result.exit_code == 2
    assert "development only" in result.stderr
    assert client.get("/api/v1/listings").json()["total"] == 0
    assert not (tmp_path / "cli-data" / "demo-credentials.txt").exists()


def test_seed_asks_for_a_migrated_database(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(tmp_path))

    result = run("dev", "seed")

    assert result.exit_code == 2
    assert "marketplace db upgrade" in result.stderr
