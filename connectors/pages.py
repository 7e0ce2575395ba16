"""Full text for feed items: the article page of each item whose feed text is short (a
feed's `fetch: auto`, the default, below `fetch_min_chars`), or of every item (`always`),
fetched politely (pipeline/adapters/pages.py) and extracted in the connector's process
pool. The item keeps its feed text and says why when the page cannot be used
(`page_problem`: robots, not_html, paywall, consent_wall, ...); nothing is ever lost."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from functools import partial
from typing import Any

from connectors import metrics
from connectors.feeds import FeedConfig
from pipeline.adapters.http import RateLimitedError
from pipeline.adapters.pages import PageFetcher, PageRefused
from pipeline.errors import TransientError
from pipeline.schema import RawArticle
from pipeline.settings import Settings
from pipeline.stages.canonical import article_id, canonical_url, declared_canonical
from pipeline.stages.clean import html_to_text
from pipeline.stages.extract import read_page

log = logging.getLogger(__name__)


class ArticlePages:
    def __init__(self, fetcher: PageFetcher, settings: Settings, pool: Executor | None) -> None:
        self.fetcher = fetcher
        self.settings = settings
        self.pool = pool

    def wanted(self, feed: FeedConfig, article: RawArticle) -> bool:
        if feed.fetch == "never" or not article.url.startswith(("http://", "https://")):
            return False
        if feed.fetch == "always":
            return True
        feed_text = html_to_text(article.content_html or article.summary_html)
        return len(feed_text) < self.settings.fetch_min_chars

    async def attach(self, feed: FeedConfig, articles: list[RawArticle]) -> list[RawArticle]:
        """The same items, in order, with their pages' text where it could be had."""
        pages = list(await asyncio.gather(*(self._one(feed, a) for a in articles)))
        return _distinct_ids(feed, articles, pages)

    async def _one(self, feed: FeedConfig, article: RawArticle) -> RawArticle:
        if not self.wanted(feed, article):
            return article
        started = time.monotonic()
        reason = await self._page(feed, article)
        metrics.PAGE_SECONDS.observe(time.monotonic() - started)
        if isinstance(reason, RawArticle):
            metrics.PAGES.labels("page").inc()
            return reason
        metrics.PAGES.labels(reason).inc()
        log.info("page of %s not used (%s): %s", feed.id, reason, article.url)
        return article.model_copy(update={"page_problem": reason})

    async def _page(self, feed: FeedConfig, article: RawArticle) -> RawArticle | str:
        try:
            page = await self.fetcher.get(article.url)
        except PageRefused as exc:
            return exc.reason
        except RateLimitedError:
            return "rate_limited"
        except TransientError:
            return "unavailable"
        except Exception:  # a bug costs one page, never the item
            log.exception("fetching the page of an item of %s failed", feed.id)
            return "error"
        try:
            loop = asyncio.get_running_loop()
            found, problem = await loop.run_in_executor(
                self.pool, partial(read_page, page.body, page.content_type, page.url)
            )
        except Exception:
            log.exception("extracting %s failed", page.url)
            return "extraction_failed"
        if problem:
            return problem
        update: dict[str, Any] = {"page_text": found.text, "text_source": "page"}
        canonical = declared_canonical(found.canonical_url, page.url)
        if canonical and canonical != canonical_url(article.url):
            # one id for one article, whichever feed or link led to it (issue 15)
            update["id"] = article_id(canonical)
            update["canonical_url"] = canonical
        if article.published_from_fetch and found.published:
            update["published"] = found.published
            update["published_from_fetch"] = False
        return article.model_copy(update=update)


def _distinct_ids(
    feed: FeedConfig, items: list[RawArticle], pages: list[RawArticle]
) -> list[RawArticle]:
    """Two items of one poll whose pages claim one canonical URL are not one article: some
    sites put a section page there on every story. They keep the ids their feed gave them."""
    claimed: dict[str, set[str]] = {}
    for item, page in zip(items, pages, strict=True):
        claimed.setdefault(page.id, set()).add(item.id)
    shared = {page_id for page_id, ids in claimed.items() if len(ids) > 1}
    if not shared:
        return pages
    log.info("feed %s: %d canonical URLs name several items, not used", feed.id, len(shared))
    return [
        page.model_copy(update={"id": item.id, "canonical_url": ""})
        if page.id in shared and page.id != item.id
        else page
        for item, page in zip(items, pages, strict=True)
    ]
