"""Monero RPC errors: the classification table (measured texts of monero-wallet-rpc 0.18.0.0) and
the retry rule at the transport level (httpx2.MockTransport: the only place a fake server is used;
tests/monero/test_rpc_regtest.py provokes the errors on real processes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import orjson
import pytest

from marketplace.monero import rpc_errors
from marketplace.monero.rpc import MAX_RETRIES, DaemonRpc, WalletRpc
from marketplace.monero.rpc_errors import (
    AlreadyMultisig,
    AlreadySigned,
    FullySigned,
    FundsLocked,
    InsufficientFunds,
    MultisigDisabled,
    MultisigNotReady,
    NotEnoughSigners,
    NoTransactionCreated,
    RpcAuthFailed,
    RpcError,
    RpcUnavailable,
    StaleMultisigData,
    TransactionRejected,
    WalletExists,
    WalletNotFound,
    WalletNotOpen,
    classify,
)

MULTISIG_DISABLED_TEXT = (
    "This wallet is multisig, and multisig is disabled. Multisig is an experimental feature and may have bugs. "
    "Things that could go wrong include: funds sent to a multisig wallet can't be spent at all, can only be spent "
    "with the participation of a malicious group member, or can be stolen by a malicious group member. You can "
    "enable it by running this once in monero-wallet-cli: set enable-multisig-experimental 1"
)

STALE_TEXT = (
    "Failed to sign multisig tx: This signature was made with stale data: export fresh multisig data, "
    "which other participants must then use"
)

# (code, message as monero-wallet-rpc 0.18.0.0 answered it, expected class, transient)
TABLE: list[tuple[int, str, type[RpcError], bool]] = [
    (-35, STALE_TEXT, StaleMultisigData, True),
    (-35, "Failed to sign multisig tx: Transaction already signed by this private key", AlreadySigned, False),
    (-35, "Failed to sign multisig tx: Transaction is already fully signed", FullySigned, False),
    (-35, "Failed to sign multisig tx: something not seen before", RpcError, False),
    (-34, "Failed to parse multisig tx data.", RpcError, False),  # a signer that took no part in the exchange
    (-37, "not enough unlocked money", FundsLocked, True),
    (-17, "not enough money", InsufficientFunds, False),
    (-16, "No transaction created", NoTransactionCreated, True),
    (-16, "tx not possible", NoTransactionCreated, True),
    (-4, "No unlocked balance in the specified subaddress(es)", NoTransactionCreated, True),
    (-4, "No unlocked balance in the specified account", NoTransactionCreated, True),
    (-4, "LR not found for enough participants", NoTransactionCreated, True),
    (-4, "Failed to parse the transaction", RpcError, False),
    (-36, "Failed to submit multisig tx: transaction was rejected by daemon", TransactionRejected, False),
    (-33, "Not enough signers signed this transaction.", NotEnoughSigners, False),
    (-33, "Needs multisig export info from more participants", NotEnoughSigners, False),
    (-48, MULTISIG_DISABLED_TEXT, MultisigDisabled, False),
    (-28, "This wallet is already multisig", AlreadyMultisig, False),
    (-31, "This wallet is multisig, but not yet finalized", MultisigNotReady, False),
    (-38, "no connection to daemon", RpcUnavailable, True),
    (-3, "daemon is busy", RpcUnavailable, True),
    (-13, "No wallet file", WalletNotOpen, False),
    (-21, "Cannot create wallet. Already exists.", WalletExists, False),
    (-1, "Failed to open wallet", WalletNotFound, False),
    (-19, "not enough outputs to use Please use sweep_dust.", RpcError, False),
    (-32602, "Invalid params", RpcError, False),
]


@pytest.mark.parametrize(("code", "message", "expected", "transient"), TABLE)
def test_errors_are_classified_on_code_and_message(
    code: int, message: str, expected: type[RpcError], transient: bool
) -> None:
    error = classify("sign_multisig", code, message)
    assert type(error) is expected
    assert error.transient is transient
    assert (error.method, error.code, error.message) == ("sign_multisig", code, message)
    assert message in str(error)


def test_the_same_text_under_another_code_is_not_taken_for_it() -> None:
    assert type(classify("transfer", -4, "This signature was made with stale data")) is RpcError


def test_every_class_is_an_rpc_error() -> None:
    classes = [value for value in vars(rpc_errors).values() if isinstance(value, type) and issubclass(value, Exception)]
    assert all(issubclass(cls, RpcError) for cls in classes)
    assert len(classes) == len({row[2] for row in TABLE}) + 1  # RpcAuthFailed comes from HTTP 401, not a code


# --- the retry rule ------------------------------------------------------------------------------------

Behaviour = Callable[[httpx2.Request], httpx2.Response]


class Server:
    """A fake endpoint answering each request with the next behaviour (the last one repeats)."""

    def __init__(self, *behaviours: Behaviour) -> None:
        self.behaviours = list(behaviours)
        self.methods: list[str] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.methods.append(orjson.loads(request.content).get("method", request.url.path))
        behaviour = self.behaviours.pop(0) if len(self.behaviours) > 1 else self.behaviours[0]
        return behaviour(request)

    def wallet(self) -> WalletRpc:
        return WalletRpc("http://127.0.0.1:1", transport=httpx2.MockTransport(self.handle), retry_delay=0)

    def daemon(self) -> DaemonRpc:
        return DaemonRpc("http://127.0.0.1:1", transport=httpx2.MockTransport(self.handle), retry_delay=0)


def refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("Connection refused", request=request)


def timed_out(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("timed out", request=request)


def dropped(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)


def status(code: int) -> Behaviour:
    return lambda request: httpx2.Response(code, text="")


def error(code: int, message: str) -> Behaviour:
    return lambda request: httpx2.Response(
        200, json={"id": "0", "jsonrpc": "2.0", "error": {"code": code, "message": message}}
    )


def result(value: dict[str, Any]) -> Behaviour:
    return lambda request: httpx2.Response(200, json={"id": "0", "jsonrpc": "2.0", "result": value})


SIGN_RESULT = {"tx_data_hex": "ab", "tx_hash_list": ["cd"]}

# Every call that does something which must not happen twice, with a fake answer of its shape.
NOT_IDEMPOTENT: list[tuple[str, Callable[[Any], object], dict[str, Any]]] = [
    ("sign_multisig", lambda w: w.sign_multisig("ab"), SIGN_RESULT),
    ("export_multisig_info", lambda w: w.export_multisig_info(), {"info": "ab"}),
    ("import_multisig_info", lambda w: w.import_multisig_info(["ab"]), {"n_outputs": 1}),
    ("transfer", lambda w: w.transfer([("4addr", 5)]), {"multisig_txset": "ab"}),
    ("sweep_all", lambda w: w.sweep_all("4addr"), {"multisig_txset": "ab"}),
    ("submit_multisig", lambda w: w.submit_multisig("ab"), {"tx_hash_list": ["cd"]}),
    ("create_wallet", lambda w: w.create_wallet("w", ""), {}),
    ("make_multisig", lambda w: w.make_multisig(["a"], threshold=2, password=""), {}),
    ("exchange_multisig_keys", lambda w: w.exchange_multisig_keys(["a"], password=""), {}),
    ("generateblocks", lambda d: d.generate_blocks(1, "4addr"), {"height": 2}),
]


def client_for(server: Server, method: str) -> WalletRpc | DaemonRpc:
    return server.daemon() if method == "generateblocks" else server.wallet()


@pytest.mark.parametrize("lost", [timed_out, dropped, status(500), error(-38, "no connection to daemon")])
@pytest.mark.parametrize(("method", "invoke", "answer"), NOT_IDEMPOTENT, ids=[row[0] for row in NOT_IDEMPOTENT])
def test_a_call_that_may_have_happened_is_never_sent_again(
    method: str, invoke: Callable[[Any], object], answer: dict[str, Any], lost: Behaviour
) -> None:
    server = Server(lost, result(answer))
    with client_for(server, method) as client, pytest.raises(RpcUnavailable) as raised:
        invoke(client)
    assert server.methods == [method]
    assert raised.value.reached_server is True
    assert raised.value.transient is True


@pytest.mark.parametrize(("method", "invoke", "answer"), NOT_IDEMPOTENT, ids=[row[0] for row in NOT_IDEMPOTENT])
def test_a_call_that_never_reached_the_server_is_sent_again(
    method: str, invoke: Callable[[Any], object], answer: dict[str, Any]
) -> None:
    server = Server(refused, refused, result(answer))
    with client_for(server, method) as client:
        invoke(client)
    assert server.methods == [method] * 3


def test_retries_are_capped() -> None:
    server = Server(refused)
    with server.wallet() as wallet, pytest.raises(RpcUnavailable) as raised:
        wallet.sign_multisig("ab")
    assert len(server.methods) == 1 + MAX_RETRIES
    assert raised.value.reached_server is False


@pytest.mark.parametrize("lost", [timed_out, dropped, status(503), error(-38, "no connection to daemon")])
def test_a_read_is_sent_again_after_a_lost_answer(lost: Behaviour) -> None:
    balance = {"balance": 7, "unlocked_balance": 5, "multisig_import_needed": True}
    server = Server(lost, result(balance))
    with server.wallet() as wallet:
        got = wallet.get_balance()
    assert (got.balance, got.unlocked_balance, got.multisig_import_needed) == (7, 5, True)
    assert server.methods == ["get_balance", "get_balance"]


def test_a_read_that_keeps_failing_gives_up_after_the_cap() -> None:
    server = Server(timed_out)
    with server.daemon() as daemon, pytest.raises(RpcUnavailable):
        daemon.is_key_image_spent(["aa"])
    assert server.methods == ["/is_key_image_spent"] * (1 + MAX_RETRIES)


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (status(401), RpcAuthFailed),
        (status(404), RpcError),
        (error(-35, "Failed to sign multisig tx: This signature was made with stale data: ..."), StaleMultisigData),
        (error(-37, "not enough unlocked money"), FundsLocked),
        (lambda request: httpx2.Response(200, text="<html>proxy</html>"), RpcError),
    ],
)
def test_refusals_are_not_retried_even_for_a_read(behaviour: Behaviour, expected: type[RpcError]) -> None:
    server = Server(behaviour, result({"height": 3}))
    with server.wallet() as wallet, pytest.raises(expected) as raised:
        wallet.get_height()
    assert type(raised.value) is expected
    assert server.methods == ["get_height"]


def test_a_daemon_answer_that_is_not_ok_is_an_error() -> None:
    server = Server(lambda request: httpx2.Response(200, json={"status": "Failed", "spent_status": []}))
    with server.daemon() as daemon, pytest.raises(RpcError, match="status Failed"):
        daemon.is_key_image_spent(["aa"])


@pytest.mark.parametrize("amount", [1.5, True, 0, -1, "5"])
def test_amounts_are_positive_integer_piconero(amount: object) -> None:
    server = Server(result({"multisig_txset": "ab"}))
    with server.wallet() as wallet, pytest.raises((TypeError, ValueError)):
        wallet.transfer([("4addr", amount)])
    assert server.methods == []


def test_error_messages_never_carry_the_parameters() -> None:
    server = Server(error(-1, "Failed to open wallet"))
    with server.wallet() as wallet, pytest.raises(WalletNotFound) as raised:
        wallet.open_wallet("escrow-1", "hunter2-secret")
    assert "hunter2-secret" not in str(raised.value)
    assert "hunter2-secret" not in repr(raised.value.args)
