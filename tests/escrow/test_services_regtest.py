"""The escrow steps a job handler calls, end to end on the session's regtest cluster: the stack built
from settings alone, an escrow opened and backed up, a payment detected, and a dispute's split paid
out by the arbiter and the buyer, each destination receiving exactly what the money rules say."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from marketplace.escrow import money, services
from marketplace.escrow.services import PayoutStatus
from marketplace.escrow.signer import EscrowWallet, SignerRole
from marketplace.escrow.stack import EscrowStack
from marketplace.escrow.wallet_signer import WalletSigner
from marketplace.settings import load_settings
from tests.escrow.test_key_backup import make_gpg_key
from tests.support.regtest import RegtestCluster

XMR = 10**12
UNLOCK_BLOCKS = 10


def test_a_split_decided_by_the_arbiter_pays_each_destination_exactly_and_empties_the_escrow(
    regtest: RegtestCluster, tmp_path: Path
) -> None:
    fingerprint = make_gpg_key(tmp_path / "gnupg")
    overrides: dict[str, object] = {
        "env": "development",
        "data_dir": tmp_path / "data",
        "network": "regtest",
        "monerod_url": regtest.daemon_url,
        "backup_gpg_recipient": fingerprint,
        "backup_gpg_home": tmp_path / "gnupg",
        "fee_basis_points": 150,
        "fee_address": regtest.new_personal_address(),
        "confirmations": UNLOCK_BLOCKS,
    }
    for role in SignerRole:
        overrides[f"signer_{role}_urls"] = ",".join(regtest.signer_urls[role])
        overrides[f"signer_{role}_login"] = ":".join(regtest.signer_login[role])
        overrides[f"signer_{role}_wallet_dir"] = regtest.wallet_dir[role]
    settings = load_settings(**overrides)
    stack = EscrowStack.from_settings(settings)
    assert stack is not None
    try:
        assert [(check.name, check.ok) for check in stack.probe()] == [("monerod", True)] + [
            (f"signer:{role}:{url}", True) for role in SignerRole for url in regtest.signer_urls[role]
        ]

        escrow_id = "split-" + secrets.token_hex(4)
        address = services.open_escrow(stack, escrow_id, 1)
        escrow = EscrowWallet.for_attempt(escrow_id, 1)
        backups = sorted(
            path.relative_to(settings.resolved_backup_dir) for path in settings.resolved_backup_dir.rglob("*.gpg")
        )
        assert backups == sorted(
            Path(role) / f"{escrow.wallet_name}{suffix}.gpg" for role in SignerRole for suffix in ("", ".keys")
        )

        regtest.pay(address, 1_300_000_000_000)
        seen = services.check_payments(stack, escrow, confirmations=settings.confirmations, last_checked_height=None)
        assert seen is not None
        assert (seen.spendable_atomic, seen.pending_atomic) == (0, 1_300_000_000_000)
        regtest.mine(UNLOCK_BLOCKS)
        funded = services.check_payments(
            stack, escrow, confirmations=settings.confirmations, last_checked_height=seen.height
        )
        assert funded is not None
        assert funded.spendable_atomic == 1_300_000_000_000

        terms = money.PayoutTerms(
            due_atomic=1_250_000_000_000,
            fee_basis_points=settings.fee_basis_points,
            buyer_address=regtest.new_personal_address(),
            vendor_address=regtest.new_personal_address(),
            fee_address=settings.fee_address,
        )
        plan = services.build_payout_plan(
            terms,
            money.Outcome.SPLIT,
            received_atomic=funded.spendable_atomic,
            buyer_share_atomic=250_000_000_000,
            escrow_address=address,
            max_fee_atomic=settings.max_network_fee_atomic,
        )
        signed = services.sign_payout(stack, escrow, SignerRole.ARBITER, SignerRole.BUYER, plan)
        assert services.payout_status(stack, signed.key_images) is PayoutStatus.UNSPENT

        assert services.submit_payout(stack, escrow, SignerRole.BUYER, signed) == signed.txids
        assert services.payout_status(stack, signed.key_images) is PayoutStatus.POOL
        assert services.transaction_confirmations(stack, signed.txids) == 0
        regtest.mine(1)
        assert services.payout_status(stack, signed.key_images) is PayoutStatus.CHAIN
        assert services.transaction_confirmations(stack, signed.txids) == 1

        # The fee the mined transaction paid, read from the daemon, not from the signer.
        mined = stack.daemon.get_transactions(list(signed.txids), decode=True)
        paid_fee = sum(int(json.loads(tx.as_json)["rct_signatures"]["txnFee"]) for tx in mined)
        assert paid_fee == signed.fee_atomic
        expected = money.plan_payout(
            terms,
            money.Outcome.SPLIT,
            received_atomic=1_300_000_000_000,
            buyer_share_atomic=250_000_000_000,
            network_fee_atomic=paid_fee,
        )
        assert [d.role for d in expected.destinations] == list(money.Role)
        assert {d.address: regtest.received(d.address) for d in expected.destinations} == expected.amounts_by_address()
        assert expected.sent_atomic + paid_fee == 1_300_000_000_000
        buyer_signer = stack.signer(SignerRole.BUYER)
        assert isinstance(buyer_signer, WalletSigner)
        assert buyer_signer.balance(escrow).balance == 0
        print(f"\nsplit payout: network fee {paid_fee} piconero; sent {expected.notes[0]}")  # noqa: T201
    finally:
        stack.close()
