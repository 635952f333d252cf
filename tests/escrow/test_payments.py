"""What counts as a payment, and that detection opens no wallet while the chain has not moved."""

from __future__ import annotations

from marketplace.escrow import multisig
from marketplace.escrow.fake_signer import FakeNetwork, FakeSigner
from marketplace.escrow.payments import WalletPaymentDetector, summarize
from marketplace.escrow.signer import EscrowWallet, IncomingTransfer, SignerRole

XMR = 10**12


def _transfer(txid: str, amount: int, confirmations: int, **changes: object) -> IncomingTransfer:
    fields: dict[str, object] = {
        "txid": txid,
        "amount_atomic": amount,
        "confirmations": confirmations,
        "height": 100,
        "unlock_time": 0,
        "in_pool": False,
        "coinbase": False,
    }
    fields.update(changes)
    return IncomingTransfer(**fields)  # type: ignore[arg-type]


def test_only_plain_payments_deep_enough_count_and_the_rest_is_pending_or_ignored() -> None:
    transfers = (
        _transfer("deep", 2 * XMR, 10),
        _transfer("shallow", 1 * XMR, 3),
        _transfer("pool", 3 * XMR, 0, in_pool=True, height=0),
        _transfer("locked", 4 * XMR, 20, unlock_time=500),
        _transfer("coinbase", 5 * XMR, 70, coinbase=True),
        # A mined payment the wallet still lists in the pool until it refreshes counts once.
        _transfer("deep", 2 * XMR, 0, in_pool=True, height=0),
    )

    check = summarize(transfers, height=110, confirmations=10)

    assert check.spendable_atomic == 2 * XMR
    assert check.pending_atomic == 1 * XMR + 3 * XMR
    assert check.confirmed_txids == ("deep",)
    assert [payment.txid for payment in check.payments] == ["deep", "shallow", "pool", "locked"]


def test_the_wallet_is_read_only_when_the_chain_height_moved() -> None:
    network = FakeNetwork()
    signers = [FakeSigner(role, network) for role in SignerRole]
    escrow = EscrowWallet.for_attempt("watch", 1)
    address = multisig.set_up(escrow, signers)
    arbiter = signers[2]
    detector = WalletPaymentDetector(arbiter, lambda: network.height)

    first = detector.check(escrow, confirmations=2, last_checked_height=None)
    assert first is not None
    assert first.payments == ()
    network.pay(address, 1 * XMR)
    assert detector.check(escrow, confirmations=2, last_checked_height=first.height) is None
    assert arbiter.calls["incoming"] == 1

    network.mine(2)
    second = detector.check(escrow, confirmations=2, last_checked_height=first.height)
    assert second is not None
    assert second.spendable_atomic == 1 * XMR
    assert arbiter.calls["incoming"] == 2
