"""The RSS/Atom connector: poll feeds, normalise entries, produce raw articles to Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass, field
from functools import partial

from connectors.normalize import parse_feed
from pipeline import topics
from pipeline.adapters import http
from pipeline.adapters.kafka import make_producer
from pipeline.errors import MediamonError
from pipeline.schema import RawArticle
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    feed_url: str
    entries: int = 0
    emitted: int = 0
    error: str | None = None
    malformed: str | None = None


@dataclass
class RssConnector:
    """setup() / run() / stop(), as quix-streams sources are shaped."""

    settings: Settings
    feed_urls: list[str]
    # id -> content fingerprint of what Kafka acknowledged in this process (issue 3 makes
    # this durable across restarts; the index is idempotent on the id meanwhile).
    _sent: dict[str, str] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def setup(self) -> None:
        self._producer = make_producer(self.settings)
        await self._producer.start()
        self._http = http.make_client(self.settings)

    def request_stop(self) -> None:
        """Ask run() to finish after the current poll (safe from a signal handler)."""
        self._stopping.set()

    async def stop(self) -> None:
        self._stopping.set()
        await self._http.aclose()
        await self._producer.stop()

    async def run(self, once: bool = False) -> list[PollReport]:
        reports: list[PollReport] = []
        while not self._stopping.is_set():
            reports = list(await asyncio.gather(*(self.poll(u) for u in self.feed_urls)))
            for r in reports:
                log.info(
                    "poll feed=%s entries=%d emitted=%d error=%s malformed=%s",
                    r.feed_url,
                    r.entries,
                    r.emitted,
                    r.error,
                    r.malformed,
                )
            if once:
                break
            with contextlib.suppress(TimeoutError):  # the interval passed without a stop
                await asyncio.wait_for(self._stopping.wait(), self.settings.poll_interval)
        return reports

    async def poll(self, url: str) -> PollReport:
        report = PollReport(url)
        try:
            fetched = await http.fetch(self._http, url, self.settings.max_feed_bytes)
            loop = asyncio.get_running_loop()
            # feedparser is synchronous and can be slow on big feeds: keep it off the loop.
            parsed = await loop.run_in_executor(
                None,
                partial(parse_feed, fetched.body, fetched.url, content_type=fetched.content_type),
            )
        except MediamonError as exc:
            report.error = str(exc)
            return report
        report.entries = len(parsed.articles)
        report.malformed = parsed.malformed
        report.emitted = await self.emit(parsed.articles)
        return report

    async def emit(self, articles: list[RawArticle]) -> int:
        """Produce new or changed articles; remember them only once Kafka acknowledged."""
        topic = self.settings.topic(topics.RAW)
        pending = []
        for article in articles:
            fingerprint = hashlib.sha256(
                f"{article.title}\n{article.summary_html}\n{article.content_html}".encode()
            ).hexdigest()
            if self._sent.get(article.id) == fingerprint:
                continue
            fut = await self._producer.send(topic, article.to_json(), key=article.id.encode())
            pending.append((article.id, fingerprint, fut))
        for article_id, fingerprint, fut in pending:
            await fut
            self._sent[article_id] = fingerprint
        return len(pending)
