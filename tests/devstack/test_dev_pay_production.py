"""In production the dev-pay route does not exist, and the demo wallet setting is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from marketplace.settings import load_settings
from tests.conftest import TEST_SECRET_KEY
from tests.support.client import SiteClient


def test_the_dev_pay_route_is_not_mounted_in_production(client: SiteClient) -> None:
    response = client.post(f"/orders/{'a' * 32}/dev-pay", data={})

    assert response.status_code == 404
    assert "dev-pay" not in client.get("/api/openapi.json").text


def test_a_demo_wallet_url_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="MARKETPLACE_DEV_WALLET_URL is for development only"):
        load_settings(env="production", secret_key=TEST_SECRET_KEY, dev_wallet_url="http://127.0.0.1:18083")
    development = load_settings(env="development", dev_wallet_url="http://127.0.0.1:18083")
    assert development.dev_wallet_url == "http://127.0.0.1:18083"
