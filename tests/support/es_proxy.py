"""A forwarding HTTP proxy in front of the real Elasticsearch that can answer some requests
itself with what a broken server or a broken middlebox might send: a 200 whose body is not
the answer the client expects. Everything else passes through unchanged."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.net import free_port

# what the elasticsearch client checks on every answer (its "product check")
PRODUCT = {"X-Elastic-Product": "Elasticsearch", "Content-Type": "application/json"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class GarblingProxy:
    """Answers the first `bulk_garbled` bulk requests (those whose body holds `holding`, if
    given) with `garbled_body` (status 200), without passing them on, and forwards every
    other request to `upstream` (host, port)."""

    def __init__(
        self,
        upstream: tuple[str, int],
        bulk_garbled: int,
        garbled_body: bytes,
        holding: bytes | None = None,
    ) -> None:
        self.upstream = upstream
        self.holding = holding
        self.left = bulk_garbled
        self.garbled_body = garbled_body
        self.garbled = 0
        self.lock = threading.Lock()
        self.port = free_port()

    def _take_garbled(self, method: str, path: str, body: bytes | None) -> bool:
        if method not in ("POST", "PUT") or not path.split("?")[0].endswith("/_bulk"):
            return False
        if self.holding is not None and self.holding not in (body or b""):
            return False
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            self.garbled += 1
            return True

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy._take_garbled(self.command, self.path, body):
                    self._answer(200, PRODUCT, proxy.garbled_body)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    passed = {
                        k: v
                        for k, v in resp.getheaders()
                        if k.lower() not in ("content-length", "transfer-encoding", "connection")
                    }
                    self._answer(resp.status, passed, data)
                finally:
                    conn.close()

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        return Handler

    @contextmanager
    def running(self) -> Iterator[GarblingProxy]:
        server = _Server(("127.0.0.1", self.port), self.handler())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
