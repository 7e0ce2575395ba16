"""HTTP for feed fetching: one httpx client, bounded body size, http/https only."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from pipeline.errors import PermanentError, TransientError
from pipeline.settings import Settings

USER_AGENT = "mediamon/0.1 (+https://github.com/mediamon/mediamon; feed monitor)"


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    status: int
    body: bytes
    content_type: str


def make_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout, connect=min(10.0, settings.http_timeout)),
        follow_redirects=True,
        max_redirects=5,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
    )


async def fetch(client: httpx.AsyncClient, url: str, max_bytes: int) -> Fetched:
    """GET `url`; 5xx, 429 and network errors are transient, other 4xx permanent."""
    if not url.startswith(("http://", "https://")):
        raise PermanentError(f"only http/https feeds are fetched, not {url!r}")
    try:
        async with client.stream("GET", url) as resp:
            if resp.status_code == 429 or resp.status_code >= 500:
                raise TransientError(f"{url}: HTTP {resp.status_code}")
            if resp.status_code >= 400:
                raise PermanentError(f"{url}: HTTP {resp.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise PermanentError(f"{url}: body larger than {max_bytes} bytes")
                chunks.append(chunk)
            return Fetched(
                str(resp.url),
                resp.status_code,
                b"".join(chunks),
                resp.headers.get("content-type", ""),
            )
    except httpx.HTTPError as exc:
        raise TransientError(f"{url}: {type(exc).__name__}: {exc}") from exc
