"""HTTP for feed fetching: conditional GET, bounded redirects and body size, http/https only."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import time
from dataclasses import dataclass

import httpx

from pipeline.errors import PermanentError, TransientError
from pipeline.settings import Settings

USER_AGENT = "mediamon/0.1 (+https://github.com/mediamon/mediamon; feed monitor)"
MAX_REDIRECTS = 5
_PERMANENT = frozenset({301, 308})


class RateLimitedError(TransientError):
    """HTTP 429 (or 503 with Retry-After): the host asked us to wait `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server gave us to make the next request conditional."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 when the feed did not change
    body: bytes
    content_type: str
    validators: Validators
    moved_to: str | None = None  # new URL when every redirect on the way was permanent
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class BlockedAddressError(PermanentError):
    """The feed's host resolves to a private, loopback or otherwise internal address."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """Refuses any request (each redirect hop is one) whose host resolves to a non-public
    address: a feed URL found at run time must not reach the internal network (SSRF).
    The check resolves before the connection does; a DNS answer that changes in between is
    not caught, which is why this is a guard for feed URLs, not a network boundary."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, request.url.port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        blocked = sorted({str(i[4][0]) for i in infos if not is_public(str(i[4][0]))})
        if blocked:
            raise BlockedAddressError(
                f"{request.url}: {host} resolves to a non-public address ({', '.join(blocked)});"
                " refused (MEDIAMON_FEEDS_REFUSE_PRIVATE)"
            )
        return await super().handle_async_request(request)


def make_client(settings: Settings) -> httpx.AsyncClient:
    transport = PublicOnlyTransport() if settings.feeds_refuse_private else None
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.http_timeout, connect=min(10.0, settings.http_timeout)),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    max_bytes: int,
    validators: Validators | None = None,
    total_timeout: float | None = None,
) -> Fetched:
    """GET `url` (conditionally when validators are given). 429/5xx and network errors are
    transient; other 4xx, non-http(s) URLs, redirect loops and oversize bodies permanent."""
    if not url.startswith(("http://", "https://")):
        raise PermanentError(f"only http/https feeds are fetched, not {url!r}")
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
    }
    if validators and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    started = time.monotonic()
    try:
        async with (
            asyncio.timeout(total_timeout),
            client.stream("GET", url, headers=headers) as resp,
        ):
            return await _read(resp, url, max_bytes, started)
    except TimeoutError as exc:
        raise TransientError(f"{url}: no complete answer within {total_timeout:.0f}s") from exc
    except BlockedAddressError:
        raise
    except httpx.TooManyRedirects as exc:
        raise PermanentError(f"{url}: more than {MAX_REDIRECTS} redirects (a loop?)") from exc
    except httpx.UnsupportedProtocol as exc:  # a redirect to file://, ftp://...: not followed
        raise PermanentError(f"{url}: redirected to a URL that is not http/https") from exc
    except httpx.HTTPError as exc:
        raise TransientError(f"{url}: {type(exc).__name__}: {exc}") from exc


async def _read(resp: httpx.Response, url: str, max_bytes: int, started: float) -> Fetched:
    status = resp.status_code
    if status == 429 or (status == 503 and "retry-after" in resp.headers):
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        raise RateLimitedError(f"{url}: HTTP {status}", retry_after)
    if status >= 500:
        raise TransientError(f"{url}: HTTP {status}")
    if status >= 400:
        raise PermanentError(f"{url}: HTTP {status}")
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PermanentError(f"{url}: body of {declared} bytes exceeds the {max_bytes} limit")
    chunks: list[bytes] = []
    size = 0
    if status != 304:
        async for chunk in resp.aiter_bytes():  # decoded: the limit also stops gzip bombs
            size += len(chunk)
            if size > max_bytes:
                raise PermanentError(f"{url}: body exceeds the {max_bytes} byte limit")
            chunks.append(chunk)
    hops = [r.status_code for r in resp.history]
    moved = str(resp.url) if hops and all(h in _PERMANENT for h in hops) else None
    return Fetched(
        url=str(resp.url),
        status=status,
        body=b"".join(chunks),
        content_type=resp.headers.get("content-type", ""),
        validators=Validators(resp.headers.get("etag"), resp.headers.get("last-modified")),
        moved_to=moved,
        elapsed=time.monotonic() - started,
    )
