"""Typed errors of monerod and monero-wallet-rpc, decided on the error code AND its message.

Monero reuses one JSON-RPC code for several situations (-35 is "stale data", "already signed by
this private key" and "already fully signed"; -4 is "No unlocked balance" and any other failure of
a transfer), so ``classify`` looks at both. The texts matched are the ones monero-wallet-rpc
0.18.0.0 was seen to return (docs in /work/shared/MONERO-REGTEST.md, tests in
tests/monero/test_rpc_errors.py and tests/monero/test_rpc_regtest.py).

Every error says whether it is ``transient``: true when the same step may succeed later without a
person doing anything (the daemon comes back, funds unlock, a fresh multisig exchange is made);
false when repeating it would fail the same way. Whether a call may be *re-sent* is a different
question, answered by ``marketplace.monero.rpc`` (never for a sign, export, transfer or submit whose
answer was lost).

These are not ``MarketplaceError``: no user causes them, they are the state of a service.
"""

from __future__ import annotations

# JSON-RPC codes of monero-wallet-rpc 0.18.0.0 (src/wallet/wallet_rpc_server_error_codes.h).
UNKNOWN_ERROR = -1
DAEMON_IS_BUSY = -3
GENERIC_TRANSFER_ERROR = -4
NOT_OPEN = -13
TX_NOT_POSSIBLE = -16
NOT_ENOUGH_MONEY = -17
WALLET_ALREADY_EXISTS = -21
ALREADY_MULTISIG = -28
NOT_MULTISIG = -31
THRESHOLD_NOT_REACHED = -33
MULTISIG_SIGNATURE = -35
MULTISIG_SUBMISSION = -36
NOT_ENOUGH_UNLOCKED_MONEY = -37
NO_DAEMON_CONNECTION = -38
MULTISIG_DISABLED = -48


class RpcError(Exception):
    """A call to monerod or monero-wallet-rpc failed.

    ``method`` is the RPC method (or path) called, ``code`` the JSON-RPC error code (``None`` when
    the failure is below JSON-RPC: transport, HTTP status, unreadable answer) and ``message`` the
    server's text (or a description of the transport failure). ``transient`` is a class attribute:
    see the module docstring. The message never contains the call's parameters (they can hold
    wallet passwords and multisig secrets).
    """

    transient = False

    def __init__(self, method: str, code: int | None, message: str) -> None:
        super().__init__(f"{method}: {message}" if code is None else f"{method}: {message} (code {code})")
        self.method = method
        self.code = code
        self.message = message


class RpcUnavailable(RpcError):
    """The service did not answer usefully: connect refused, timeout, HTTP 5xx, -38 "no connection
    to daemon", -3 daemon busy. ``reached_server`` is False when the request certainly never got to
    the server (connect refused or timed out), so it cannot have had any effect; when True the
    effect is unknown (the answer was lost)."""

    transient = True

    def __init__(self, method: str, code: int | None, message: str, *, reached_server: bool = True) -> None:
        super().__init__(method, code, message)
        self.reached_server = reached_server


class RpcAuthFailed(RpcError):
    """HTTP 401: the wallet-rpc refused the digest login (wrong user or password)."""


class StaleMultisigData(RpcError):
    """-35 "This signature was made with stale data": the signer's multisig nonces no longer match
    the proposal. The cure is a fresh exchange (export/import) and a new proposal."""

    transient = True


class AlreadySigned(RpcError):
    """-35 "Transaction already signed by this private key": this wallet signed this txset before
    (the proposer signing its own proposal, or a co-signer signing twice)."""


class FullySigned(RpcError):
    """-35 "Transaction is already fully signed": nothing left to sign; submit it instead."""


class FundsLocked(RpcError):
    """-37 "not enough unlocked money": the balance is there but not yet spendable (fewer than 10
    confirmations, or coinbase younger than 60 blocks). Wait for blocks."""

    transient = True


class InsufficientFunds(RpcError):
    """-17 "not enough money": the wallet holds less than the amount plus the fee."""


class NoTransactionCreated(RpcError):
    """-16 "No transaction created" / "tx not possible", or -4 "No unlocked balance in the
    specified subaddress(es)" / "LR not found for enough participants": for a multisig wallet,
    usually that multisig info was not exchanged since the funds arrived (``get_balance`` then says
    ``multisig_import_needed``) or the outputs are not unlocked yet. Transient until an exchange or
    more blocks; a caller must cap its waiting."""

    transient = True


class TransactionRejected(RpcError):
    """-36 "Failed to submit multisig tx: transaction was rejected by daemon" (double spend,
    among others; the reason is only in monerod's log). Ask ``/is_key_image_spent`` what won."""


class NotEnoughSigners(RpcError):
    """-33: "Not enough signers signed this transaction." (submit) or "Needs multisig export info
    from more participants" (import)."""


class MultisigDisabled(RpcError):
    """-48 "This wallet is multisig, and multisig is disabled": the wallet was made multisig without
    ``enable_multisig_experimental``; every multisig call fails until it is switched on."""


class AlreadyMultisig(RpcError):
    """-28 "This wallet is already multisig"."""


class MultisigNotReady(RpcError):
    """-31: "This wallet is multisig, but not yet finalized" (key exchange unfinished) or "This
    wallet is not multisig"."""


class WalletExists(RpcError):
    """-21 on ``create_wallet``: a wallet file of that name is already in the wallet dir."""


class WalletNotFound(RpcError):
    """-1 "Failed to open wallet" on ``open_wallet``: the file is not in the wallet dir, OR the
    password is wrong (0.18.0.0 answers both with the same code and text), OR the wallet is open in
    another wallet-rpc (its keys file is locked)."""


class WalletNotOpen(RpcError):
    """-13 "No wallet file": the wallet-rpc has no wallet open (for instance after a restart)."""


_BY_CODE: dict[int, type[RpcError]] = {
    DAEMON_IS_BUSY: RpcUnavailable,
    NO_DAEMON_CONNECTION: RpcUnavailable,
    NOT_OPEN: WalletNotOpen,
    TX_NOT_POSSIBLE: NoTransactionCreated,
    NOT_ENOUGH_MONEY: InsufficientFunds,
    WALLET_ALREADY_EXISTS: WalletExists,
    ALREADY_MULTISIG: AlreadyMultisig,
    NOT_MULTISIG: MultisigNotReady,
    THRESHOLD_NOT_REACHED: NotEnoughSigners,
    MULTISIG_SUBMISSION: TransactionRejected,
    NOT_ENOUGH_UNLOCKED_MONEY: FundsLocked,
    MULTISIG_DISABLED: MultisigDisabled,
}

# (code, lower-case fragment of the message) -> class, tried in order; the code alone is not enough.
_BY_TEXT: tuple[tuple[int, str, type[RpcError]], ...] = (
    (MULTISIG_SIGNATURE, "stale data", StaleMultisigData),
    (MULTISIG_SIGNATURE, "already signed by this private key", AlreadySigned),
    (MULTISIG_SIGNATURE, "already fully signed", FullySigned),
    (GENERIC_TRANSFER_ERROR, "no unlocked balance", NoTransactionCreated),
    (GENERIC_TRANSFER_ERROR, "lr not found for enough participants", NoTransactionCreated),
    (UNKNOWN_ERROR, "failed to open wallet", WalletNotFound),
    (UNKNOWN_ERROR, "no connection to daemon", RpcUnavailable),
)


def classify(method: str, code: int, message: str) -> RpcError:
    """The typed error for a JSON-RPC error answer ``{"code": code, "message": message}``.

    Decided on the code and the message together (see ``_BY_TEXT``), then on the code alone;
    anything else is a plain, permanent ``RpcError``.
    """
    text = message.lower()
    for known_code, fragment, error_class in _BY_TEXT:
        if code == known_code and fragment in text:
            return error_class(method, code, message)
    return _BY_CODE.get(code, RpcError)(method, code, message)
