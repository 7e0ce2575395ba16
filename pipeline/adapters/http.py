"""Outbound HTTP: feed fetching (conditional GET, bounded redirects and body size, http/https
only, the private-address guard) and the bounded POST alert channels send with."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from pydantic import AfterValidator

from pipeline.errors import ChannelConfigError, DeliveryError, PermanentError, TransientError
from pipeline.settings import Settings

log = logging.getLogger(__name__)
USER_AGENT = "mediamon/0.1 (+https://github.com/mediamon/mediamon; feed monitor)"
MAX_REDIRECTS = 5
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
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


class Refused(PermanentError):
    """A fetch that will not succeed as asked, with a one-word `reason` (metric labels and
    records use it): scheme, redirects, http_4xx, too_large, blocked_address."""

    reason = "refused"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class BlockedAddressError(Refused):
    """The feed's host resolves to a private, loopback or otherwise internal address."""

    reason = "blocked_address"


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer with the SSRF guard at connect time: the host is resolved
    here, every address it resolves to must be public, and the connection goes to the
    address that was checked (TLS still names the host). So a redirect hop, or a DNS answer
    that changes between a check and the connection, cannot reach the internal network."""

    def __init__(
        self,
        inner: httpcore.AsyncNetworkBackend,
        resolver: Resolver | None = None,
        allowed: frozenset[str] = frozenset(),
    ) -> None:
        self._inner = inner
        self._resolve = resolver or resolve
        self._allowed = allowed  # hosts the operator trusts on an internal network

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.lower().strip("[]") in self._allowed:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        blocked = [a for a in addresses if not is_public(a)]
        if blocked or not addresses:
            log.warning("refused %s: resolves to %s (non-public)", host, ", ".join(blocked))
            raise BlockedAddressError(
                f"{host} resolves to a non-public address ({', '.join(blocked) or 'none'});"
                " refused (MEDIAMON_ALLOW_PRIVATE_HOSTS names hosts to trust)"
            )
        return await self._inner.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddressError("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a PublicOnlyBackend (httpx takes no backend argument: the pool's
    is replaced; httpcore is pinned in requirements.lock and a unit test proves the guard)."""

    def __init__(
        self,
        resolver: Resolver | None = None,
        allowed: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        pool = self._pool
        pool._network_backend = PublicOnlyBackend(pool._network_backend, resolver, allowed)


def make_client(settings: Settings) -> httpx.AsyncClient:
    transport = None
    if settings.feeds_refuse_private:
        transport = PublicOnlyTransport(allowed=settings.private_hosts_allowed)
    return httpx.AsyncClient(
        transport=transport,
        # a proxy (this setting, else the environment's HTTP(S)_PROXY) decides for itself
        # what may be reached: the guard above sees only the connection to the proxy
        proxy=settings.http_proxy or None,
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
    accept: str = FEED_ACCEPT,
) -> Fetched:
    """GET `url` (conditionally when validators are given). 429/5xx and network errors are
    transient; other 4xx, non-http(s) URLs, redirect loops and oversize bodies permanent."""
    if not url.startswith(("http://", "https://")):
        raise Refused(f"only http/https feeds are fetched, not {url!r}", "scheme")
    headers = {"Accept": accept}
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
        raise Refused(f"{url}: more than {MAX_REDIRECTS} redirects (a loop?)", "redirects") from exc
    except httpx.UnsupportedProtocol as exc:  # a redirect to file://, ftp://...: not followed
        raise Refused(f"{url}: redirected to a URL that is not http/https", "scheme") from exc
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
        raise Refused(f"{url}: HTTP {status}", "http_4xx")
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise Refused(f"{url}: body of {declared} bytes exceeds the {max_bytes} limit", "too_large")
    chunks: list[bytes] = []
    size = 0
    if status != 304:
        async for chunk in resp.aiter_bytes():  # decoded: the limit also stops gzip bombs
            size += len(chunk)
            if size > max_bytes:
                raise Refused(f"{url}: body exceeds the {max_bytes} byte limit", "too_large")
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


# --- alert channels ---------------------------------------------------------------------------
# A channel's answer is read only as far as its status (and at most `read_bytes` of body):
# an endless body costs nothing. Redirects are not followed: the signed alert goes where
# the channel says, or it is a failed delivery (the 3xx is the reason).
CHANNEL_TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # connect, and each read or write
CHANNEL_TOTAL_TIMEOUT = 30.0  # the whole request, however slowly the server trickles


class _SecretURLFilter(logging.Filter):
    """httpx logs each request's full URL at INFO; a Slack incoming-webhook URL or a Telegram
    URL (the bot token is in its path) is a credential, so registered URLs are logged as
    their host."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls and isinstance(record.args, tuple):
            record.args = tuple(
                f"{host_of(str(a))} (URL withheld)" if str(a) in self.urls else a
                for a in record.args
            )
        return True


_SECRET_URLS = _SecretURLFilter()
logging.getLogger("httpx").addFilter(_SECRET_URLS)


def withhold_in_logs(url: str) -> None:
    """httpx's request log line shows this URL as its host only."""
    _SECRET_URLS.urls.add(str(httpx.URL(url)))


def http_url(refusal: str) -> AfterValidator:
    """A pydantic validator for a URL field that must be http:// or https:// (a feed, a
    webhook): anything else is refused with `refusal`."""

    def check(url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(refusal)
        return url

    return AfterValidator(check)


def host_of(url: str) -> str:
    """What an error message may say about a channel URL: its host (and port), never the
    path, query or user info, which can hold a credential."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or "?"


def make_channel_client(settings: Settings) -> httpx.AsyncClient:
    """The client alert channels POST with. No private-address guard: a channel's URL comes
    from the operator's rules file (a webhook on the local network is a normal setup), not
    from a feed found at run time."""
    return httpx.AsyncClient(follow_redirects=False, timeout=CHANNEL_TIMEOUT)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes  # at most the `read_bytes` asked for
    headers: httpx.Headers


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    read_bytes: int = 0,
) -> Answer:
    """POST with a bound on the whole exchange. Errors name the host only and carry no
    httpx exception (its text and its request hold the full URL): a DeliveryError for a
    timeout or a network failure, a ChannelConfigError for a URL that is not http(s)."""
    host = host_of(url)
    if not url.startswith(("http://", "https://")):
        raise ChannelConfigError(f"{host}: only http/https channels")
    try:
        async with (
            asyncio.timeout(CHANNEL_TOTAL_TIMEOUT),
            client.stream(
                "POST",
                url,
                content=body,
                headers=headers,
                timeout=CHANNEL_TIMEOUT,
                follow_redirects=False,  # whatever the client was built with
            ) as resp,
        ):
            chunks: list[bytes] = []
            size = 0
            if read_bytes:
                async for chunk in resp.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= read_bytes:
                        break
            return Answer(resp.status_code, b"".join(chunks)[:read_bytes], resp.headers)
    except TimeoutError:
        failure = f"{host}: no answer within {CHANNEL_TOTAL_TIMEOUT:.0f}s"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        failure = f"{host}: {type(exc).__name__}"
    # raised here, not in the except clauses, so that no httpx exception rides along as
    # the context (its request holds the URL, which may hold a token)
    raise DeliveryError(failure)
