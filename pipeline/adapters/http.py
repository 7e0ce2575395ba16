"""Outbound HTTP: feed fetching (conditional GET, bounded redirects and body size, http/https
only, an optional private-address guard) and the bounded POST alert channels send with."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from pipeline.errors import ChannelConfigError, DeliveryError, PermanentError, TransientError
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
