"""The escrow's signers against a real regtest monerod and real monero-wallet-rpcs (one chain per session; the
``regtest`` fixture puts every test using it in one xdist group).

Each test sets up one escrow (three fresh multisig wallets on the session's signer endpoints: two
per role) and carries it to a payout mined on chain, checking what arrives to the piconero.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketplace.escrow import multisig
from marketplace.escrow.key_backup import GpgBackup
from marketplace.escrow.payments import WalletPaymentDetector
from marketplace.escrow.signer import (
    Destination,
    EscrowWallet,
    FreshExchangeRequired,
    PayoutPlan,
    Proposal,
    SignerError,
    SignerRole,
)
from marketplace.escrow.wallet_passwords import WalletPasswords
from marketplace.escrow.wallet_signer import WalletSigner
from marketplace.monero.rpc import WalletRpc
from marketplace.monero.rpc_errors import RpcUnavailable, TransactionRejected
from tests.escrow.plans import plan
from tests.escrow.test_key_backup import make_gpg_key, stop_gpg_agent
from tests.support.regtest import RegtestCluster

XMR = 10**12
UNLOCK_BLOCKS = 10


class Escrow:
    """One escrow on the session's cluster, with its own signers (and so its own open counts)."""

    def __init__(self, cluster: RegtestCluster, escrow_id: str) -> None:
        self.cluster = cluster
        self.passwords = WalletPasswords(secrets.token_bytes(32))
        self.signers = {role: self.signer(role) for role in SignerRole}
        self.wallet = EscrowWallet.for_attempt(escrow_id, 1)
        started = time.monotonic()
        self.address = multisig.set_up(self.wallet, list(self.signers.values()))
        self.setup_seconds = time.monotonic() - started

    def signer(self, role: SignerRole) -> WalletSigner:
        return WalletSigner(
            role,
            self.cluster.signer_urls[role],
            login=self.cluster.signer_login[role],
            wallet_dir=self.cluster.wallet_dir[role],
            passwords=self.passwords,
        )

    def __getitem__(self, role: str) -> WalletSigner:
        return self.signers[SignerRole(role)]

    def fund(self, *amounts: int) -> int:
        for amount in amounts:
            self.cluster.pay(self.address, amount)
        self.cluster.mine(UNLOCK_BLOCKS)
        return sum(amounts)

    def close(self) -> None:
        for signer in self.signers.values():
            signer.release(self.wallet)
            signer.close()


@pytest.fixture
def escrow(regtest: RegtestCluster, request: pytest.FixtureRequest) -> Iterator[Escrow]:
    created = Escrow(regtest, request.node.name.removeprefix("test_")[:40].replace("_", "-") + secrets.token_hex(3))
    yield created
    created.close()


def test_setup_gives_one_address_and_a_release_sweeps_everything_to_the_vendor(escrow: Escrow) -> None:
    assert {signer.address(escrow.wallet) for signer in escrow.signers.values()} == {escrow.address}
    held = escrow.fund(2 * XMR, 3 * XMR)
    detector = WalletPaymentDetector(escrow["arbiter"], escrow.cluster.daemon.get_height)
    check = detector.check(escrow.wallet, confirmations=UNLOCK_BLOCKS, last_checked_height=None)
    assert check is not None
    assert (check.spendable_atomic, len(check.payments)) == (held, 2)
    assert detector.check(escrow.wallet, confirmations=UNLOCK_BLOCKS, last_checked_height=check.height) is None

    # A copy left behind the daemon's height after its refresh is rebuilt by a rescan, and refused
    # (a loud job error, never a silent "no news") if it stays behind. Forced here with a height no
    # copy can reach; after the rescan it still sees every payment and co-signs the release below.
    with pytest.raises(SignerError, match="even after a rescan"):
        escrow["arbiter"].incoming(escrow.wallet, chain_height=check.height + 1000)
    again = detector.check(escrow.wallet, confirmations=UNLOCK_BLOCKS, last_checked_height=None)
    assert again is not None
    assert (again.spendable_atomic, len(again.payments)) == (held, 2)
    assert escrow["arbiter"].rescans == 1  # a copy that follows the chain is left alone

    vendor_address = escrow.cluster.new_personal_address()
    release = plan([Destination(vendor_address, held)], escrow_address=escrow.address)
    started = time.monotonic()
    payout = multisig.attempt_payout(escrow.wallet, escrow["vendor"], escrow["arbiter"], release)
    assert multisig.submit(escrow.wallet, escrow["vendor"], payout) == payout.txids
    payout_seconds = time.monotonic() - started
    escrow.cluster.mine(1)

    assert payout.destinations == (Destination(vendor_address, held - payout.fee_atomic),)
    assert escrow.cluster.received(vendor_address) == held - payout.fee_atomic
    assert escrow.cluster.daemon.is_key_image_spent(list(payout.key_images)) == [1, 1]
    assert escrow["arbiter"].balance(escrow.wallet).balance == 0
    # Every wallet was opened once (its creation), whatever the number of steps.
    assert [signer.opens_by_wallet[escrow.wallet.wallet_name] for signer in escrow.signers.values()] == [1, 1, 1]
    print(f"\nescrow figures: setup {escrow.setup_seconds:.2f} s, payout (exchange to submit) {payout_seconds:.2f} s")  # noqa: T201


class LyingProposer:
    """A proposer that builds its proposal to another address than the order's plan."""

    def __init__(self, signer: WalletSigner, address: str) -> None:
        self.signer = signer
        self.address = address
        self.role = signer.role

    def __getattr__(self, name: str) -> Any:
        return getattr(self.signer, name)

    def propose(self, escrow: EscrowWallet, order_plan: PayoutPlan) -> Proposal:
        return self.signer.propose(escrow, plan([Destination(self.address, order_plan.held_atomic)], escrow_address=""))


def test_the_cosigner_refuses_another_destination_and_a_split_then_pays_two_destinations_with_no_change(
    escrow: Escrow,
) -> None:
    held = escrow.fund(5 * XMR)
    vendor_address, buyer_address = escrow.cluster.new_personal_address(), escrow.cluster.new_personal_address()
    thief = escrow.cluster.new_personal_address()
    split = plan(
        [Destination(vendor_address, 4 * XMR), Destination(buyer_address, 1 * XMR)], escrow_address=escrow.address
    )

    with pytest.raises(multisig.DestinationMismatch):
        multisig.attempt_payout(escrow.wallet, LyingProposer(escrow["buyer"], thief), escrow["arbiter"], split)  # type: ignore[arg-type]

    payout = multisig.attempt_payout(escrow.wallet, escrow["buyer"], escrow["arbiter"], split)
    multisig.submit(escrow.wallet, escrow["arbiter"], payout)
    escrow.cluster.mine(1)

    expected = split.destinations_for_fee(payout.fee_atomic)
    assert sorted(payout.destinations, key=lambda item: item.address) == sorted(expected, key=lambda item: item.address)
    assert escrow.cluster.received(vendor_address) + escrow.cluster.received(buyer_address) == held - payout.fee_atomic
    assert escrow.cluster.received(vendor_address) == next(
        item.amount_atomic for item in expected if item.address == vendor_address
    )
    assert escrow.cluster.received(thief) == 0
    assert escrow["arbiter"].balance(escrow.wallet).balance == 0


def test_a_cosigner_killed_after_signing_signs_nothing_before_a_fresh_exchange_and_the_escrow_pays_once(
    escrow: Escrow,
) -> None:
    held = escrow.fund(5 * XMR)
    vendor, arbiter = escrow["vendor"], escrow["arbiter"]
    vendor_address = escrow.cluster.new_personal_address()
    release = plan([Destination(vendor_address, held)], escrow_address=escrow.address)
    # Attempt A is signed and saved (the worker then died before submitting it).
    first = multisig.attempt_payout(escrow.wallet, vendor, arbiter, release)
    # Attempt B: a fresh exchange and a proposal, then the co-signer's wallet-rpc is killed.
    multisig.exchange(escrow.wallet, vendor, arbiter)
    proposal = vendor.propose(escrow.wallet, release)
    endpoint = arbiter.endpoint_of(escrow.wallet)
    index = escrow.cluster.signer_urls["arbiter"].index(endpoint)
    escrow.cluster.kill("arbiter", index)
    escrow.cluster.restart("arbiter", index)

    with pytest.raises(FreshExchangeRequired):
        arbiter.sign(escrow.wallet, proposal)
    assert [record.restarts_detected for record in arbiter.health() if record.url == endpoint] == [1]

    second = multisig.attempt_payout(escrow.wallet, vendor, arbiter, release)
    assert second.txids != first.txids
    multisig.submit(escrow.wallet, vendor, first)
    escrow.cluster.mine(1)
    with pytest.raises(TransactionRejected):
        multisig.submit(escrow.wallet, vendor, second)
    escrow.cluster.mine(1)

    assert escrow.cluster.daemon.is_key_image_spent(list(second.key_images)) == [1]
    assert escrow.cluster.received(vendor_address) == held - first.fee_atomic


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def spare_wallet_rpc(regtest: RegtestCluster, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Another monero-wallet-rpc with a wallet directory of its own (a machine restored from backup)."""
    binary = shutil.which("monero-wallet-rpc")
    assert binary is not None, "monero-wallet-rpc is missing: apt-get install monero"
    wallet_dir = tmp_path / "restored-wallets"
    (wallet_dir / "ringdb").mkdir(parents=True)
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            *("--daemon-address", regtest.daemon_url.removeprefix("http://"), "--trusted-daemon"),
            *("--rpc-bind-ip", "127.0.0.1", "--rpc-bind-port", str(port), "--disable-rpc-login"),
            *("--rpc-ssl", "disabled", "--daemon-ssl", "disabled", "--non-interactive", "--no-dns"),
            *("--wallet-dir", str(wallet_dir), "--shared-ringdb-dir", str(wallet_dir / "ringdb")),
            *("--log-file", str(tmp_path / "restored-wallet-rpc.log"), "--log-level", "0"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with WalletRpc(url, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get_version()
                    break
                except RpcUnavailable:
                    assert process.poll() is None, "the spare monero-wallet-rpc exited at start-up"
                    assert time.monotonic() < deadline, "the spare monero-wallet-rpc did not start in 60 s"
                    time.sleep(0.1)
        yield url, wallet_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_wallet_restored_from_its_backup_in_another_wallet_rpc_signs_a_payout(
    escrow: Escrow, spare_wallet_rpc: tuple[str, Path], tmp_path: Path
) -> None:
    backup = GpgBackup(tmp_path / "backups", make_gpg_key(tmp_path / "gnupg"), tmp_path / "gnupg")
    backup.back_up(escrow.wallet, list(escrow.signers.values()))
    held = escrow.fund(3 * XMR)
    url, wallet_dir = spare_wallet_rpc
    backup.restore(escrow.wallet, "arbiter", wallet_dir)
    stop_gpg_agent(tmp_path / "gnupg")
    restored = WalletSigner(SignerRole.ARBITER, [url], login=None, wallet_dir=wallet_dir, passwords=escrow.passwords)
    buyer_address = escrow.cluster.new_personal_address()
    refund = plan([Destination(buyer_address, held)], escrow_address=escrow.address)
    try:
        assert restored.address(escrow.wallet) == escrow.address
        payout = multisig.attempt_payout(escrow.wallet, escrow["buyer"], restored, refund)
        multisig.submit(escrow.wallet, restored, payout)
    finally:
        restored.release(escrow.wallet)
        restored.close()
    escrow.cluster.mine(1)

    assert escrow.cluster.received(buyer_address) == held - payout.fee_atomic
