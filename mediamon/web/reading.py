"""What the page reads from Elasticsearch: the newest stories for a set of filters (copies
folded under their story), the counters and chart data beside them, one article with its
evidence and its story's other copies, and the articles indexed since a moment (the live
feed). The query itself is pipeline/query.py's, as for `mediamon search` and the rules."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError

from mediamon.web.filters import Filters

ROW_FIELDS = [
    "title", "url", "domain", "source_name", "lang", "topics", "published", "story_id",
    "indexed_at", "fetched_at", "content_from",
]  # fmt: skip
NEWEST = [
    {"published": {"order": "desc", "unmapped_type": "date"}},
    {"indexed_at": {"order": "desc", "unmapped_type": "date"}},
]


def web_link(url: object) -> str:
    """`url` when it is a web link, else "": a feed can say javascript:, data:, anything."""
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else ""


def row(hit: dict[str, Any]) -> dict[str, Any]:
    """An article as the page shows it in a list (and as the live feed sends it)."""
    source = hit.get("_source", {})
    url = str(source.get("url") or "")
    return {
        "id": hit["_id"],
        "title": str(source.get("title") or "(no title)"),
        "url": web_link(url),
        "source": str(source.get("source_name") or source.get("domain") or ""),
        "domain": str(source.get("domain") or ""),
        "lang": str(source.get("lang") or ""),
        "topics": [str(t) for t in source.get("topics") or []],
        "published": source.get("published") or source.get("fetched_at"),
        "indexed_at": source.get("indexed_at"),
        "story_id": str(source.get("story_id") or hit["_id"]),
        "full_text": source.get("content_from") == "page",
    }


@dataclass
class Front:
    stories: list[dict[str, Any]] = field(default_factory=list)  # a row + "copies"
    articles: int = 0
    story_count: int = 0
    last_day: int = 0
    topics: list[tuple[str, int]] = field(default_factory=list)
    langs: list[tuple[str, int]] = field(default_factory=list)
    sources: list[tuple[str, int]] = field(default_factory=list)
    # (bucket start, {topic: articles}) in time order
    over_time: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    newest_indexed: str | None = None  # where the live feed starts


async def front(es: AsyncElasticsearch, alias: str, filters: Filters, size: int = 50) -> Front:
    """Two round trips: the stories with the counters and bars, then (at once) their copies
    and the chart over time. Copies come from one aggregation over the page's story ids:
    collapse's inner_hits would run one more search per row."""
    try:
        resp: Any = await es.search(
            index=alias,
            query=filters.query(),
            size=size,
            sort=NEWEST,
            source_includes=ROW_FIELDS,
            track_total_hits=True,
            collapse={"field": "story_id"},  # one row per story: its newest copy
            aggs={
                "stories": {"cardinality": {"field": "story_id"}},
                "last_day": {"filter": {"range": {"indexed_at": {"gte": "now-24h"}}}},
                "newest_indexed": {"max": {"field": "indexed_at"}},
                "topics": {"terms": {"field": "topics", "size": 12}},
                "langs": {"terms": {"field": "lang", "size": 12}},
                "sources": {"terms": {"field": "domain", "size": 10}},
                "first": {"min": {"field": "published"}},
                "last": {"max": {"field": "published"}},
            },
        )
    except NotFoundError:  # nothing indexed yet: no index behind the alias
        return Front()
    aggs = resp["aggregations"]
    stories = [row(hit) for hit in resp["hits"]["hits"]]
    copies, over_time = await asyncio.gather(
        _copies(es, alias, filters, [s["story_id"] for s in stories]),
        _over_time(es, alias, filters, aggs["first"], aggs["last"]),
    )
    for story in stories:
        count, rows = copies.get(story["story_id"], (1, []))
        story["copy_count"] = count
        story["copies"] = [c for c in rows if c["id"] != story["id"]][:5]
    newest = aggs["newest_indexed"].get("value_as_string")
    return Front(
        stories=stories,
        articles=int(resp["hits"]["total"]["value"]),
        story_count=int(aggs["stories"]["value"]),
        last_day=int(aggs["last_day"]["doc_count"]),
        topics=_pairs(aggs["topics"]),
        langs=_pairs(aggs["langs"]),
        sources=_pairs(aggs["sources"]),
        over_time=over_time,
        newest_indexed=str(newest) if newest else None,
    )


async def _copies(
    es: AsyncElasticsearch, alias: str, filters: Filters, story_ids: list[str]
) -> dict[str, tuple[int, list[dict[str, Any]]]]:
    """Per story on the page: how many of its copies match the filters, and the newest."""
    if not story_ids:
        return {}
    query = filters.query()
    query["bool"]["filter"].append({"terms": {"story_id": story_ids}})
    resp: Any = await es.search(
        index=alias,
        query=query,
        size=0,
        aggs={
            "story": {
                "terms": {"field": "story_id", "size": len(story_ids), "min_doc_count": 2},
                "aggs": {
                    "newest": {"top_hits": {"size": 6, "sort": NEWEST, "_source": ROW_FIELDS}}
                },
            }
        },
    )
    return {
        str(b["key"]): (int(b["doc_count"]), [row(h) for h in b["newest"]["hits"]["hits"]])
        for b in resp["aggregations"]["story"]["buckets"]
    }


# (seconds, Elasticsearch interval) from fine to coarse: the first giving <= 40 buckets
_INTERVALS = [
    (60, {"fixed_interval": "1m"}), (300, {"fixed_interval": "5m"}),
    (900, {"fixed_interval": "15m"}), (3600, {"fixed_interval": "1h"}),
    (3 * 3600, {"fixed_interval": "3h"}), (6 * 3600, {"fixed_interval": "6h"}),
    (86400, {"fixed_interval": "1d"}), (7 * 86400, {"calendar_interval": "week"}),
    (31 * 86400, {"calendar_interval": "month"}), (92 * 86400, {"calendar_interval": "quarter"}),
    (366 * 86400, {"calendar_interval": "year"}),
]  # fmt: skip
MAX_BUCKETS = 40


async def _over_time(
    es: AsyncElasticsearch,
    alias: str,
    filters: Filters,
    first: dict[str, Any],
    last: dict[str, Any],
) -> list[tuple[str, dict[str, int]]]:
    """Articles per interval between the first and the last publication date, in all and
    per topic (the integ-test distribution has no auto_date_histogram: the interval is
    chosen here from the span)."""
    if first.get("value") is None or last.get("value") is None:
        return []
    span = (float(last["value"]) - float(first["value"])) / 1000
    interval = next((i for sec, i in _INTERVALS if span / sec <= MAX_BUCKETS), _INTERVALS[-1][1])
    resp: Any = await es.search(
        index=alias,
        query=filters.query(),
        size=0,
        aggs={
            "over_time": {
                "date_histogram": {"field": "published", "min_doc_count": 0, **interval},
                "aggs": {"topics": {"terms": {"field": "topics", "size": 6}}},
            }
        },
    )
    return [
        (b["key_as_string"], dict(_pairs(b["topics"])) | {"": b["doc_count"]})
        for b in resp["aggregations"]["over_time"]["buckets"]
    ]


def _pairs(agg: dict[str, Any]) -> list[tuple[str, int]]:
    return [(str(b["key"]), int(b["doc_count"])) for b in agg.get("buckets", [])]


async def indexed_since(
    es: AsyncElasticsearch, alias: str, filters: Filters, after: str, size: int = 50
) -> list[dict[str, Any]]:
    """Articles matching `filters` indexed at or after `after` (ISO time), oldest first."""
    query = filters.query()
    query["bool"]["filter"].append({"range": {"indexed_at": {"gte": after}}})
    resp: Any = await es.search(
        index=alias,
        query=query,
        size=size,
        sort=[{"indexed_at": {"order": "asc"}}],
        source_includes=ROW_FIELDS,
    )
    return [row(hit) for hit in resp["hits"]["hits"]]


@dataclass
class Article:
    row: dict[str, Any]
    text: str
    evidence: dict[str, list[dict[str, Any]]]
    copies: list[dict[str, Any]]
    page_problem: str | None


async def article(es: AsyncElasticsearch, alias: str, article_id: str) -> Article | None:
    resp: Any = await es.search(
        index=alias,
        query={"ids": {"values": [article_id]}},
        size=1,
        source_includes=[*ROW_FIELDS, "text", "topic_evidence", "page_problem"],
    )
    hits = resp["hits"]["hits"]
    if not hits:
        return None
    hit = hits[0]
    found = row(hit)
    copies: Any = await es.search(
        index=alias,
        query={
            "bool": {
                "filter": [{"term": {"story_id": found["story_id"]}}],
                "must_not": [{"ids": {"values": [article_id]}}],
            }
        },
        size=20,
        sort=NEWEST,
        source_includes=ROW_FIELDS,
    )
    source = hit["_source"]
    return Article(
        row=found,
        text=str(source.get("text") or ""),
        evidence=source.get("topic_evidence") or {},
        copies=[row(c) for c in copies["hits"]["hits"]],
        page_problem=source.get("page_problem"),
    )


def marked(
    text: str, evidence: dict[str, list[dict[str, Any]]], field_name: str
) -> list[tuple[str, str | None]]:
    """`text` cut into (piece, topic or None): each topic's evidence in `field_name` marked,
    overlaps resolved in favour of the earlier mark. The template escapes every piece."""
    spans = []
    for topic, items in evidence.items():
        for item in items:
            if item.get("field", "text") != field_name:
                continue
            start, end = item.get("start"), item.get("end")
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
                spans.append((start, end, topic))
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for start, end, topic in sorted(spans):
        if start < at:
            continue
        if start > at:
            pieces.append((text[at:start], None))
        pieces.append((text[start:end], topic))
        at = end
    if at < len(text):
        pieces.append((text[at:], None))
    return pieces


def parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


ALERT_TEXT_FIELDS = (
    "rule_id", "rule_name", "article_id", "title", "source_name", "lang", "status",
    "handled_at", "matched_at", "error", "kind",
)  # fmt: skip


async def recent_alerts(
    es: AsyncElasticsearch, index: str, size: int = 100
) -> tuple[list[dict[str, Any]], list[tuple[str, str, int]]]:
    """The newest alert records, and (rule, status, count) over all of them."""
    if not await es.indices.exists(index=index):
        return [], []
    resp: Any = await es.search(
        index=index,
        size=size,
        sort=[{"handled_at": {"order": "desc", "unmapped_type": "date"}}],
        source_includes=[*ALERT_TEXT_FIELDS, "url", "channels"],
        aggs={
            "rules": {
                "terms": {"field": "rule_id", "size": 100},
                "aggs": {"status": {"terms": {"field": "status", "size": 10}}},
            }
        },
    )  # fmt: skip
    alerts = []
    for hit in resp["hits"]["hits"]:
        src = hit["_source"]
        url = str(src.get("url") or "")
        alerts.append(
            {
                **{k: str(src.get(k) or "") for k in ALERT_TEXT_FIELDS},
                "url": web_link(url),
                "channels": [str(c) for c in src.get("channels") or []],
            }
        )
    counts = [
        (str(rule["key"]), str(status["key"]), int(status["doc_count"]))
        for rule in resp["aggregations"]["rules"]["buckets"]
        for status in rule["status"]["buckets"]
    ]
    return alerts, counts
