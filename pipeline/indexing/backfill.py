"""Full text for what was indexed from the feed alone (`mediamon fetch`): for each article
whose text came from its feed and is short, fetch its page as the connector does
(robots.txt, host gate, SSRF guard), enrich it again from the page's text (the enrichment
core the worker runs), keep its story, and write it back only if no newer copy arrived.
An article already read from its page is not asked again; one whose page cannot be used
keeps its text and records why (`page_problem`), so a second run asks only those again."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.adapters.http import RateLimitedError
from pipeline.adapters.pages import PageFetcher, PageRefused
from pipeline.errors import TransientError
from pipeline.indexing import scan
from pipeline.indexing.bulk import to_es_document
from pipeline.schema import EnrichedArticle, RawArticle
from pipeline.stages.canonical import declared_canonical
from pipeline.stages.enrich import Enricher
from pipeline.stages.extract import read_page


@dataclass
class BackfillReport:
    seen: int = 0
    from_page: int = 0  # now read from their page
    problems: dict[str, int] = field(default_factory=dict)  # reason -> articles
    newer_meanwhile: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": len(self.failed)}  # a count; the CLI lists the ids


def query(since: datetime | None, feed: str | None) -> dict[str, Any]:
    """Articles not read from their page, optionally recent, optionally of one feed."""
    filters: list[dict[str, Any]] = [{"exists": {"field": "url"}}]
    if since is not None:
        filters.append({"range": {"fetched_at": {"gte": since.isoformat()}}})
    if feed:
        filters.append({"term": {"feed_id": feed}})
    return {"bool": {"filter": filters, "must_not": [{"term": {"content_from": "page"}}]}}


async def backfill(
    es: AsyncElasticsearch,
    alias: str,
    enricher: Enricher,
    fetcher: PageFetcher,
    *,
    since: datetime | None = None,
    feed: str | None = None,
    min_chars: int = 500,
    progress: Callable[[int], None] = lambda n: None,
) -> BackfillReport:
    report = BackfillReport()
    async for page in scan.hits_of(es, alias, query(since, feed), size=100):
        progress(len(page))
        report.seen += len(page)
        hits = [  # long feed texts were never meant for a page (fetch: auto)
            h
            for h in page
            if len(h["_source"].get("text") or "") < min_chars
            and str(h["_source"].get("url", "")).startswith(("http://", "https://"))
        ]
        done = await asyncio.gather(*(_one(hit, enricher, fetcher) for hit in hits))
        actions = []
        from_page: set[str] = set()
        for hit, (article, reason) in zip(hits, done, strict=True):
            if reason is not None:
                report.problems[reason] = report.problems.get(reason, 0) + 1
            elif article is not None:
                from_page.add(hit["_id"])
            if article is not None:
                actions.append(scan.rewrite(hit, to_es_document(article)))
        written = scan.Written()
        if actions:
            await scan.write(es, actions, written)
        report.from_page += len(from_page - written.not_written)
        report.newer_meanwhile += written.newer_meanwhile
        report.failed += written.failed
    return report


async def _one(
    hit: dict[str, Any], enricher: Enricher, fetcher: PageFetcher
) -> tuple[EnrichedArticle | None, str | None]:
    """The article to write (None: nothing changes) and why its page was not used."""
    article = EnrichedArticle.model_validate({**hit["_source"], "id": hit["_id"]})
    try:
        page = await fetcher.get(article.url)  # its own bound on pages at once
        found, problem = await asyncio.to_thread(read_page, page.body, page.content_type, page.url)
    except PageRefused as exc:
        problem = exc.reason
    except RateLimitedError:
        return None, "rate_limited"
    except TransientError:
        return None, "unavailable"  # asked again next time; nothing recorded
    if problem is not None:
        if article.page_problem == problem:
            return None, problem
        return article.model_copy(update={"page_problem": problem}), problem
    raw = RawArticle(
        id=article.id,
        url=article.url,
        feed_id=article.feed_id,
        source_name=article.source_name,
        title=html.escape(article.title, quote=False),
        summary_html=html.escape(article.text, quote=False),
        authors=article.authors,
        categories=article.categories,
        published=article.published,
        fetched_at=article.fetched_at or article.enriched_at,
        page_text=found.text,
        text_source="page",
        # recorded, not re-keyed: the document keeps its id, or the index would hold it twice
        canonical_url=declared_canonical(found.canonical_url, page.url) or "",
    )
    renewed = enricher.enrich(raw).model_copy(update={"story_id": article.story_id})
    return renewed, None
