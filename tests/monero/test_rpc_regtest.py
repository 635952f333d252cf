"""The RPC clients against real monerod and monero-wallet-rpc 0.18 (the ``regtest`` fixture).

One 2-of-3 multisig (buyer, vendor, arbiter) is built for the module; one payment to it and one
payout from it provoke, for real, the errors a payout meets: funds locked (-37), no transaction
before an exchange (-16, -4), stale data, already signed, fully signed (-35), not enough signers
(-33), and they arrive typed as ``marketplace.monero.rpc_errors`` says.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from marketplace.monero.amounts import PICONERO_PER_XMR
from marketplace.monero.rpc import Recipient, WalletRpc
from marketplace.monero.rpc_errors import (
    AlreadySigned,
    FullySigned,
    FundsLocked,
    NotEnoughSigners,
    NoTransactionCreated,
    RpcAuthFailed,
    RpcUnavailable,
    StaleMultisigData,
    WalletExists,
    WalletNotFound,
    WalletNotOpen,
)
from tests.support.regtest import ROLES, RegtestCluster

PASSWORD = "escrow wallet password"
FUNDING = 5 * PICONERO_PER_XMR
PAYOUT = 1 * PICONERO_PER_XMR


@dataclass
class Escrow:
    filename: str
    address: str
    wallets: dict[str, WalletRpc]


def build_multisig(wallets: dict[str, WalletRpc], *, password: str) -> str:
    """prepare, make, then key-exchange rounds until ready (in parallel: one thread per wallet-rpc)."""
    with ThreadPoolExecutor(len(wallets)) as pool:

        def each(step: Callable[[WalletRpc], Any]) -> list[Any]:
            return list(pool.map(step, wallets.values()))

        infos = each(lambda wallet: wallet.prepare_multisig())
        messages = [
            step.multisig_info for step in each(lambda w: w.make_multisig(infos, threshold=2, password=password))
        ]
        for _ in range(5):  # 2-of-3 takes two rounds in 0.18.0.0; the cap only stops a runaway loop
            if all(status.ready for status in each(lambda wallet: wallet.is_multisig())):
                break
            steps = each(lambda wallet, infos=messages: wallet.exchange_multisig_keys(infos, password=password))
            messages = [step.multisig_info for step in steps]
    return next(iter(wallets.values())).get_address()


def exchange(*wallets: WalletRpc) -> None:
    """One multisig info exchange between the signers: refresh, export (and store), import the others'."""
    for wallet in wallets:
        wallet.refresh()
    infos = []
    for wallet in wallets:
        infos.append(wallet.export_multisig_info())
        wallet.store()
    for index, wallet in enumerate(wallets):
        wallet.import_multisig_info(infos[:index] + infos[index + 1 :])


@pytest.fixture(scope="module")
def escrow(regtest: RegtestCluster) -> Iterator[Escrow]:
    filename = f"escrow-{uuid.uuid4().hex[:12]}"
    wallets = {role: regtest.signer(role, 0) for role in ROLES}
    with ThreadPoolExecutor(len(wallets)) as pool:
        list(pool.map(lambda wallet: wallet.create_wallet(filename, PASSWORD), wallets.values()))
    for wallet in wallets.values():
        wallet.auto_refresh(enable=False)
    yield Escrow(filename, build_multisig(wallets, password=PASSWORD), wallets)
    for wallet in wallets.values():
        wallet.close_wallet()


def test_the_wallet_rpcs_demand_their_digest_login(regtest: RegtestCluster) -> None:
    url = regtest.signer_urls["vendor"][1]
    user, password = regtest.signer_login["vendor"]
    with WalletRpc(url, login=(user, password), timeout=30) as wallet:
        assert wallet.get_version() > 0
    for login in [(user, password + "x"), ("buyer", password), None]:
        with WalletRpc(url, login=login, timeout=30) as wallet, pytest.raises(RpcAuthFailed):
            wallet.get_version()


def test_the_login_is_in_a_private_file_not_in_the_process_list(regtest: RegtestCluster) -> None:
    command_lines = []
    for entry in Path("/proc").iterdir():
        try:
            command_line = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(regtest.directory) in command_line and "monero-wallet-rpc" in command_line:
            command_lines.append(command_line)
    assert len(command_lines) == len(ROLES) * 2 + 2
    for role in ROLES:
        _, password = regtest.signer_login[role]
        assert not any(password in command_line for command_line in command_lines)
        config = regtest.directory / "config" / f"{role}.conf"
        assert f"--config-file\0{config}\0" in "".join(command_lines)
        assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_a_proxy_in_the_environment_does_not_capture_loopback_calls(
    regtest: RegtestCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with WalletRpc(regtest.signer_urls["buyer"][1], login=regtest.signer_login["buyer"], timeout=30) as wallet:
        assert wallet.get_version() > 0
    assert os.environ["http_proxy"] == "http://127.0.0.1:9"


def test_a_2_of_3_multisig_is_ready_with_one_address_on_all_three(escrow: Escrow) -> None:
    for wallet in escrow.wallets.values():
        status = wallet.is_multisig()
        assert (status.multisig, status.ready, status.threshold, status.total) == (True, True, 2, 3)
        assert wallet.get_address() == escrow.address
    assert escrow.address.startswith("4")
    assert len({wallet.query_view_key() for wallet in escrow.wallets.values()}) == 1  # the shared view key


def test_a_payment_then_a_payout_meet_each_error_typed(regtest: RegtestCluster, escrow: Escrow) -> None:
    buyer, vendor, arbiter = (escrow.wallets[role] for role in ROLES)
    payout_address = regtest.new_personal_address()

    txid = regtest.pay(escrow.address, FUNDING)
    pool = vendor.get_transfers(incoming=True, pool=True)
    assert [(t.txid, t.type, t.amount, t.address, t.unlock_time) for t in pool] == [
        (txid, "pool", FUNDING, escrow.address, 0)
    ]

    regtest.mine(1)
    vendor.refresh()
    with pytest.raises(FundsLocked) as locked:
        vendor.transfer([(payout_address, PAYOUT)])
    assert (locked.value.code, locked.value.message) == (-37, "not enough unlocked money")

    regtest.mine(9)
    for wallet in (vendor, arbiter):
        wallet.refresh()
    balance = vendor.get_balance()
    assert (balance.balance, balance.multisig_import_needed) == (FUNDING, True)
    with pytest.raises(NoTransactionCreated) as not_created:
        vendor.transfer([(payout_address, PAYOUT)])
    assert (not_created.value.code, not_created.value.message) == (-16, "No transaction created")
    with pytest.raises(NoTransactionCreated) as no_balance:
        vendor.sweep_all(payout_address)
    assert no_balance.value.code == -4

    # A co-signer that exports again after the proposal can no longer sign it.
    exchange(vendor, arbiter)
    stale_proposal = vendor.transfer([(payout_address, PAYOUT)])
    arbiter.export_multisig_info()
    arbiter.store()
    with pytest.raises(StaleMultisigData) as stale:
        arbiter.sign_multisig(stale_proposal.multisig_txset)
    assert stale.value.code == -35
    assert "stale data" in stale.value.message

    exchange(vendor, arbiter, buyer)  # the buyer too, so that it can read (and refuse) the signed transaction
    proposal = vendor.transfer([(payout_address, PAYOUT)])
    assert proposal.tx_hashes == ()
    assert (proposal.amount, proposal.tx_count, len(proposal.spent_key_images)) == (PAYOUT, 1, 1)
    assert proposal.fee > 0
    with pytest.raises(AlreadySigned):
        vendor.sign_multisig(proposal.multisig_txset)
    [description] = arbiter.describe_transfer(proposal.multisig_txset)
    assert description.recipients == (Recipient(payout_address, PAYOUT),)
    assert (description.amount_in, description.fee, description.unlock_time) == (FUNDING, proposal.fee, 0)
    assert description.change_amount == FUNDING - PAYOUT - proposal.fee
    assert description.change_address == escrow.address
    with pytest.raises(NotEnoughSigners):
        arbiter.submit_multisig(proposal.multisig_txset)

    signed = arbiter.sign_multisig(proposal.multisig_txset)
    arbiter.store()
    assert len(signed.tx_hash_list) == 1
    with pytest.raises(FullySigned):
        buyer.sign_multisig(signed.tx_data_hex)
    assert arbiter.submit_multisig(signed.tx_data_hex) == list(signed.tx_hash_list)
    assert arbiter.submit_multisig(signed.tx_data_hex) == list(signed.tx_hash_list)  # idempotent

    daemon = regtest.daemon
    assert daemon.is_key_image_spent(proposal.spent_key_images) == [2]  # in the pool
    [in_pool, unknown] = daemon.get_transactions([signed.tx_hash_list[0], "00" * 32])
    assert (in_pool.found, in_pool.in_pool, unknown.found) == (True, True, False)
    top = regtest.mine(1)
    assert daemon.get_info().height == top + 1
    assert daemon.is_key_image_spent(proposal.spent_key_images) == [1]  # in the chain
    [mined] = daemon.get_transactions(signed.tx_hash_list)
    assert (mined.in_pool, mined.block_height) == (False, top)
    assert regtest.received(payout_address) == PAYOUT


def test_a_killed_endpoint_is_unavailable_then_restarts_with_no_wallet_open(
    regtest: RegtestCluster, escrow: Escrow
) -> None:
    regtest.kill("arbiter", 1)
    wallet = regtest.signer("arbiter", 1)
    with pytest.raises(RpcUnavailable) as unavailable:
        wallet.get_version()
    assert unavailable.value.reached_server is False

    regtest.restart("arbiter", 1)
    with pytest.raises(WalletNotOpen):
        wallet.get_balance()
    with pytest.raises(WalletExists):
        wallet.create_wallet(escrow.filename, PASSWORD)  # same wallet dir as endpoint 0
    with pytest.raises(WalletNotFound):
        wallet.open_wallet(escrow.filename, PASSWORD + "x")  # wrong password: the same answer as a missing file
    with pytest.raises(WalletNotFound):
        wallet.open_wallet("no-such-wallet", PASSWORD)
