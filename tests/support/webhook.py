"""A local webhook receiver: a real threaded HTTP server on 127.0.0.1 that records every
request (method, path, headers, body) and answers with a configurable status and delay."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass(frozen=True)
class Received:
    """One request as the receiver got it (`path` with its query string, if any); headers
    look up case-insensitively."""

    method: str
    path: str
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # a worker delivers up to 16 alerts at once (alert_delivery_concurrency); the default
    # backlog of 5 would drop connection attempts in a burst (aiohttp, used before, has 128)
    request_queue_size = 128


class WebhookReceiver:
    """Answers every request with, in order of precedence: the status fixed for its path
    (`paths`), the next status of the script (`statuses`, one per request), else `status`;
    after `delay` seconds. All of these may be changed while the server runs."""

    def __init__(
        self,
        status: int = 200,
        *,
        statuses: Iterable[int] = (),
        paths: Mapping[str, int] | None = None,
        delay: float = 0.0,
        body: bytes = b"ok",
    ) -> None:
        self.status = status
        self.script: deque[int] = deque(statuses)
        self.paths: dict[str, int] = dict(paths or {})
        self.delay = delay
        self.body = body
        self.closed = False
        self._received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint offers

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                if receiver.closed:  # a kept-alive connection outliving close(): drop it
                    self.close_connection = True
                    return
                body = self._read_body()
                status = receiver._record(
                    Received(self.command, self.path, httpx.Headers(self.headers.items()), body)
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(receiver.body)))
                    self.end_headers()
                    self.wfile.write(receiver.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test)

            def _read_body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _handle

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _record(self, request: Received) -> int:
        with self._lock:
            self._received.append(request)
            if request.path in self.paths:
                return self.paths[request.path]
            if self.script:
                return self.script.popleft()
            return self.status

    # -- running ---------------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self.closed = True
        if self._thread.is_alive():  # shutdown() waits for a serve_forever() that never ran
            self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # -- what it got -----------------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[Received]:
        """Every request so far, in arrival order (only those to `path` when given)."""
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def bodies(self, path: str | None = None) -> list[Any]:
        """The JSON bodies of `requests(path)`."""
        return [r.json() for r in self.requests(path)]


@contextmanager
def webhook_receiver(
    status: int = 200,
    *,
    statuses: Iterable[int] = (),
    paths: Mapping[str, int] | None = None,
    delay: float = 0.0,
    body: bytes = b"ok",
) -> Iterator[WebhookReceiver]:
    """A started receiver, closed on the way out."""
    receiver = WebhookReceiver(
        status, statuses=statuses, paths=paths, delay=delay, body=body
    ).start()
    try:
        yield receiver
    finally:
        receiver.close()
