"""Liveness, readiness and Prometheus metrics over HTTP, for the connector and the worker.

- `/healthz`: the process's event loop is turning (a heartbeat younger than `stale_after`).
  A wedged loop (blocking call, deadlock) fails it, so an orchestrator restarts the process.
- `/readyz`: the service can do its work (its checks, e.g. "Kafka accepted the last send",
  "Elasticsearch answered the last batch"). Failing it takes the process out of rotation
  without restarting it: an outage of a server is not cured by restarting its clients.
- `/metrics`: Prometheus text format (every mediamon_* metric of the process).
- `POST /reload` (the worker): re-read the taxonomy at the next batch.

A plain threaded http.server: it answers even while the event loop is stuck, which is the
point of /healthz.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)


class Health:
    def __init__(self, stale_after: float = 30.0) -> None:
        self.stale_after = stale_after
        self._beat = time.monotonic()
        self._checks: dict[str, Callable[[], bool]] = {}
        self._actions: dict[str, Callable[[], None]] = {}

    def beat(self) -> None:
        self._beat = time.monotonic()

    def check(self, name: str, probe: Callable[[], bool]) -> None:
        self._checks[name] = probe

    def action(self, name: str, do: Callable[[], None]) -> None:
        """`POST /<name>` calls `do` (from the server's thread: it must only set a flag)."""
        self._actions[name] = do

    def act(self, name: str) -> bool:
        do = self._actions.get(name)
        if do is None:
            return False
        do()
        return True

    def live(self) -> tuple[bool, dict[str, object]]:
        age = time.monotonic() - self._beat
        return age < self.stale_after, {"heartbeat_age_s": round(age, 1)}

    def ready(self) -> tuple[bool, dict[str, object]]:
        results: dict[str, object] = {}
        for name, probe in self._checks.items():
            try:
                results[name] = bool(probe())
            except Exception:  # a probe that raises is a failing probe, not a crash
                results[name] = False
        alive, detail = self.live()
        return alive and all(results.values()), {**detail, **results}


async def beat(health: Health, every: float = 5.0) -> None:
    """Keep the heartbeat fresh for as long as the event loop turns."""
    while True:
        health.beat()
        await asyncio.sleep(every)


def serve(health: Health, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer | None:
    """Start the endpoints on host:port in a daemon thread (port 0 or taken: None)."""
    if port <= 0:
        return None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
                return
            probes = {"/healthz": health.live, "/readyz": health.ready}
            probe = probes.get(self.path.split("?")[0])
            if probe is None:
                self._send(404, b'{"error": "not found"}', "application/json")
                return
            ok, detail = probe()
            body = json.dumps({"ok": ok, **detail}).encode()
            self._send(200 if ok else 503, body, "application/json")

        def do_POST(self) -> None:
            # No body is read: an action only asks the process to do what it would do anyway
            # (re-read its own files), so a stray request can do no harm.
            if health.act(self.path.split("?")[0].strip("/")):
                self._send(202, b'{"ok": true}', "application/json")
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None  # probes every few seconds would drown the log

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        log.warning("health endpoints not started on %s:%d: %s", host, port, exc)
        return None
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("health: http://%s:%d/healthz /readyz /metrics", host, port)
    return server
