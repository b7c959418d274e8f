"""Local stand-ins for the network edge: an OTLP/HTTP collector and a Sentry endpoint.

Both are real HTTP servers on 127.0.0.1 that record what they receive; the exporters
under test talk to them exactly as they would to the real services.
"""

from __future__ import annotations

import gzip
import io
import json
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class _Handler(BaseHTTPRequestHandler):
    server: _RecordingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, content_type, reply = self.server.owner.receive(self.path, headers, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep the test output clean."""


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: _LocalServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner


class _LocalServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = _RecordingServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    headers: dict[str, str]


def _attributes(key_values: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        values[kv.key] = getattr(kv.value, kind) if kind else None
    return values


class OtlpCollector(_LocalServer):
    """Accept ``POST /v1/traces`` and keep every span, its resource and the request headers."""

    def __init__(self) -> None:
        super().__init__()
        self._spans: list[ReceivedSpan] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if path != "/v1/traces":
            return 404, "text/plain", b"not found"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = [
            ReceivedSpan(
                name=span.name,
                attributes=_attributes(span.attributes),
                resource=_attributes(resource_spans.resource.attributes),
                headers=headers,
            )
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._lock:
            self._spans.extend(received)
        reply = ExportTraceServiceResponse().SerializeToString()
        return 200, "application/x-protobuf", reply


@dataclass(frozen=True)
class EnvelopeItem:
    type: str
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Envelope:
    header: dict[str, Any]
    items: list[EnvelopeItem] = field(default_factory=list)
    raw: bytes = b""


def parse_envelope(body: bytes) -> Envelope:
    """Split a Sentry envelope: a header line, then item header and payload pairs."""
    stream = io.BytesIO(body)
    envelope = Envelope(header=json.loads(stream.readline()), raw=body)
    while line := stream.readline():
        if not line.strip():
            continue
        item_header = json.loads(line)
        length = item_header.get("length")
        if length is None:
            payload = stream.readline().rstrip(b"\n")
        else:
            payload = stream.read(length)
            stream.readline()
        envelope.items.append(EnvelopeItem(type=item_header.get("type", ""), payload=payload))
    return envelope


class SentryIngest(_LocalServer):
    """Accept ``POST /api/<project>/envelope/`` and keep every envelope."""

    def __init__(self) -> None:
        super().__init__()
        self._envelopes: list[Envelope] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.port}/1"

    def envelopes(self) -> list[Envelope]:
        with self._lock:
            return list(self._envelopes)

    def events(self) -> list[Any]:
        return [
            item.json()
            for envelope in self.envelopes()
            for item in envelope.items
            if item.type == "event"
        ]

    def receive(self, path: str, _headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if path != "/api/1/envelope/":
            return 404, "text/plain", b"not found"
        envelope = parse_envelope(body)
        with self._lock:
            self._envelopes.append(envelope)
        return 200, "application/json", b"{}"
