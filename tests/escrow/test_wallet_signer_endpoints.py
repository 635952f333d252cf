"""Which endpoint an escrow's wallet goes to: the same one in every worker process."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from marketplace.escrow.signer import EscrowWallet
from marketplace.escrow.wallet_passwords import WalletPasswords
from marketplace.escrow.wallet_signer import WalletSigner
from marketplace.settings import SignerRole

URLS = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b", "http://127.0.0.1:9/c"]


def _signer(tmp_path: Path) -> WalletSigner:
    return WalletSigner(SignerRole.VENDOR, URLS, login=None, wallet_dir=tmp_path, passwords=WalletPasswords(b"k" * 32))


def test_two_workers_send_one_wallet_to_the_same_endpoint_and_spread_the_others(tmp_path: Path) -> None:
    """A restarted (or second) worker never opens an escrow's wallet on another endpoint than the
    one a dead worker may have left it open on: two writers of one wallet file would corrupt it."""
    first, restarted = _signer(tmp_path), _signer(tmp_path)
    escrows = [EscrowWallet.for_attempt(f"order{index}", 1) for index in range(300)]

    homes = [first.home_endpoint(escrow) for escrow in escrows]

    assert homes == [restarted.home_endpoint(escrow) for escrow in escrows]
    spread = Counter(homes)
    assert set(spread) == set(URLS)
    assert min(spread.values()) > 60  # about 100 each
    first.close()
    restarted.close()
