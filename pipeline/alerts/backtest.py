"""What rules would have matched among the articles already indexed: `mediamon rules test`
and the live page's alerts view both ask this, with the rules' own query translation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.alerts.rules import KeywordRule, VolumeRule
from pipeline.query import article_query


async def rule_matches(
    es: AsyncElasticsearch,
    alias: str,
    rules: Sequence[KeywordRule | VolumeRule],
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Per rule, its newest `limit` matches published since `since`, newest first."""
    rows: list[dict[str, Any]] = []
    for rule in rules:
        resp = await es.search(
            index=alias,
            query=article_query(
                rule.query,
                topics=rule.topics,
                langs=rule.languages,
                feeds=rule.feeds,
                since=since,
            ),
            size=limit,
            sort=[{"published": {"order": "desc", "unmapped_type": "date"}}],
            source_includes=["title", "url", "published", "source_name", "lang"],
        )
        for hit in resp["hits"]["hits"]:
            src = hit["_source"]
            rows.append(
                {
                    "rule": rule.id,
                    "id": hit["_id"],
                    "published": src.get("published"),
                    "title": src.get("title"),
                    "url": src.get("url"),
                    "source": src.get("source_name"),
                    "lang": src.get("lang"),
                }
            )
    return rows
