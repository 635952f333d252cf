"""The probe's heights on the real regtest cluster: monerod's height, and the sync lag of the wallet a
signer left open (its height as of its last refresh: the probe refreshes nothing)."""

from __future__ import annotations

import secrets
from pathlib import Path

from prometheus_client import CollectorRegistry

from marketplace.escrow import services
from marketplace.escrow.signer import EscrowWallet, SignerRole
from marketplace.escrow.stack import EscrowStack
from marketplace.observability import names
from marketplace.observability.worker_metrics import ProbeCollector, ProbedDependency
from marketplace.settings import load_settings
from tests.escrow.test_key_backup import make_gpg_key
from tests.support.regtest import RegtestCluster


def _lag(stack: EscrowStack) -> tuple[float | None, dict[str, float]]:
    collector = ProbeCollector()
    collector.record(
        ProbedDependency(check.name, check.ok, check.height, check.role, check.url) for check in stack.probe()
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]  # a collector by its collect()
    lags = {
        sample.labels["role"] + "@" + sample.labels["endpoint"]: sample.value
        for metric in registry.collect()
        if metric.name == names.SIGNER_SYNC_LAG
        for sample in metric.samples
    }
    return registry.get_sample_value(names.MONEROD_HEIGHT), lags


def test_the_sync_lag_is_the_blocks_mined_since_the_open_wallets_last_refresh(
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
    }
    for role in SignerRole:
        overrides[f"signer_{role}_urls"] = ",".join(regtest.signer_urls[role])
        overrides[f"signer_{role}_login"] = ":".join(regtest.signer_login[role])
        overrides[f"signer_{role}_wallet_dir"] = regtest.wallet_dir[role]
    stack = EscrowStack.from_settings(load_settings(**overrides))
    assert stack is not None
    try:
        escrow_id = "lag-" + secrets.token_hex(4)
        services.open_escrow(stack, escrow_id, 1)
        escrow = EscrowWallet.for_attempt(escrow_id, 1)
        services.check_payments(stack, escrow, confirmations=1, last_checked_height=None)  # the arbiter refreshes

        height, lags = _lag(stack)
        regtest.mine(3)
        later_height, later_lags = _lag(stack)
    finally:
        stack.close()

    assert height == regtest.daemon.get_height() - 3
    assert later_height == height + 3
    # Only the arbiter refreshed the escrow wallet since opening it (to look for payments): the
    # buyer's and vendor's copies, fresh from the setup, give no lag rather than a false one.
    assert list(lags.values()) == [0.0]
    assert [key.partition("@")[0] for key in lags] == ["arbiter"]
    assert later_lags == dict.fromkeys(lags, 3.0)  # mined since its last refresh; the probe refreshes nothing
