"""A small local HTTP server for the sample feeds (the demo and the tests use it)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

_TYPES = {
    ".xml": "application/rss+xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
}


def samples_dir() -> Path:
    return Path(str(resources.files("deploy").joinpath("samples", "feeds")))


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **_TYPES}  # noqa: RUF012

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo has its own UI
        pass


class FeedServer:
    """Serves a folder of feeds on 127.0.0.1 in a background thread."""

    def __init__(self, directory: Path | None = None, port: int = 0) -> None:
        self.directory = directory or samples_dir()
        handler = partial(_Handler, directory=str(self.directory))
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError:  # the preferred port is taken: any free one will do
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def feed_urls(self) -> list[str]:
        return [
            f"{self.base_url}/{p.name}"
            for p in sorted(self.directory.iterdir())
            if p.suffix in _TYPES
        ]

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def serve_feeds(directory: Path | None = None, port: int = 0) -> Iterator[FeedServer]:
    server = FeedServer(directory, port).start()
    try:
        yield server
    finally:
        server.stop()
