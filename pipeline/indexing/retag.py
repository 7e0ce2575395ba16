"""Re-tag what is already indexed with the taxonomy as it is now: page through the articles
(a point in time, so a busy index neither hides nor repeats documents), tag title and text
again in the language they were detected in, and write back only what changed.

Each write is conditional on the version the document was read at (external_gte with the
same version): a newer copy the worker wrote meanwhile wins, and is counted, not lost.
Running it twice changes nothing the second time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.indexing import scan
from pipeline.indexing.bulk import to_es_document
from pipeline.schema import EnrichedArticle
from pipeline.stages.tagging import Tagger, TopicMatch


@dataclass
class RetagReport:
    seen: int = 0
    changed: int = 0
    newer_meanwhile: int = 0  # a newer copy was written while we read: it stands
    failed: list[tuple[str, str]] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=dict)  # topic -> documents that gained it
    removed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "changed": self.changed,
            "newer_meanwhile": self.newer_meanwhile,
            "failed": len(self.failed),
            "added": self.added,
            "removed": self.removed,
        }


def retagged(article: EnrichedArticle, match: TopicMatch, only: str | None) -> EnrichedArticle:
    """The article with the new decision (for one topic only, if `only`)."""
    if only is None:
        topics, scores, evidence = match.topics, match.scores, match.evidence
    else:
        topics = [t for t in article.topics if t != only]
        scores = {k: v for k, v in article.topic_scores.items() if k != only}
        evidence = {k: v for k, v in article.topic_evidence.items() if k != only}
        if only in match.topics:
            topics.append(only)
            scores[only] = match.scores[only]
            evidence[only] = match.evidence[only]
    return article.model_copy(
        update={"topics": topics, "topic_scores": scores, "topic_evidence": evidence}
    )


def _query(since: datetime | None) -> dict[str, Any]:
    if since is None:
        return {"match_all": {}}
    return {"range": {"fetched_at": {"gte": since.isoformat()}}}


async def count(es: AsyncElasticsearch, alias: str, since: datetime | None) -> int:
    resp = await es.count(index=alias, query=_query(since))
    return int(resp["count"])


async def retag(
    es: AsyncElasticsearch,
    alias: str,
    tagger: Tagger,
    *,
    since: datetime | None = None,
    topic: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> RetagReport:
    report = RetagReport()
    async for hits in scan.hits_of(es, alias, _query(since)):
        writes = _changes(hits, tagger, topic, report)
        if writes and not dry_run:
            written = scan.Written()
            await scan.write(es, writes, written)
            report.changed -= written.newer_meanwhile
            report.newer_meanwhile += written.newer_meanwhile
            report.failed += written.failed
        progress(len(hits))
    return report


def _changes(
    hits: list[dict[str, Any]], tagger: Tagger, topic: str | None, report: RetagReport
) -> list[dict[str, Any]]:
    writes = []
    for hit in hits:
        report.seen += 1
        source = hit["_source"]
        article = EnrichedArticle.model_validate({**source, "id": hit["_id"]})
        new = retagged(article, tagger.tag(article.title, article.text, article.lang), topic)
        if (new.topics, new.topic_scores) == (article.topics, article.topic_scores):
            continue
        report.changed += 1
        for t in set(new.topics) - set(article.topics):
            report.added[t] = report.added.get(t, 0) + 1
        for t in set(article.topics) - set(new.topics):
            report.removed[t] = report.removed.get(t, 0) + 1
        writes.append(scan.rewrite(hit, to_es_document(new)))
    return writes
