"""Politeness per host, shared by everything that fetches from the web (feeds and article
pages): at most `per_host` requests at a time to one host, started `spacing` seconds apart
(one at a time: `spacing` after the previous answer), and a 429 pushes the next request back
by Retry-After (or `penalty` when the server gave none)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class HostGate:
    def __init__(self, spacing: float, penalty: float = 60.0, per_host: int = 1) -> None:
        self.spacing = spacing
        self.penalty = penalty
        self.per_host = max(1, per_host)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._start: dict[str, asyncio.Lock] = {}  # one request at a time takes its turn
        self._next: dict[str, float] = {}
        self._spacing: dict[str, float] = {}  # a host that asks for more (Crawl-delay)

    def space(self, host: str, seconds: float) -> None:
        """Space this host's requests at least `seconds` apart from now on."""
        self._spacing[host] = max(self.spacing, seconds)

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        slots = self._slots.setdefault(host, asyncio.Semaphore(self.per_host))
        async with slots:
            async with self._start.setdefault(host, asyncio.Lock()):
                wait = self._next.get(host, 0.0) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                spacing = self._spacing.get(host, self.spacing)
                if self.per_host > 1:  # the next may start `spacing` after this one starts
                    self._next[host] = time.monotonic() + spacing
            try:
                yield
            finally:
                if self.per_host == 1:
                    now = time.monotonic()
                    self._next[host] = max(self._next.get(host, 0.0), now + spacing)

    def back_off(self, host: str, retry_after: float | None) -> float:
        seconds = max(self.spacing, retry_after if retry_after is not None else self.penalty)
        self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + seconds)
        return seconds
