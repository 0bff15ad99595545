"""A fault-injecting HTTP proxy between a client under test and a real upstream (the FHIR peer).

Without rules it forwards every request (path and query kept, hop-by-hop headers dropped) and returns the
upstream's status, headers and body. Rules are a FIFO list: a request takes the first rule whose method and
path pattern match it, and the rule applies once (or ``times`` times)::

    proxy = FaultProxy(peer.base)
    proxy.status(503, headers={"Retry-After": "2"}, method="POST")  # answer without forwarding
    proxy.drop()                    # close the connection without an answer
    proxy.forward(times=3)          # forward as usual (lets a later rule hit the 4th request)
    proxy.hold(release, reached=r)  # forward, answer once release is set (or the client has gone);
                                    # r is set once the held request has reached the upstream
    proxy.lost_response(500)        # forward (so the write IS stored), answer 500
    proxy.refuse(); proxy.accept()  # connection refused, then listening again on the same port

``requests`` records ``(method, path, status)`` of every request (path without its query; status None for a
dropped connection); a held request records the upstream's status when the upstream answers. Path patterns
are searched in the path with its query. Request bodies need a Content-Length (``requests`` sends one for
``data=`` and ``json=``); chunked uploads are not supported.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import select
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

#: RFC 9110 section 7.6.1, plus the headers http.server and http.client write themselves.
SKIPPED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "date",
        "server",
    }
)
UPSTREAM_TIMEOUT_S = 30.0
#: The longest a held response waits for its event; a test that forgets to set it still ends.
HOLD_LIMIT_S = 30.0
#: How often a held response looks whether its client has gone (it waits on the event in between).
HOLD_POLL_S = 0.02


@dataclass
class _Rule:
    kind: str  # "forward", "status", "drop", "hold" or "lost_response"
    method: str | None
    path: re.Pattern[str] | None
    times: int
    code: int = 0
    headers: dict[str, str] | None = None
    body: bytes = b""
    event: threading.Event | None = None
    reached: threading.Event | None = None

    def matches(self, method: str, target: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path.search(target) is not None
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads

    def __init__(self, port: int, proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.proxy._opened(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.proxy._closed(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the proxy's record is FaultProxy.requests

    def do_GET(self) -> None:
        self.server.proxy._handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET


class FaultProxy:
    """A threaded loopback proxy to ``upstream`` (a base URL such as ``http://127.0.0.1:8080/fhir``)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port/..., not {upstream!r}")
        self._upstream = (parts.hostname, parts.port)
        self._upstream_origin = f"http://{parts.netloc}"
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._requests: list[tuple[str, str, int | None]] = []
        self._connections: set[socket.socket] = set()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.accept()
        self.origin = f"http://127.0.0.1:{self.port}"
        #: The proxy's base URL: the upstream's path on the proxy's port.
        self.url = self.origin + parts.path.rstrip("/")

    # -- rules ---------------------------------------------------------------------------------------

    def _add(self, kind: str, method: str | None, path: str | None, times: int, **details: Any) -> FaultProxy:
        if times < 1:
            raise ValueError("times must be at least 1")
        pattern = re.compile(path) if path else None
        rule = _Rule(kind, method.upper() if method else None, pattern, times, **details)
        with self._lock:
            self._rules.append(rule)
        return self

    def status(
        self,
        code: int,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> FaultProxy:
        """Answer ``code`` (with these headers and JSON body) without forwarding."""
        body = b"" if json_body is None else json.dumps(json_body).encode()
        return self._add("status", method, path, times, code=code, headers=headers or {}, body=body)

    def forward(self, *, method: str | None = None, path: str | None = None, times: int = 1) -> FaultProxy:
        """Forward as if there were no rule: counts requests, so that the rules after it hit later ones."""
        return self._add("forward", method, path, times)

    def drop(self, *, method: str | None = None, path: str | None = None, times: int = 1) -> FaultProxy:
        """Close the connection without an answer, before forwarding: the client sees a connection error."""
        return self._add("drop", method, path, times)

    def hold(
        self,
        event: threading.Event,
        *,
        reached: threading.Event | None = None,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> FaultProxy:
        """Forward, then keep the answer until ``event`` is set or the client has gone (its read timeout).
        ``reached`` is set once the upstream has answered (the write is stored) and the hold begins."""
        return self._add("hold", method, path, times, event=event, reached=reached)

    def lost_response(
        self, code: int = 500, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> FaultProxy:
        """Forward (so a write IS stored), discard the upstream's answer and answer ``code`` instead."""
        body = _outcome("exception", "fault proxy: the upstream's answer was lost")
        return self._add("lost_response", method, path, times, code=code, body=body)

    @property
    def pending(self) -> int:
        """How many rule applications are left (0 once every fault has fired)."""
        with self._lock:
            return sum(rule.times for rule in self._rules)

    @property
    def requests(self) -> list[tuple[str, str, int | None]]:
        with self._lock:
            return list(self._requests)

    def _take(self, method: str, target: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, target):
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def _record(self, method: str, target: str, status: int | None) -> None:
        with self._lock:
            self._requests.append((method, urlsplit(target).path, status))

    # -- listening -----------------------------------------------------------------------------------

    def refuse(self) -> None:
        """Stop listening and cut open connections: new connections are refused until ``accept()``."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.shutdown()
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join()

    def accept(self) -> None:
        """Listen again, on the same port as before."""
        if self._server is not None:
            return
        self._server = _Server(self.port, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fault-proxy-{self.port}"
        )
        self._thread.start()

    def close(self) -> None:
        self._closing.set()  # releases held responses
        self.refuse()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    # -- one request ---------------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        method, target = handler.command, handler.path
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        rule = self._take(method, target)
        if rule is not None and rule.kind == "drop":
            self._record(method, target, None)
            handler.close_connection = True
            return
        if rule is not None and rule.kind == "status":
            self._record(method, target, rule.code)
            self._answer(handler, rule.code, list((rule.headers or {}).items()), rule.body)
            return
        try:
            status, headers, answer = self._forward(method, target, handler, body)
        except OSError as error:
            self._record(method, target, 502)
            text = f"fault proxy: upstream unreachable ({type(error).__name__})"
            self._answer(handler, 502, [], _outcome("transient", text))
            return
        if rule is not None and rule.kind == "lost_response":
            self._record(method, target, rule.code)
            self._answer(handler, rule.code, [], rule.body)
            return
        self._record(method, target, status)
        if rule is not None and rule.kind == "hold":
            assert rule.event is not None
            if rule.reached is not None:
                rule.reached.set()
            if not self._wait(rule.event, handler.connection):
                handler.close_connection = True
                return
        self._answer(handler, status, headers, answer)

    def _forward(
        self, method: str, target: str, handler: _Handler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in SKIPPED_HEADERS}
        if body or method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*self._upstream, timeout=UPSTREAM_TIMEOUT_S)
        try:
            upstream.request(method, target, body=body or None, headers=headers)
            response = upstream.getresponse()
            answer = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in SKIPPED_HEADERS]
        finally:
            upstream.close()
        # Locations name the upstream; a reverse proxy names itself.
        kept = [
            (k, v.replace(self._upstream_origin, self.origin, 1))
            if k.lower() in ("location", "content-location")
            else (k, v)
            for k, v in kept
        ]
        return response.status, kept, answer

    def _wait(self, event: threading.Event, connection: socket.socket) -> bool:
        """Wait for ``event``; False when the client closed its end first (or the proxy is closing)."""
        for _ in range(int(HOLD_LIMIT_S / HOLD_POLL_S)):
            if event.wait(HOLD_POLL_S):
                return True
            if self._closing.is_set() or _client_gone(connection):
                return False
        return False

    @staticmethod
    def _answer(handler: _Handler, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        try:
            handler.send_response(status)
            names = {name.lower() for name, _ in headers}
            if body and "content-type" not in names:
                handler.send_header("Content-Type", "application/fhir+json")
            for name, value in headers:
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if body and handler.command != "HEAD":
                handler.wfile.write(body)
        except OSError:
            handler.close_connection = True  # the client has gone


def _outcome(code: str, text: str) -> bytes:
    issue = {"severity": "error", "code": code, "details": {"text": text}}
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}).encode()


def _client_gone(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
