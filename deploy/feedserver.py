"""A small local HTTP server for the sample feeds and the sample site behind them (the demo
and the tests use it).

The sample feeds link to their fictional outlets' pages (http://vestnik.example/...). So
that the demo fetches those pages without touching the internet, the server is also an
HTTP proxy for the sample hosts: the connector is pointed at it (MEDIAMON_HTTP_PROXY) and
asks for `GET http://vestnik.example/politika/...`, which is answered from
`samples/site/<host>/<path>.html`. Anything else through the proxy gets a 403."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

_TYPES = {
    ".xml": "application/rss+xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
}


def samples_dir() -> Path:
    return Path(str(resources.files("deploy").joinpath("samples", "feeds")))


def site_dir() -> Path:
    return Path(str(resources.files("deploy").joinpath("samples", "site")))


def site_file(site: Path, host: str, path: str) -> Path | None:
    """The file standing for http://host/path on the sample site, if there is one; never a
    file outside `site` (the path comes from the request)."""
    parts = PurePosixPath(unquote(path or "/")).parts[1:]
    if not host or any(p in ("..", ".") or "\\" in p for p in parts) or "/" in host:
        return None
    if path.endswith("/") or not parts:
        parts = (*parts, "index")
    name = parts[-1] if parts[-1].endswith(".txt") else f"{parts[-1]}.html"
    candidate = site.joinpath(host, *parts[:-1], name)
    try:
        candidate.resolve().relative_to(site.resolve())
    except ValueError:
        return None
    return candidate if candidate.is_file() else None


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **_TYPES}  # noqa: RUF012
    site: Path | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo has its own UI
        pass

    def do_GET(self) -> None:
        if self.path.startswith(("http://", "https://")):
            self._proxied(head=False)
        else:
            super().do_GET()

    def do_HEAD(self) -> None:
        if self.path.startswith(("http://", "https://")):
            self._proxied(head=True)
        else:
            super().do_HEAD()

    def _proxied(self, head: bool) -> None:
        url = urlsplit(self.path)
        host = (url.hostname or "").lower()
        if host in ("127.0.0.1", "localhost"):  # our own feeds, asked for through the proxy
            self.path = url.path + (f"?{url.query}" if url.query else "")
            super().do_HEAD() if head else super().do_GET()
            return
        found = site_file(self.site, host, url.path) if self.site and url.scheme == "http" else None
        if found is None:
            known = self.site is not None and (self.site / host).is_dir()
            self.send_error(404 if known else 403, "not on the sample site")
            return
        body = found.read_bytes()
        self.send_response(200)
        kind = "text/plain" if found.suffix == ".txt" else "text/html"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class FeedServer:
    """Serves a folder of feeds on 127.0.0.1 in a background thread, and the sample site
    behind them to clients that use it as their HTTP proxy (`proxy_url`)."""

    def __init__(
        self, directory: Path | None = None, port: int = 0, site: Path | None = None
    ) -> None:
        self.directory = directory or samples_dir()
        self.site = site if site is not None else (site_dir() if directory is None else None)
        handler_class = type("Handler", (_Handler,), {"site": self.site})
        handler = partial(handler_class, directory=str(self.directory))
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError:  # the preferred port is taken: any free one will do
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def proxy_url(self) -> str:
        """Point a client's HTTP proxy here and the sample hosts' pages are served."""
        return self.base_url

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
def serve_feeds(
    directory: Path | None = None, port: int = 0, site: Path | None = None
) -> Iterator[FeedServer]:
    server = FeedServer(directory, port, site).start()
    try:
        yield server
    finally:
        server.stop()
