"""A payout address must carry keys a wallet can own, on every network, standard or subaddress."""

from __future__ import annotations

import pytest

from marketplace.demo.seed import demo_payout_address
from marketplace.errors import InvalidInput
from marketplace.monero.addresses import validate_address
from marketplace.settings import MoneroNetwork
from tests.support.addresses import BAD_KEYS, IDENTITY, NETBYTES, forge_address, real_key
from tests.support.factories import MAINNET_ADDRESS

SPEND, VIEW = real_key("spend"), real_key("view")


@pytest.mark.parametrize(("network", "kind"), list(NETBYTES))
def test_an_address_with_real_keys_is_accepted(network: str, kind: str) -> None:
    text = forge_address(NETBYTES[(network, kind)], SPEND, VIEW)
    assert validate_address(text, MoneroNetwork(network), field="payout_address") == text


def test_the_example_of_the_issue_is_refused() -> None:
    # netbyte 18, a correct checksum, the identity point as both keys.
    text = forge_address(18, IDENTITY, IDENTITY)
    with pytest.raises(InvalidInput) as refused:
        validate_address(text, MoneroNetwork.MAINNET, field="payout_address")
    assert refused.value.field == "payout_address"
    assert "public spend key is not a valid key" in refused.value.message


@pytest.mark.parametrize("bad", list(BAD_KEYS))
@pytest.mark.parametrize("which", ["spend", "view"])
@pytest.mark.parametrize(("network", "kind"), list(NETBYTES))
def test_an_address_with_a_key_no_wallet_can_own_is_refused_naming_the_key(
    network: str, kind: str, which: str, bad: str
) -> None:
    keys = {"spend": SPEND, "view": VIEW, which: BAD_KEYS[bad]}
    text = forge_address(NETBYTES[(network, kind)], keys["spend"], keys["view"])

    with pytest.raises(InvalidInput) as refused:
        validate_address(text, MoneroNetwork(network), field="address")

    assert refused.value.field == "address"
    assert f"public {which} key is not a valid key" in refused.value.message


@pytest.mark.parametrize("network", list(MoneroNetwork))
def test_the_regtest_and_demo_addresses_stay_valid(network: MoneroNetwork) -> None:
    assert validate_address(demo_payout_address(network), network)
    if network in (MoneroNetwork.MAINNET, MoneroNetwork.REGTEST):
        assert validate_address(MAINNET_ADDRESS, network) == MAINNET_ADDRESS
