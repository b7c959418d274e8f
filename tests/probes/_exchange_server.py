"""A local Binance on 127.0.0.1: the slice of the spot REST API that ccxt's ``binance``
calls for ``fetch_time``, ``fetch_status`` and ``fetch_balance``.

Every entry of ccxt's ``urls["api"]`` is pointed here by ``api_urls()`` (the path part of
each real URL kept, the origin replaced), so nothing the client sends can leave the machine.
A threaded server: a route that hangs never blocks the event loop of the probe under test.

Routes (all GET):

- ``/api/v3/time``: ``{"serverTime": <ms>}``
- ``/api/v3/exchangeInfo``: two spot markets, BTC/USDT and ETH/USDT
- ``/sapi/v1/system/status``: ``{"status": 0, "msg": "normal"}`` (``maintenance`` flips it)
- ``/api/v3/account``: signed; checks the ``X-MBX-APIKEY`` header and the HMAC-SHA256
  ``signature`` over the query (``timestamp`` included), as Binance does, and answers
  ``{"code": -2015, ...}`` (401) or ``{"code": -1022, ...}`` (400) when they are wrong

Knobs, per path (``"*"`` for every path), set with ``fault(path, kind)``:

- ``hang``: never answer; ``hanging`` counts requests parked with an open socket
- ``500``: an HTML error page with status 500
- ``429`` / ``418``: Binance's rate-limit and IP-ban answers, with ``Retry-After``
- ``garbage``: 200 with a body that is no JSON

Unknown paths answer 404 and are listed in ``unknown``: that is how the calls ccxt makes
were found out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["API_KEY", "SECRET", "ExchangeServer", "Fault", "Request", "api_urls"]

LOOPBACK = "127.0.0.1"
API_KEY = "test-api-key-Zq8Xv2Lr"
SECRET = "test-secret-Hm4Tp9Ws"
RETRY_AFTER_S = 37

Fault = Literal["hang", "500", "429", "418", "garbage"]


def api_urls(base: str, section: Literal["api", "test"] = "api") -> dict[str, str]:
    """Return ccxt binance's ``urls[section]`` with every origin replaced by ``base``.

    ``"test"`` is the testnet's set, which ``set_sandbox_mode`` swaps in for ``"api"``.
    """
    import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]

    client = ccxt_async.binance()
    urls: dict[str, str] = {}
    for name, url in client.urls[section].items():
        parts = urlsplit(url)
        urls[name] = base + parts.path
    return urls


def _market(base: str, quote: str) -> dict[str, Any]:
    return {
        "symbol": base + quote,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
    }


@dataclass(frozen=True, slots=True)
class Request:
    """One request the server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection frees its thread eventually

    def _reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self._reply(status, json.dumps(document).encode(), headers=headers)

    def do_GET(self) -> None:  # BaseHTTPRequestHandler dispatches on this name
        owner = self.server.owner
        parts = urlsplit(self.path)
        request = Request(
            path=parts.path,
            query=parse_qs(parts.query),
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        owner.record(request)
        fault = owner.fault_for(parts.path)
        if fault is not None:
            self._fault(fault)
            return
        if parts.path == "/api/v3/time":
            self._json(200, {"serverTime": int(time.time() * 1000)})
        elif parts.path == "/api/v3/exchangeInfo":
            self._json(200, owner.exchange_info())
        elif parts.path == "/sapi/v1/system/status":
            status = (1, "system maintenance") if owner.maintenance else (0, "normal")
            self._json(200, {"status": status[0], "msg": status[1]})
        elif parts.path == "/api/v3/account":
            self._account(request, parts.query)
        else:
            owner.note_unknown(parts.path)
            self._json(404, {"code": -1, "msg": f"no route {parts.path}"})

    def _account(self, request: Request, raw_query: str) -> None:
        owner = self.server.owner
        if request.headers.get("x-mbx-apikey") != owner.api_key:
            # What Binance answers for a wrong, revoked or IP-restricted key.
            self._json(401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions."})
            return
        signed, _, signature = raw_query.rpartition("&signature=")
        expected = hmac.new(owner.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if "timestamp" not in request.query or not hmac.compare_digest(signature, expected):
            self._json(400, {"code": -1022, "msg": "Signature for this request is not valid."})
            return
        self._json(200, owner.account())

    def _fault(self, fault: Fault) -> None:
        if fault == "hang":
            self._hang()
        elif fault == "500":
            self._reply(500, b"<html><body>Internal Server Error</body></html>", "text/html")
        elif fault == "429":
            self._json(
                429,
                {"code": -1003, "msg": "Too many requests; current limit is 6000."},
                {"Retry-After": str(RETRY_AFTER_S)},
            )
        elif fault == "418":
            self._json(
                418,
                {"code": -1003, "msg": "Way too many requests; IP banned."},
                {"Retry-After": str(RETRY_AFTER_S)},
            )
        else:
            self._reply(200, b"<html>certainly not json", "text/html")

    def _hang(self) -> None:
        owner = self.server.owner
        owner.hanging_changed(+1)
        try:
            # Answer nothing; notice when the client gives up and closes the socket.
            while not owner.stopping.is_set():
                readable, _, _ = select.select([self.connection], [], [], 0.02)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    break
        except OSError:  # reset by the client
            pass
        finally:
            owner.hanging_changed(-1)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep the test output clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: ExchangeServer) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.owner = owner

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients in these tests drop connections on purpose."""


class ExchangeServer:
    """A local Binance spot REST API in a background thread."""

    def __init__(self, api_key: str = API_KEY, secret: str = SECRET) -> None:
        self.api_key = api_key
        self.secret = secret
        self.maintenance = False
        self.balances: dict[str, tuple[str, str]] = {
            "USDT": ("12.5", "0"),
            "BTC": ("0.002", "0.001"),
            "ETH": ("0", "0"),
        }
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._requests: list[Request] = []
        self._unknown: list[str] = []
        self._hanging = 0
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:<port>``."""
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def api_urls(self, section: Literal["api", "test"] = "api") -> dict[str, str]:
        """Return an override of every ``urls[section]`` entry of ccxt binance, to here."""
        return api_urls(self.base_url, section)

    def fault(self, path: str, fault: Fault | None) -> None:
        """Make ``path`` (``"*"``: every path) misbehave as ``fault``; None heals it."""
        with self._lock:
            if fault is None:
                self._faults.pop(path, None)
            else:
                self._faults[path] = fault

    def fault_for(self, path: str) -> Fault | None:
        """Return the fault set for ``path``, if any."""
        with self._lock:
            return self._faults.get(path, self._faults.get("*"))

    def record(self, request: Request) -> None:
        """Remember a request."""
        with self._lock:
            self._requests.append(request)

    def note_unknown(self, path: str) -> None:
        """Remember a request for a path this server does not serve."""
        with self._lock:
            self._unknown.append(path)

    @property
    def requests(self) -> list[Request]:
        """Return every request received so far."""
        with self._lock:
            return list(self._requests)

    def paths(self) -> list[str]:
        """Return the paths of every request received so far, in order."""
        return [request.path for request in self.requests]

    @property
    def unknown(self) -> list[str]:
        """Return the paths requested that this server does not serve."""
        with self._lock:
            return list(self._unknown)

    @property
    def hanging(self) -> int:
        """Return how many requests sit in a hang with their connection open."""
        with self._lock:
            return self._hanging

    def hanging_changed(self, delta: int) -> None:
        """Count a request entering (+1) or leaving (-1) a hang."""
        with self._lock:
            self._hanging += delta

    def exchange_info(self) -> dict[str, Any]:
        """Return a minimal spot ``exchangeInfo`` that ccxt parses into two markets."""
        return {
            "timezone": "UTC",
            "serverTime": int(time.time() * 1000),
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [_market("BTC", "USDT"), _market("ETH", "USDT")],
        }

    def account(self) -> dict[str, Any]:
        """Return the body of ``GET /api/v3/account``."""
        with self._lock:
            balances = [
                {"asset": asset, "free": free, "locked": locked}
                for asset, (free, locked) in self.balances.items()
            ]
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": int(time.time() * 1000),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
        }

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, release parked handlers, close the listening socket."""
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
