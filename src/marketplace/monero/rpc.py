"""Clients of monerod and monero-wallet-rpc (JSON-RPC over HTTP, through httpx2).

``JsonRpcClient`` carries the calls: HTTP digest auth when a login is given (monero-wallet-rpc's
``rpc-login``), ``trust_env=False`` so no ``http_proxy`` of the environment captures calls to
127.0.0.1, and a timeout per call. Connections are kept alive: monero-wallet-rpc 0.18.0.0 accepts
a digest answer only on the connection that received the challenge (measured: without keep-alive
every call is refused with 401); a new connection costs one extra 401 round trip.

The retry rule (``JsonRpcClient.call``): at most ``MAX_RETRIES`` more attempts, with a short
growing pause, and only where re-sending cannot do a thing twice:

- a request that certainly never reached the server (connection refused, connect timeout) is
  retried whatever the method;
- a request whose answer was lost (read timeout, broken connection, HTTP 5xx) or that the server
  refused as unavailable (-38 "no connection to daemon", -3 busy) is retried only for methods
  marked idempotent (reads, ``refresh``, ``store``, ...). A ``sign_multisig``,
  ``export_multisig_info``, ``transfer``, ``sweep_all``, ``submit_multisig``, ``create_wallet``
  ... is never re-sent: the error (``RpcUnavailable``) goes to the caller, whose job layer retries
  with a fresh multisig exchange.

Every other failure raises at once, typed by ``marketplace.monero.rpc_errors.classify``.

Amounts in and out are ``int`` piconero. Results a caller reads field by field come back as small
frozen dataclasses; fields absent from an answer of monero-wallet-rpc 0.18.0.0 are not invented.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx2

from marketplace.monero.rpc_errors import RpcAuthFailed, RpcError, RpcUnavailable, classify
from marketplace.observability.worker_metrics import endpoint_label, record_rpc, record_rpc_error

log = logging.getLogger("marketplace.monero")

MAX_RETRIES = 2
RETRY_DELAY = 0.2  # seconds before the first retry; doubled each time
DEFAULT_TIMEOUT = 60.0  # seconds; a multisig transfer on a slow machine takes seconds, not minutes

JsonObject = dict[str, Any]


# --- the transport ---------------------------------------------------------------------------------


class JsonRpcClient:
    """One monerod or monero-wallet-rpc endpoint, e.g. ``JsonRpcClient("http://127.0.0.1:18082")``.

    ``login`` is ``(user, password)`` for a wallet-rpc started with ``rpc-login`` (digest auth), or
    ``None`` for one started with ``--disable-rpc-login`` and for monerod. ``timeout`` (seconds)
    bounds each attempt of each call unless the call gives its own. ``transport`` is for tests
    (``httpx2.MockTransport``). Use as a context manager or call ``close()``.

    Every attempt is timed and every failed one counted (``observability.worker_metrics.record_rpc``)
    under ``service`` (``daemon`` or ``wallet``), the method and the URL's ``host:port``.
    """

    service = "rpc"

    def __init__(
        self,
        url: str,
        *,
        login: tuple[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx2.BaseTransport | None = None,
        retry_delay: float = RETRY_DELAY,
    ) -> None:
        self.url = url.rstrip("/")
        self.endpoint = endpoint_label(self.url)
        self.timeout = timeout
        self.retry_delay = retry_delay
        self._http = httpx2.Client(
            auth=httpx2.DigestAuth(*login) if login is not None else None,
            timeout=timeout,
            trust_env=False,
            follow_redirects=False,
            limits=httpx2.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=5.0),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = False,
        timeout: float | None = None,
    ) -> JsonObject:
        """Call JSON-RPC ``method`` at ``/json_rpc`` and return its ``result`` object.

        ``idempotent=True`` allows re-sending after a lost answer (see the module docstring).
        Raises ``RpcUnavailable`` (transport, timeout, 5xx, -38, -3), ``RpcAuthFailed`` (401), or
        the ``classify``-typed ``RpcError`` of the JSON-RPC error answer.
        """
        body = {"jsonrpc": "2.0", "id": "0", "method": method, "params": dict(params or {})}
        answer = self._with_retries(method, "/json_rpc", body, idempotent=idempotent, timeout=timeout)
        result = answer.get("result")
        if not isinstance(result, dict):
            raise RpcError(method, None, "answer without a result object")
        return result

    def post(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = False,
        timeout: float | None = None,
    ) -> JsonObject:
        """POST JSON ``body`` to a plain (non JSON-RPC) endpoint such as monerod's
        ``/is_key_image_spent``; return the answer object. Same retry rule and errors as ``call``."""
        return self._with_retries(path, path, dict(body or {}), idempotent=idempotent, timeout=timeout)

    def _with_retries(
        self, method: str, path: str, body: JsonObject, *, idempotent: bool, timeout: float | None
    ) -> JsonObject:
        attempt = 0
        while True:
            try:
                return self._post(method, path, body, timeout)
            except RpcUnavailable as error:
                if attempt >= MAX_RETRIES or (error.reached_server and not idempotent):
                    raise
                log.info("monero rpc %s unavailable, retrying: %s", method, error.message)
                time.sleep(self.retry_delay * 2**attempt)
                attempt += 1

    def _post(self, method: str, path: str, body: JsonObject, timeout: float | None) -> JsonObject:
        started = time.monotonic()
        error: BaseException | None = None
        try:
            return self._attempt(method, path, body, timeout)
        except BaseException as failure:
            error = failure
            raise
        finally:
            record_rpc(self.service, method, self.endpoint, time.monotonic() - started, error=error)

    def _attempt(self, method: str, path: str, body: JsonObject, timeout: float | None) -> JsonObject:
        try:
            response = self._http.post(self.url + path, json=body, timeout=self.timeout if timeout is None else timeout)
        except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as error:
            raise RpcUnavailable(
                method, None, f"cannot connect to {self.url}: {error}", reached_server=False
            ) from error
        except httpx2.TimeoutException as error:
            raise RpcUnavailable(method, None, f"no answer from {self.url} in time: {error!r}") from error
        except httpx2.TransportError as error:
            raise RpcUnavailable(method, None, f"connection to {self.url} failed: {error!r}") from error
        status = response.status_code
        if status == 401:
            raise RpcAuthFailed(method, None, f"HTTP 401 from {self.url}: login refused")
        if status >= 500:
            raise RpcUnavailable(method, None, f"HTTP {status} from {self.url}")
        if status != 200:
            raise RpcError(method, None, f"HTTP {status} from {self.url}")
        try:
            answer = response.json()
        except ValueError as error:
            raise RpcError(method, None, f"answer from {self.url} is not JSON") from error
        if not isinstance(answer, dict):
            raise RpcError(method, None, f"answer from {self.url} is not a JSON object")
        error_object = answer.get("error")
        if isinstance(error_object, dict):
            code = error_object.get("code")
            message = error_object.get("message")
            raise classify(method, code if isinstance(code, int) else 0, str(message))
        return answer


# --- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Balance:
    """``get_balance`` of account 0, in piconero. ``balance`` includes payments still in the pool;
    ``unlocked_balance`` is what can be spent now. For a multisig wallet, ``multisig_import_needed``
    True means the balance is not spendable until multisig info is exchanged (check this flag, not
    the balance)."""

    balance: int
    unlocked_balance: int
    multisig_import_needed: bool
    blocks_to_unlock: int


@dataclass(frozen=True, slots=True)
class Refreshed:
    """``refresh``: blocks scanned and whether money was received."""

    blocks_fetched: int
    received_money: bool


@dataclass(frozen=True, slots=True)
class Transfer:
    """One entry of ``get_transfers``. ``type`` is ``"in"``, ``"out"``, ``"pending"``, ``"failed"``
    or ``"pool"``; ``amount`` and ``fee`` in piconero; ``height`` 0 while in the pool;
    ``unlock_time`` 0 for a normal payment (anything else: not spendable at 10 confirmations);
    ``address`` the (sub)address of this wallet it concerns; ``subaddr_index`` (major, minor)."""

    txid: str
    type: str
    amount: int
    fee: int
    height: int
    confirmations: int
    unlock_time: int
    address: str
    subaddr_index: tuple[int, int]
    double_spend_seen: bool
    locked: bool


@dataclass(frozen=True, slots=True)
class IncomingOutput:
    """One entry of ``incoming_transfers`` (mined outputs only): ``amount`` in piconero, its
    ``key_image`` (empty for a multisig wallet before an exchange), ``spent`` and ``unlocked`` as the
    wallet believes."""

    tx_hash: str
    amount: int
    key_image: str
    spent: bool
    unlocked: bool
    frozen: bool
    block_height: int
    subaddr_index: tuple[int, int]


@dataclass(frozen=True, slots=True)
class MultisigStep:
    """``make_multisig`` / ``exchange_multisig_keys``: ``multisig_info`` is this wallet's message
    for the next round (empty when none is needed); ``address`` is the final multisig address once
    the exchange is complete, else empty or a placeholder (``41fJjQDhryD111...`` from make_multisig):
    read the address only once ``is_multisig().ready``."""

    address: str
    multisig_info: str


@dataclass(frozen=True, slots=True)
class MultisigStatus:
    """``is_multisig``."""

    multisig: bool
    ready: bool
    threshold: int
    total: int


@dataclass(frozen=True, slots=True)
class Proposal:
    """What ``transfer`` or ``sweep_all`` built.

    For a multisig wallet: ``multisig_txset`` (hex) is the unsigned proposal to hand to a
    co-signer, and ``tx_hashes`` is empty. For a normal wallet the transactions were relayed:
    ``tx_hashes`` lists them and ``multisig_txset`` is empty. ``amount`` and ``fee`` are totals in
    piconero over the transactions built (``sweep_all`` may build several, ``tx_count``).
    ``spent_key_images`` are the key images of the inputs spent (ask monerod's
    ``is_key_image_spent`` later which attempt won); empty when the wallet returned none.
    """

    multisig_txset: str
    tx_hashes: tuple[str, ...]
    amount: int
    fee: int
    tx_count: int
    spent_key_images: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    amount: int


@dataclass(frozen=True, slots=True)
class TransferDescription:
    """One transaction of ``describe_transfer``, in piconero. It checks nothing for the caller:
    ``recipients`` come merged per address in any order; ``change_address`` is not compared with
    the wallet's own; ``unlock_time`` must be 0 for a normal payout; inputs are not listed, only
    ``amount_in``."""

    recipients: tuple[Recipient, ...]
    amount_in: int
    amount_out: int
    change_amount: int
    change_address: str
    fee: int
    unlock_time: int
    ring_size: int


@dataclass(frozen=True, slots=True)
class SignResult:
    """``sign_multisig``: the txset with this signature added (``tx_data_hex``) and, when the
    transaction is complete (enough signatures), its ``tx_hash_list``; empty while more signatures
    are needed."""

    tx_data_hex: str
    tx_hash_list: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """monerod ``get_info``: chain ``height`` (blocks, so the top block is ``height - 1``),
    ``nettype`` (``"fakechain"`` in regtest, ``"mainnet"``, ...)."""

    height: int
    nettype: str
    top_block_hash: str
    tx_pool_size: int
    synchronized: bool


@dataclass(frozen=True, slots=True)
class DaemonTransaction:
    """One transaction asked of monerod ``/get_transactions``. ``found`` False: the daemon knows
    nothing of it (``missed_tx``: dropped from the pool or never seen). ``block_height`` is None
    while in the pool. ``as_json`` is the decoded transaction when asked for, else ''."""

    txid: str
    found: bool
    in_pool: bool
    block_height: int | None
    double_spend_seen: bool
    as_json: str


@dataclass(frozen=True, slots=True)
class FeeEstimate:
    """monerod ``get_fee_estimate``: ``fee`` piconero per byte of weight; amounts are rounded up to
    ``quantization_mask``."""

    fee: int
    quantization_mask: int


# --- wallet -------------------------------------------------------------------------------------------


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return value


def _atomic(value: Any, name: str = "amount") -> int:
    """An amount to send, in piconero: a positive int (never a float, never a bool)."""
    amount = _int(value, name)
    if amount <= 0:
        raise ValueError(f"{name} must be a positive number of piconero")
    return amount


def _transfer(entry: Mapping[str, Any], kind: str) -> Transfer:
    return Transfer(
        txid=str(entry["txid"]),
        type=str(entry.get("type", kind)),
        amount=int(entry["amount"]),
        fee=int(entry.get("fee", 0)),
        height=int(entry.get("height", 0)),
        confirmations=int(entry.get("confirmations", 0)),
        unlock_time=int(entry.get("unlock_time", 0)),
        address=str(entry.get("address", "")),
        subaddr_index=_index(entry),
        double_spend_seen=bool(entry.get("double_spend_seen", False)),
        locked=bool(entry.get("locked", False)),
    )


def _index(entry: Mapping[str, Any]) -> tuple[int, int]:
    index = entry.get("subaddr_index") or {}
    return int(index.get("major", 0)), int(index.get("minor", 0))


class WalletRpc(JsonRpcClient):
    """One monero-wallet-rpc endpoint (it holds one open wallet at a time).

    Errors: every method raises ``RpcError`` subclasses as ``JsonRpcClient.call`` does; the typical
    ones are named per method. Wallet passwords and multisig infos are sent, never logged.
    """

    service = "wallet"

    # -- wallet files

    def create_wallet(self, filename: str, password: str, *, language: str = "English") -> None:
        """Create (and open, closing the current one) a new wallet in the wallet dir. 1-3 s of CPU in
        0.18.0.0. Raises ``WalletExists``."""
        self.call("create_wallet", {"filename": filename, "password": password, "language": language})

    def open_wallet(self, filename: str, password: str) -> None:
        """Open a wallet of the wallet dir, closing (and saving) the current one. 1-3 s of CPU in
        0.18.0.0. Raises ``WalletNotFound`` (missing file and wrong password alike)."""
        self.call("open_wallet", {"filename": filename, "password": password})

    def close_wallet(self, *, autosave: bool = True) -> None:
        """Close the open wallet (saving it unless ``autosave`` is False). Raises ``WalletNotOpen``."""
        self.call("close_wallet", {"autosave_current": autosave})

    def store(self) -> None:
        """Save the open wallet to disk (multisig nonces survive a crash only after this)."""
        self.call("store", idempotent=True)

    def stop_wallet(self) -> None:
        """Save the wallet and stop the wallet-rpc process."""
        self.call("stop_wallet")

    # -- state

    def get_version(self) -> int:
        """The RPC version (``major << 16 | minor``); a cheap readiness probe."""
        return int(self.call("get_version", idempotent=True)["version"])

    def auto_refresh(self, enable: bool, *, period: int | None = None) -> None:
        """Switch background refresh on or off (tests keep it off and ``refresh`` explicitly)."""
        params: JsonObject = {"enable": enable}
        if period is not None:
            params["period"] = period
        self.call("auto_refresh", params, idempotent=True)

    def refresh(self, *, start_height: int | None = None) -> Refreshed:
        """Scan new blocks. Raises ``RpcUnavailable`` (-38) when the daemon is unreachable."""
        params = {} if start_height is None else {"start_height": start_height}
        result = self.call("refresh", params, idempotent=True)
        return Refreshed(int(result.get("blocks_fetched", 0)), bool(result.get("received_money", False)))

    def rescan_blockchain(self) -> None:
        """Drop the wallet's scanned chain and scan it again from its refresh height (keeps its keys;
        loses what only the wallet knew: tx keys, notes, and a multisig wallet's partial key images)."""
        self.call("rescan_blockchain", {"hard": False})

    def get_height(self) -> int:
        """The wallet's chain height (blocks scanned)."""
        return int(self.call("get_height", idempotent=True)["height"])

    def get_address(self, *, account_index: int = 0) -> str:
        """The primary address of ``account_index`` (for a ready multisig wallet: the multisig address)."""
        return str(self.call("get_address", {"account_index": account_index}, idempotent=True)["address"])

    def create_address(self, *, account_index: int = 0, label: str = "") -> tuple[str, int]:
        """A new subaddress of ``account_index``: ``(address, minor index)``."""
        result = self.call("create_address", {"account_index": account_index, "label": label})
        return str(result["address"]), int(result["address_index"])

    def get_balance(self, *, account_index: int = 0) -> Balance:
        """Balance of ``account_index`` in piconero (see ``Balance``)."""
        result = self.call("get_balance", {"account_index": account_index}, idempotent=True)
        return Balance(
            balance=int(result["balance"]),
            unlocked_balance=int(result["unlocked_balance"]),
            multisig_import_needed=bool(result.get("multisig_import_needed", False)),
            blocks_to_unlock=int(result.get("blocks_to_unlock", 0)),
        )

    def get_transfers(
        self,
        *,
        incoming: bool = True,
        outgoing: bool = False,
        pending: bool = False,
        failed: bool = False,
        pool: bool = False,
        min_height: int | None = None,
        account_index: int = 0,
    ) -> list[Transfer]:
        """Transfers of ``account_index`` of the kinds asked, as one list (``Transfer.type`` tells
        which). A payment in the pool is listed at once with ``pool=True``, without a refresh;
        after it is mined the wallet keeps calling it ``pool`` until it refreshes. Count a payment
        when it is ``in``, deep enough, with ``unlock_time`` 0."""
        params: JsonObject = {
            "in": incoming,
            "out": outgoing,
            "pending": pending,
            "failed": failed,
            "pool": pool,
            "account_index": account_index,
        }
        if min_height is not None:
            params.update(filter_by_height=True, min_height=min_height)
        result = self.call("get_transfers", params, idempotent=True)
        return [
            _transfer(entry, kind)
            for kind in ("in", "out", "pending", "failed", "pool")
            for entry in result.get(kind, [])
        ]

    def incoming_transfers(self, *, transfer_type: str = "all", account_index: int = 0) -> list[IncomingOutput]:
        """The wallet's mined outputs: ``transfer_type`` ``"all"``, ``"available"`` (unspent) or
        ``"unavailable"`` (spent)."""
        params = {"transfer_type": transfer_type, "account_index": account_index}
        result = self.call("incoming_transfers", params, idempotent=True)
        return [
            IncomingOutput(
                tx_hash=str(entry["tx_hash"]),
                amount=int(entry["amount"]),
                key_image=str(entry.get("key_image", "")),
                spent=bool(entry.get("spent", False)),
                unlocked=bool(entry.get("unlocked", False)),
                frozen=bool(entry.get("frozen", False)),
                block_height=int(entry.get("block_height", 0)),
                subaddr_index=_index(entry),
            )
            for entry in result.get("transfers", [])  # the key is absent when there are none
        ]

    def query_view_key(self) -> str:
        """The private view key (hex). For a ready multisig wallet it is the shared view key, the
        same in all three. The spend key is deliberately not offered: it signs, and must not leave
        the wallet."""
        return str(self.call("query_key", {"key_type": "view_key"}, idempotent=True)["key"])

    # -- multisig setup

    def prepare_multisig(self, *, enable_experimental: bool = True) -> str:
        """First step of a multisig setup: this wallet's ``MultisigxV2R1...`` info. With
        ``enable_experimental`` (0.18.0.0 needs it; without it the first exchange fails -48) the
        switch is stored in the wallet's keys file. Raises ``AlreadyMultisig``."""
        result = self.call("prepare_multisig", {"enable_multisig_experimental": enable_experimental})
        return str(result["multisig_info"])

    def make_multisig(self, infos: Sequence[str], *, threshold: int, password: str) -> MultisigStep:
        """Turn the wallet into a ``threshold``-of-``len(parties)`` multisig from the parties'
        ``prepare_multisig`` infos (this wallet's own may be included). ``password`` is the wallet's."""
        params = {"multisig_info": list(infos), "threshold": threshold, "password": password}
        result = self.call("make_multisig", params)
        return MultisigStep(str(result.get("address", "")), str(result.get("multisig_info", "")))

    def exchange_multisig_keys(self, infos: Sequence[str], *, password: str) -> MultisigStep:
        """One key-exchange round with the parties' infos of the previous round. Loop until
        ``is_multisig().ready`` (2-of-3 in 0.18.0.0: two rounds). Raises ``MultisigDisabled`` (-48)."""
        result = self.call("exchange_multisig_keys", {"multisig_info": list(infos), "password": password})
        return MultisigStep(str(result.get("address", "")), str(result.get("multisig_info", "")))

    def is_multisig(self) -> MultisigStatus:
        result = self.call("is_multisig", idempotent=True)
        return MultisigStatus(
            multisig=bool(result["multisig"]),
            ready=bool(result["ready"]),
            threshold=int(result.get("threshold", 0)),
            total=int(result.get("total", 0)),
        )

    # -- multisig sync and spend

    def export_multisig_info(self) -> str:
        """This wallet's multisig info (hex) for the others to import; it replaces all of the
        wallet's signing nonces, so ``store()`` right after. Never re-sent automatically. Raises
        ``MultisigNotReady`` (-31) before the key exchange is finished."""
        return str(self.call("export_multisig_info")["info"])

    def import_multisig_info(self, infos: Sequence[str]) -> int:
        """Import the other parties' infos; returns the number of outputs updated. ``refresh()``
        first. Raises ``NotEnoughSigners`` (-33) with too few infos."""
        return int(self.call("import_multisig_info", {"info": list(infos)})["n_outputs"])

    def transfer(
        self, destinations: Sequence[tuple[str, int]], *, priority: int = 0, account_index: int = 0
    ) -> Proposal:
        """Pay ``destinations`` (``(address, piconero)`` pairs) from ``account_index``.

        A normal wallet builds and relays the transaction (``Proposal.tx_hashes``); a multisig wallet
        returns an unsigned ``multisig_txset``. The fee comes on top of the amounts. Never re-sent
        automatically. Raises ``InsufficientFunds`` (-17), ``FundsLocked`` (-37),
        ``NoTransactionCreated`` (-16, -4: exchange needed or outputs still locked).
        """
        params: JsonObject = {
            "destinations": [{"address": address, "amount": _atomic(amount)} for address, amount in destinations],
            "priority": priority,
            "account_index": account_index,
            "get_tx_key": False,
        }
        if not params["destinations"]:
            raise ValueError("transfer needs at least one destination")
        result = self.call("transfer", params)
        tx_hash = str(result.get("tx_hash", ""))
        return Proposal(
            multisig_txset=str(result.get("multisig_txset", "")),
            tx_hashes=(tx_hash,) if tx_hash else (),
            amount=int(result.get("amount", 0)),
            fee=int(result.get("fee", 0)),
            tx_count=1,
            spent_key_images=_key_images([result.get("spent_key_images")]),
        )

    def sweep_all(self, address: str, *, account_index: int = 0, priority: int = 0) -> Proposal:
        """Send every unlocked output of ``account_index`` to ``address`` (fee taken from it).

        Silently partial in 0.18.0.0: outputs mined after the last multisig exchange, with fewer than
        10 confirmations or with an ``unlock_time`` are left out; compare ``describe_transfer``'s
        ``amount_in`` with what the wallet should hold. Never re-sent automatically. Raises
        ``NoTransactionCreated`` (-4 "No unlocked balance in the specified subaddress(es)" / "...
        account").
        """
        params = {"address": address, "account_index": account_index, "priority": priority, "get_tx_keys": False}
        result = self.call("sweep_all", params)
        tx_hashes = tuple(str(txid) for txid in result.get("tx_hash_list", []) if txid)
        amounts = [int(amount) for amount in result.get("amount_list", [])]
        return Proposal(
            multisig_txset=str(result.get("multisig_txset", "")),
            tx_hashes=tx_hashes,
            amount=sum(amounts),
            fee=sum(int(fee) for fee in result.get("fee_list", [])),
            tx_count=len(amounts),
            spent_key_images=_key_images(result.get("spent_key_images_list", [])),
        )

    def describe_transfer(self, multisig_txset: str) -> list[TransferDescription]:
        """What ``sign_multisig`` of ``multisig_txset`` would sign, one entry per transaction (see
        ``TransferDescription`` for what it does not check)."""
        result = self.call("describe_transfer", {"multisig_txset": multisig_txset}, idempotent=True)
        return [
            TransferDescription(
                recipients=tuple(
                    Recipient(str(item["address"]), int(item["amount"])) for item in entry.get("recipients", [])
                ),
                amount_in=int(entry["amount_in"]),
                amount_out=int(entry["amount_out"]),
                change_amount=int(entry.get("change_amount", 0)),
                change_address=str(entry.get("change_address", "")),
                fee=int(entry["fee"]),
                unlock_time=int(entry.get("unlock_time", 0)),
                ring_size=int(entry.get("ring_size", 0)),
            )
            for entry in result.get("desc", [])
        ]

    def sign_multisig(self, tx_data_hex: str) -> SignResult:
        """Add this wallet's signature to a txset; ``store()`` right after (the nonces used are wiped
        in memory only). Never re-sent automatically. Raises ``StaleMultisigData``, ``AlreadySigned``,
        ``FullySigned`` (all -35)."""
        result = self.call("sign_multisig", {"tx_data_hex": tx_data_hex})
        return SignResult(
            tx_data_hex=str(result["tx_data_hex"]),
            tx_hash_list=tuple(str(txid) for txid in result.get("tx_hash_list", [])),
        )

    def submit_multisig(self, tx_data_hex: str) -> list[str]:
        """Relay a fully signed txset; returns its txids. Submitting a transaction already in the pool
        or mined answers the same txids. Not re-sent automatically after a lost answer (ask monerod
        ``get_transactions``). Raises ``NotEnoughSigners`` (-33), ``TransactionRejected`` (-36)."""
        result = self.call("submit_multisig", {"tx_data_hex": tx_data_hex})
        return [str(txid) for txid in result.get("tx_hash_list", [])]


def _key_images(groups: Iterable[Any]) -> tuple[str, ...]:
    images: list[str] = []
    for group in groups:
        if isinstance(group, Mapping):
            images.extend(str(image) for image in group.get("key_images", []))
    return tuple(images)


# --- daemon -------------------------------------------------------------------------------------------


class DaemonRpc(JsonRpcClient):
    """monerod's RPC (JSON-RPC and the plain endpoints the wallet does not cover).

    Errors: as ``JsonRpcClient.call``; an answer whose ``status`` is ``BUSY`` raises
    ``RpcUnavailable``, any other status but ``OK`` a plain ``RpcError``.
    """

    service = "daemon"

    def _checked(self, method: str, answer: JsonObject) -> JsonObject:
        status = answer.get("status", "OK")
        if status == "OK":
            return answer
        error = (
            RpcUnavailable(method, None, "daemon busy")
            if status == "BUSY"
            else RpcError(method, None, f"status {status}")
        )
        record_rpc_error(self.service, method, self.endpoint, error)
        raise error

    def get_info(self) -> DaemonInfo:
        result = self._checked("get_info", self.call("get_info", idempotent=True))
        return DaemonInfo(
            height=int(result["height"]),
            nettype=str(result.get("nettype", "")),
            top_block_hash=str(result.get("top_block_hash", "")),
            tx_pool_size=int(result.get("tx_pool_size", 0)),
            synchronized=bool(result.get("synchronized", False)),
        )

    def get_height(self) -> int:
        """Chain height in blocks (``/get_height``)."""
        return int(self._checked("/get_height", self.post("/get_height", idempotent=True))["height"])

    def generate_blocks(self, count: int, address: str) -> int:
        """Mine ``count`` blocks paying ``address`` (regtest only; pool transactions are mined into
        them). Returns the height of the last block mined, i.e. ``get_info().height - 1`` (measured:
        ``generateblocks`` answers the top block's height, not the block count). Not re-sent
        automatically."""
        params = {"amount_of_blocks": _atomic(count, "count"), "wallet_address": address}
        return int(self._checked("generateblocks", self.call("generateblocks", params))["height"])

    def is_key_image_spent(self, key_images: Sequence[str]) -> list[int]:
        """Per key image: 0 unspent, 1 spent in the chain, 2 spent in the pool."""
        if not key_images:
            return []
        body = {"key_images": list(key_images)}
        answer = self._checked("/is_key_image_spent", self.post("/is_key_image_spent", body, idempotent=True))
        return [int(status) for status in answer["spent_status"]]

    def get_transactions(self, txids: Sequence[str], *, decode: bool = False) -> list[DaemonTransaction]:
        """What monerod knows of each of ``txids``, in the same order (``found`` False when unknown)."""
        if not txids:
            return []
        body = {"txs_hashes": list(txids), "decode_as_json": decode}
        answer = self._checked("/get_transactions", self.post("/get_transactions", body, idempotent=True))
        known = {str(entry["tx_hash"]): entry for entry in answer.get("txs", [])}
        found = []
        for txid in txids:
            entry = known.get(txid)
            if entry is None:
                found.append(
                    DaemonTransaction(
                        txid, found=False, in_pool=False, block_height=None, double_spend_seen=False, as_json=""
                    )
                )
                continue
            in_pool = bool(entry.get("in_pool", False))
            found.append(
                DaemonTransaction(
                    txid=txid,
                    found=True,
                    in_pool=in_pool,
                    block_height=None if in_pool else int(entry["block_height"]),
                    double_spend_seen=bool(entry.get("double_spend_seen", False)),
                    as_json=str(entry.get("as_json", "")),
                )
            )
        return found

    def get_fee_estimate(self) -> FeeEstimate:
        result = self._checked("get_fee_estimate", self.call("get_fee_estimate", idempotent=True))
        return FeeEstimate(int(result["fee"]), int(result.get("quantization_mask", 1)))

    def pop_blocks(self, count: int) -> int:
        """Remove ``count`` blocks from the top (their transactions go back to the pool); returns the
        new height. For tests and operators simulating a reorg."""
        answer = self._checked("/pop_blocks", self.post("/pop_blocks", {"nblocks": _atomic(count, "count")}))
        return int(answer["height"])

    def flush_txpool(self, txids: Sequence[str] = ()) -> None:
        """Drop ``txids`` (all when empty) from the pool for good."""
        self._checked("flush_txpool", self.call("flush_txpool", {"txids": list(txids)}))
