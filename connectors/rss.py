"""The RSS/Atom connector: poll each feed on its own schedule, emit new and changed entries to
Kafka once, remember what was acknowledged (across restarts) and how each feed behaves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import random
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from urllib.parse import urlsplit

from connectors import metrics
from connectors.emitter import KafkaEmitter, Stopped
from connectors.feeds import FeedConfig
from connectors.normalize import ParsedFeed, fingerprint, parse_feed
from connectors.pages import ArticlePages
from connectors.scheduler import Outcome, plan_next
from connectors.state import FeedState, StateStore, now_iso
from pipeline.adapters import http
from pipeline.adapters.hosts import HostGate, HostPolicy
from pipeline.adapters.pages import PageFetcher
from pipeline.errors import PermanentError, TransientError
from pipeline.schema import RawArticle
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    feed_id: str
    url: str
    outcome: str = ""
    status: int | None = None
    entries: int = 0
    emitted: int = 0
    error: str | None = None
    error_kind: str | None = None
    malformed: str | None = None


def _older_than(stamp: str | None, seconds: float) -> bool:
    if not stamp:
        return True
    age = datetime.now(UTC) - datetime.fromisoformat(stamp)
    return age.total_seconds() >= seconds


@dataclass
class RssConnector:
    """setup() / run() / stop(), the shape of quix-streams sources."""

    settings: Settings
    feeds: list[FeedConfig]
    hosts: dict[str, HostPolicy] = field(default_factory=dict)  # the feeds file's `hosts:`
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _rng: random.Random = field(default_factory=random.Random)

    async def setup(self) -> None:
        self.store = StateStore(self.settings.connector_state_file)
        self.emitter = KafkaEmitter(self.settings, self._stopping)
        self._http = http.make_client(self.settings)
        self._gate = HostGate(
            self.settings.host_spacing,
            per_host=self.settings.host_concurrency,
            policies=self.hosts,
        )
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)
        self._pool: Executor | None = None
        if self.settings.parse_workers > 0:
            # feedparser costs ~5 ms per 10-item feed and holds the GIL: parsing in other
            # processes keeps the event loop (HTTP, Kafka) responsive during a burst.
            self._pool = ProcessPoolExecutor(
                self.settings.parse_workers, mp_context=multiprocessing.get_context("spawn")
            )
        metrics.FEEDS.set(sum(f.enabled for f in self.feeds))
        self._pages: ArticlePages | None = None
        if self.settings.fetch_pages:
            fetcher = PageFetcher(
                self._http,
                self._gate,
                max_bytes=self.settings.max_page_bytes,
                total_timeout=self.settings.page_total_timeout,
                concurrency=self.settings.page_concurrency,
            )
            self._pages = ArticlePages(fetcher, self.settings, self._pool)

    def request_stop(self) -> None:
        """Ask run() to finish (safe from a signal handler)."""
        self._stopping.set()

    async def stop(self) -> None:
        self._stopping.set()
        await self._http.aclose()
        await self.emitter.close()
        self.store.close()
        if self._pool is not None:
            # wait=False left the interpreter's exit hook writing to the pool's closed
            # wake-up pipe (an OSError traceback at every stop); a running parse is short
            await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)

    async def run(self, once: bool = False) -> list[PollReport]:
        """Poll every enabled feed; with `once`, each exactly once, else until stopped."""
        enabled = [f for f in self.feeds if f.enabled]
        if once:
            return list(await asyncio.gather(*(self.poll(f) for f in enabled)))
        tasks = [asyncio.create_task(self._loop(f), name=f"feed:{f.id}") for f in enabled]
        await self._stopping.wait()
        # Polls under way finish (their emits are acknowledged and recorded) before we go;
        # only what outlives the grace period is cancelled, and re-polled after a restart.
        _, late = await asyncio.wait(tasks, timeout=self.settings.http_total_timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return []

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the connector should stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), max(0.0, seconds))
        return self._stopping.is_set()

    async def _loop(self, feed: FeedConfig) -> None:
        state = self.store.feed(feed.id, feed.url)
        delay = self._rng.uniform(0, min(feed.poll_interval, 30.0))  # spread the first polls
        if state.next_poll:
            due = (datetime.fromisoformat(state.next_poll) - datetime.now(UTC)).total_seconds()
            delay = max(delay, due)
        while not await self._sleep(delay):
            await self.poll(feed)
            state = self.store.feed(feed.id, feed.url)
            due_at = datetime.fromisoformat(state.next_poll) if state.next_poll else None
            delay = (due_at - datetime.now(UTC)).total_seconds() if due_at else feed.poll_interval

    async def poll(self, feed: FeedConfig) -> PollReport:
        """One poll of one feed; never raises (every failure is recorded on the feed)."""
        state = self.store.feed(feed.id, feed.url)
        if state.url != feed.url and not state.last_success:
            state.url = feed.url
        report = PollReport(feed.id, state.url)
        started = time.monotonic()
        try:
            async with self._slots:
                # the feed's host slot is held for the feed only: its pages, often on the
                # same host, take their own turns through the same gate
                async with self._gate.slot(urlsplit(state.url).netloc):
                    fresh = await self._poll(feed, state, report)
                outcome = await self._emit(feed, state, report, fresh)
        except Stopped:
            report.outcome, report.error = "stopped", "connector stopping"
            return report
        except http.RateLimitedError as exc:
            waited = self._gate.back_off(urlsplit(state.url).netloc, exc.retry_after)
            outcome = self._failed(state, report, "rate_limited", f"{exc} (waiting {waited:.0f}s)")
        except PermanentError as exc:
            outcome = self._failed(state, report, "permanent", str(exc))
        except TransientError as exc:
            outcome = self._failed(state, report, "transient", str(exc))
        except Exception as exc:  # a bug must cost one poll of one feed, never the connector
            log.exception("poll of %s failed unexpectedly", feed.id)
            outcome = self._failed(state, report, "internal", f"{type(exc).__name__}: {exc}")
        else:
            state.consecutive_failures = 0
            state.last_error = state.last_error_kind = None
            state.last_success = now_iso()
        state.polls += 1
        state.last_poll = now_iso()
        plan = plan_next(
            feed,
            state.interval,
            outcome,
            state.consecutive_failures,
            self.settings.backoff_cap,
            self._rng,
        )
        state.interval = plan.interval
        state.next_poll = datetime.fromtimestamp(time.time() + plan.delay, UTC).isoformat()
        self.store.save_feed(state)
        report.outcome = outcome.value
        metrics.POLLS.labels(feed.id, outcome.value).inc()
        metrics.LATENCY.labels(feed.id).observe(time.monotonic() - started)
        log.info(
            "poll feed=%s outcome=%s status=%s entries=%d emitted=%d next_in=%.0fs error=%s",
            feed.id,
            outcome.value,
            report.status,
            report.entries,
            report.emitted,
            plan.delay,
            report.error,
        )
        return report

    def _failed(self, state: FeedState, report: PollReport, kind: str, error: str) -> Outcome:
        state.consecutive_failures += 1
        state.last_error, state.last_error_kind = error[:1000], kind
        report.error, report.error_kind = error, kind
        metrics.ERRORS.labels(state.feed_id, kind).inc()
        return Outcome.FAILED

    async def _poll(
        self, feed: FeedConfig, state: FeedState, report: PollReport
    ) -> list[tuple[RawArticle, str]] | None:
        """Fetch and parse the feed: its new or changed items with their fingerprints, or
        None when the server said 304."""
        unconditional = not feed.conditional_get or _older_than(
            state.last_unconditional, self.settings.unconditional_every
        )
        validators = None if unconditional else http.Validators(state.etag, state.last_modified)
        fetched = await http.fetch(
            self._http,
            state.url,
            self.settings.max_feed_bytes,
            validators,
            total_timeout=self.settings.http_total_timeout,
        )
        report.status = fetched.status
        if unconditional:
            state.last_unconditional = now_iso()
        if fetched.moved_to and fetched.moved_to != state.url:
            log.info("feed %s moved permanently: %s -> %s", feed.id, state.url, fetched.moved_to)
            state.url = report.url = fetched.moved_to
        if fetched.not_modified:
            state.not_modified += 1
            metrics.NOT_MODIFIED.labels(feed.id).inc()
            return None
        state.etag = fetched.validators.etag
        state.last_modified = fetched.validators.last_modified
        parsed: ParsedFeed = await asyncio.get_running_loop().run_in_executor(
            self._pool,  # feedparser is synchronous: keep it off the event loop
            partial(
                parse_feed,
                fetched.body,
                fetched.url,
                feed_id=feed.id,
                lang_hint=feed.lang,
                content_type=fetched.content_type,
                feed_tags=feed.tags,
            ),
        )
        state.malformed = report.malformed = parsed.malformed
        report.entries = len(parsed.articles)
        if not parsed.is_feed:
            raise PermanentError(f"not an RSS/Atom feed ({fetched.content_type or 'no type'})")
        known = self.store.fingerprints(a.id for a in parsed.articles)
        fresh = []
        for article in parsed.articles:
            fp = fingerprint(article)
            if known.get(article.id) != fp:
                fresh.append((article, fp))
                known[article.id] = fp  # the same id twice in one feed: once is enough
        return fresh

    async def _emit(
        self,
        feed: FeedConfig,
        state: FeedState,
        report: PollReport,
        fresh: list[tuple[RawArticle, str]] | None,
    ) -> Outcome:
        if fresh is None:
            return Outcome.NOT_MODIFIED
        # Seen items are remembered by their id in the feed: a page's canonical URL may
        # give the emitted article another id, and the next poll knows only the feed's.
        seen = [(a.id, fp) for a, fp in fresh]
        articles = [a for a, _ in fresh]
        if articles and self._pages is not None:
            articles = await self._pages.attach(feed, articles)
        if articles:
            await self.emitter.emit(articles)
            # Only now, with Kafka's acknowledgement, do these count as sent.
            self.store.mark_emitted(feed.id, seen)
            state.items_emitted += len(fresh)
            metrics.ITEMS.labels(feed.id).inc(len(fresh))
        report.emitted = len(fresh)
        return Outcome.NEW_ITEMS if fresh else Outcome.NO_NEW_ITEMS
