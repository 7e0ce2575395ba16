"""Agent: articles.enriched -> Elasticsearch, then the alert rules over the indexed batch
(pipeline.indexing and pipeline.alerts.matching hold the logic)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.agents.deadletter import (
    dead_letter,
    parse_or_dead_letter,
    retried_if_unexpected,
    retry_or_dead_letter,
)
from pipeline.agents.events import unacked_unless_done
from pipeline.alerts.matching import RuleMatcher
from pipeline.app import Wiring
from pipeline.errors import BadRecordError, ShutdownRequested, TransientError
from pipeline.failures import RetryPolicy
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.metrics import ALERTS_MATCHED, INDEX_BATCH, INDEX_RETRIES, INDEXED
from pipeline.schema import EnrichedArticle, VolumeCount

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outlets:
    """Where the index stage sends what it does not index and what it matched."""

    retry: Any
    dead_letter: Any
    alerts: Any
    volume: Any
    policy: RetryPolicy


def register(w: Wiring) -> None:
    stage = topics.stage("index")
    settings = w.settings
    outlets = Outlets(
        retry=w.topic(stage.retry or ""),
        dead_letter=w.topic(stage.dead_letter or ""),
        alerts=w.topic(topics.ALERTS),
        volume=w.topic(topics.ALERTS_VOLUME),
        policy=settings.retry_policy(),
    )
    indexers: list[ArticleIndexer] = []
    # /readyz: the last bulk request went through, or the outage is young
    w.health.check(
        "elasticsearch",
        lambda: not indexers or indexers[0].healthy(settings.ready_grace_seconds),
    )

    @w.app.agent(w.topic(stage.input), name="index_articles")
    async def index_articles(stream: Any) -> None:
        es = make_client(settings)
        indexer = ArticleIndexer(es, settings, stopping=w.stopping)
        indexers[:] = [indexer]
        matcher = RuleMatcher(es, settings, w.rules, stopping=w.stopping)
        try:
            async for events in stream.take_events(
                settings.index_batch_size, within=settings.index_batch_seconds
            ):
                try:
                    with unacked_unless_done(events):
                        async with retried_if_unexpected(
                            events, "index", outlets.retry, outlets.dead_letter, outlets.policy
                        ):
                            await w.rules.refresh(es)  # a changed file or alert-rules index
                            await index_batch(events, indexer, matcher, outlets)
                except ShutdownRequested:
                    # not `break`: batches still buffered must come through and be left
                    # unacknowledged too, or Faust waits for them until the process is killed
                    log.info(
                        "stopping or rebalancing: a batch of %d is left unacknowledged",
                        len(events),
                    )
        finally:
            await es.close()


async def index_batch(
    events: list[Any], indexer: ArticleIndexer, matcher: RuleMatcher, out: Outlets
) -> None:
    """Index the batch, route what Elasticsearch refused, match the rules over what it holds
    and produce the alert events; returns once Kafka holds them (offsets advance after)."""
    articles: list[EnrichedArticle] = []
    event_of: dict[str, Any] = {}
    for event in events:
        article = await parse_or_dead_letter(event, EnrichedArticle, out.dead_letter, "index")
        if article is None:
            continue
        articles.append(article)
        event_of[article.id] = event
    started = time.monotonic()
    report = await indexer.index(articles)
    for article_id, reason in report.rejected:
        await dead_letter(out.dead_letter, event_of[article_id], "index", BadRecordError(reason))
    for article_id, reason in report.deferred:
        # still 429/5xx: later, through the retry topic, so this partition moves on
        await retry_or_dead_letter(
            event_of[article_id],
            "index",
            TransientError(reason),
            out.retry,
            out.dead_letter,
            out.policy,
        )
    # a superseded copy is older than what the index holds, which is matched on its own
    skipped = {i for i, _ in report.rejected + report.deferred} | set(report.superseded)
    matched = await matcher.match([a for a in articles if a.id not in skipped], report.indices)
    pending = [
        await out.alerts.send(key=a.rule_id.encode(), value=a.to_json(), force=True)
        for a in matched.events
    ]
    pending += [
        await out.volume.send(
            key=rule_id.encode(),
            value=VolumeCount(rule_id=rule_id, count=n).to_json(),
            force=True,
        )
        for rule_id, n in matched.volume.items()
    ]
    await asyncio.gather(*pending)
    INDEXED.labels("indexed").inc(report.indexed)
    INDEXED.labels("rejected").inc(len(report.rejected))
    INDEXED.labels("superseded").inc(len(report.superseded))
    INDEX_RETRIES.inc(report.retries)
    ALERTS_MATCHED.labels("match").inc(len(matched.events))
    INDEX_BATCH.observe(time.monotonic() - started)
    log.info(
        "index batch=%d indexed=%d rejected=%d deferred=%d retries=%d alerts=%d superseded=%d",
        len(events),
        report.indexed,
        len(report.rejected),
        len(report.deferred),
        report.retries,
        len(matched.events),
        len(report.superseded),
    )
