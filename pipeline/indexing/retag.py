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
from elasticsearch.helpers import async_streaming_bulk

from pipeline.indexing.bulk import to_es_document
from pipeline.schema import EnrichedArticle
from pipeline.stages.tagging import Tagger, TopicMatch

PAGE = 500


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
    pit = await es.open_point_in_time(index=alias, keep_alive="2m")
    pit_id = pit["id"]
    after: list[Any] | None = None
    try:
        while True:
            page = await es.search(
                pit={"id": pit_id, "keep_alive": "2m"},
                query=_query(since),
                sort=["_shard_doc"],
                size=PAGE,
                version=True,
                search_after=after,
            )
            pit_id = page.get("pit_id", pit_id)
            hits = page["hits"]["hits"]
            if not hits:
                return report
            after = hits[-1]["sort"]
            writes = _changes(hits, tagger, topic, report)
            if writes and not dry_run:
                await _write(es, writes, report)
            progress(len(hits))
    finally:
        await es.close_point_in_time(id=pit_id)


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
        doc = to_es_document(new)
        doc["indexed_at"] = source.get("indexed_at", doc["indexed_at"])
        writes.append(
            {
                "_op_type": "index",
                "_index": hit["_index"],
                "_id": hit["_id"],
                "_source": doc,
                "version": hit["_version"],
                "version_type": "external_gte",
            }
        )
    return writes


async def _write(
    es: AsyncElasticsearch, actions: list[dict[str, Any]], report: RetagReport
) -> None:
    async for ok, item in async_streaming_bulk(
        es, actions, raise_on_error=False, raise_on_exception=False, max_retries=3
    ):
        if ok:
            continue
        result = next(iter(item.values()))
        if result.get("status") == 409:
            report.changed -= 1
            report.newer_meanwhile += 1
        else:
            report.failed.append((str(result.get("_id")), str(result.get("error"))[:200]))
