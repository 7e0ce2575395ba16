"""Politeness per host, shared by everything that fetches from the web (feeds and article
pages): at most `per_host` requests at a time to one host, started `spacing` seconds apart
(one at a time: `spacing` after the previous answer), and a 429 pushes the next request back
by Retry-After (or `penalty` when the server gave none). A host may have its own spacing and
concurrency (`HostPolicy`, the feeds file's `hosts:`): a wire service that serves hundreds
of items an hour needs more than the default allows, a small site asks for less."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Mapping

from pydantic import BaseModel, ConfigDict, Field

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_IPV4 = re.compile(r"^[0-9.]+$")


class HostPolicy(BaseModel):
    """One host's own pace; what is left out falls back to the deployment's defaults
    (MEDIAMON_HOST_SPACING, MEDIAMON_HOST_CONCURRENCY). A robots.txt Crawl-delay can only
    slow a host down further, never speed it up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spacing: float | None = Field(default=None, ge=0, le=3600)
    concurrency: int | None = Field(default=None, ge=1, le=64)


def valid_host(name: str) -> str:
    """A host name as policies are keyed: lower case, no scheme, port or trailing dot."""
    host = name.strip().lower().rstrip(".")
    if not _HOST.match(host):
        raise ValueError(f"{name!r} is not a host name (write news.example.org, no scheme or port)")
    return host


def _hostname(netloc: str) -> str:
    host = netloc.rsplit("@", 1)[-1]
    if host.startswith("["):  # an IPv6 literal keeps its colons
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0].lower().rstrip(".")


class HostGate:
    def __init__(
        self,
        spacing: float,
        penalty: float = 60.0,
        per_host: int = 1,
        policies: Mapping[str, HostPolicy] | None = None,
    ) -> None:
        self.spacing = spacing
        self.penalty = penalty
        self.per_host = max(1, per_host)
        self.policies = {valid_host(k): v for k, v in (policies or {}).items()}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._start: dict[str, asyncio.Lock] = {}  # one request at a time takes its turn
        self._next: dict[str, float] = {}
        self._spacing: dict[str, float] = {}  # a host that asks for more (Crawl-delay)

    def policy(self, netloc: str) -> HostPolicy:
        """The most specific policy for a host: its own, else its nearest parent domain's
        (a policy for example.org covers www.example.org and news.example.org)."""
        host = _hostname(netloc)
        if _IPV4.match(host) or host.startswith("["):  # an address has no parent domain
            return self.policies.get(host, HostPolicy())
        while host:
            found = self.policies.get(host)
            if found is not None:
                return found
            host = host.partition(".")[2]
        return HostPolicy()

    def base_spacing(self, host: str) -> float:
        own = self.policy(host).spacing
        return self.spacing if own is None else own

    def concurrency(self, host: str) -> int:
        own = self.policy(host).concurrency
        return self.per_host if own is None else own

    def space(self, host: str, seconds: float) -> None:
        """Space this host's requests at least `seconds` apart from now on."""
        self._spacing[host] = max(self.base_spacing(host), seconds)

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        per_host = self.concurrency(host)
        slots = self._slots.get(host)
        if slots is None:
            slots = self._slots[host] = asyncio.Semaphore(per_host)
        async with slots:
            async with self._start.setdefault(host, asyncio.Lock()):
                wait = self._next.get(host, 0.0) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                spacing = self._spacing.get(host)
                if spacing is None:
                    spacing = self.base_spacing(host)
                if per_host > 1:  # the next may start `spacing` after this one starts
                    self._next[host] = time.monotonic() + spacing
            try:
                yield
            finally:
                if per_host == 1:
                    now = time.monotonic()
                    self._next[host] = max(self._next.get(host, 0.0), now + spacing)

    def back_off(self, host: str, retry_after: float | None) -> float:
        seconds = max(
            self.base_spacing(host), retry_after if retry_after is not None else self.penalty
        )
        self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + seconds)
        return seconds
