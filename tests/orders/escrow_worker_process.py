"""``marketplace worker`` with the real escrow handlers and one fault.

Run as ``python -m tests.orders.escrow_worker_process worker``.

The command, the registry and the handlers are the real ones (``orders.tasks`` over the real
escrow stack, real wallet-rpcs); only a fault is added, before the command runs. ``ESCROW_FAULT``
names where the process stops dead and ``ESCROW_FAULT_MARK`` a file it writes just before (a JSON
object; the test waits for it). No hook for this exists in the product.

- ``setup``: in the middle of a multisig setup, once every wallet of the attempt was made and made
  multisig, before the key-exchange round (``WalletSigner.setup_round`` of round 1): it writes
  the mark and waits, for the test to SIGKILL it from outside;
- ``signed``: right after a payout attempt was signed by both signers (``services.sign_payout``
  returned), before it is saved: it writes the attempt's txids to the mark and SIGKILLs itself
  (the signed transaction existed in its memory only);
- ``saved``: after the attempt was saved (``states.payout_signed`` committed), when it is about to
  be submitted (``services.submit_payout``): it writes the mark and SIGKILLs itself.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from marketplace.cli.main import app
from marketplace.escrow import services
from marketplace.escrow.signer import EscrowWallet, SetupStep
from marketplace.escrow.wallet_signer import WalletSigner

FAULT = "ESCROW_FAULT"
MARK = "ESCROW_FAULT_MARK"
FAULTS = ("setup", "signed", "saved")
STALL_SECONDS = 120.0


def _mark(**facts: Any) -> None:
    path = Path(os.environ[MARK])
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(facts), encoding="utf-8")
    temporary.replace(path)  # whole or not at all: the test reads it as soon as it exists


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _stall_in_setup() -> None:
    real: Callable[..., SetupStep] = WalletSigner.setup_round

    def setup_round(self: WalletSigner, escrow: EscrowWallet, round_index: int, infos: Sequence[str]) -> SetupStep:
        if round_index >= 1:
            _mark(wallet_name=escrow.wallet_name)
            time.sleep(STALL_SECONDS)  # until SIGKILLed
        return real(self, escrow, round_index, infos)

    WalletSigner.setup_round = setup_round  # type: ignore[method-assign]


def _die_once_signed() -> None:
    real = services.sign_payout

    def sign_payout(*arguments: Any, **keywords: Any) -> Any:
        signed = real(*arguments, **keywords)
        _mark(txids=list(signed.txids))
        _die()
        return signed

    services.sign_payout = sign_payout


def _die_before_submitting() -> None:
    def submit_payout(*arguments: Any, **keywords: Any) -> Any:
        _mark()
        _die()
        raise AssertionError("unreachable")

    services.submit_payout = submit_payout


if __name__ == "__main__":
    fault = os.environ.get(FAULT)
    if fault not in FAULTS:
        raise SystemExit(f"{FAULT} must be one of {', '.join(FAULTS)}, not {fault!r}")
    {"setup": _stall_in_setup, "signed": _die_once_signed, "saved": _die_before_submitting}[fault]()
    app(prog_name="marketplace")
