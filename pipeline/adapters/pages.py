"""Article pages fetched politely and safely: robots.txt honoured (protego, cached per host),
a descriptive User-Agent, the per-host gate the connector uses (hosts.py), 429/Retry-After,
timeouts and a body cap, HTML only, at most 5 redirects, http/https only, and the SSRF
guard at connect time (http.PublicOnlyTransport) when private addresses are refused.

A page that cannot be had raises PageRefused with a short `reason` (the metric label and
what the record says): robots, blocked_address, not_html, too_large, http_4xx, redirects,
scheme; network trouble, 5xx and 429 raise TransientError (RateLimitedError for 429)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from protego import Protego

from pipeline.adapters import http
from pipeline.adapters.hosts import HostGate
from pipeline.errors import PermanentError

log = logging.getLogger(__name__)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
HTML_TYPES = ("text/html", "application/xhtml+xml")
ROBOTS_TTL = 3600.0  # seconds a host's robots.txt is trusted
ROBOTS_MAX_BYTES = 500_000  # Google reads the first 500 KiB
MAX_CRAWL_DELAY = 30.0  # a robots.txt asking for more is honoured up to this


class PageRefused(PermanentError):
    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{url}: {reason}{': ' + detail if detail else ''}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Page:
    url: str  # after redirects
    body: bytes
    content_type: str
    elapsed: float


@dataclass(slots=True)
class _Robots:
    rules: Protego | None  # None: everything allowed
    expires: float
    disallow_all: bool = False  # robots.txt answered 5xx or not at all: wait and see


class PageFetcher:
    """One per process; `gate` may be the connector's own (a feed's host and its pages'
    host are usually the same, and politeness is per host)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        gate: HostGate,
        max_bytes: int = 5_000_000,
        total_timeout: float = 30.0,
        user_agent: str = http.USER_AGENT,
        concurrency: int = 20,
    ) -> None:
        self.client = client
        self.gate = gate
        # pages downloading at once, all hosts; taken only once the host's turn has come,
        # so pages queued behind one slow or spaced host do not hold up every other host
        self._downloading = asyncio.Semaphore(concurrency)
        self.max_bytes = max_bytes
        self.total_timeout = total_timeout
        self.user_agent = user_agent
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def get(self, url: str) -> Page:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PageRefused(url, "scheme", "only http/https pages are fetched")
        origin = f"{parts.scheme}://{parts.netloc}"
        try:
            robots = await self._robots_for(origin)
        except http.BlockedAddressError as exc:
            raise PageRefused(url, "blocked_address", str(exc)) from exc
        if robots.disallow_all or (
            robots.rules is not None and not robots.rules.can_fetch(url, self.user_agent)
        ):
            raise PageRefused(url, "robots", "disallowed by robots.txt")
        async with self.gate.slot(parts.netloc), self._downloading:
            try:
                fetched = await http.fetch(
                    self.client, url, self.max_bytes, total_timeout=self.total_timeout,
                    accept=HTML_ACCEPT,
                )  # fmt: skip
            except http.RateLimitedError as exc:
                self.gate.back_off(parts.netloc, exc.retry_after)
                raise
            except http.Refused as exc:
                raise PageRefused(url, exc.reason, str(exc)) from exc
        media = fetched.content_type.split(";")[0].strip().lower()
        if media and media not in HTML_TYPES:
            raise PageRefused(url, "not_html", media)
        return Page(fetched.url, fetched.body, fetched.content_type, fetched.elapsed)

    async def _robots_for(self, origin: str) -> _Robots:
        known = self._robots.get(origin)
        if known is not None and known.expires > time.monotonic():
            return known
        async with self._robots_locks.setdefault(origin, asyncio.Lock()):
            known = self._robots.get(origin)
            if known is None or known.expires <= time.monotonic():
                known = await self._read_robots(origin)
                self._robots[origin] = known
            return known

    async def _read_robots(self, origin: str) -> _Robots:
        """RFC 9309: a 4xx robots.txt allows everything; 5xx or no answer disallows
        everything for now (asked again sooner)."""
        expires = time.monotonic() + ROBOTS_TTL
        try:
            fetched = await http.fetch(
                self.client, f"{origin}/robots.txt", ROBOTS_MAX_BYTES,
                total_timeout=self.total_timeout, accept="text/plain, */*;q=0.1",
            )  # fmt: skip
        except http.BlockedAddressError:
            raise
        except http.Refused as exc:
            if exc.reason == "http_4xx":
                return _Robots(None, expires)
            return _Robots(None, time.monotonic() + 300, disallow_all=True)
        except Exception as exc:  # unreachable, 5xx, timeouts: not now
            log.info("robots.txt of %s unavailable (%s): pages wait", origin, exc)
            return _Robots(None, time.monotonic() + 300, disallow_all=True)
        rules = Protego.parse(fetched.body.decode("utf-8", errors="replace"))
        delay = rules.crawl_delay(self.user_agent)
        if delay:
            self.gate.space(urlsplit(origin).netloc, min(float(delay), MAX_CRAWL_DELAY))
        return _Robots(rules, expires)
