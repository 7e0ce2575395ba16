"""One picture of a running pipeline: services, consumer lag, indices, dead letters, feeds.

Each part is collected on its own, so a server that is down shows as down (with the reason)
instead of hiding the parts that still answer."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError

from connectors.state import StateStore
from pipeline import topics
from pipeline.adapters.elastic import describe_error, make_client
from pipeline.adapters.kafka import broker_ready, refusal
from pipeline.adapters.kafka_admin import partition_offsets
from pipeline.alerts.rules import rules_summary
from pipeline.settings import Settings

log = logging.getLogger(__name__)

DLQ_TOPICS = topics.DEAD_LETTERS
CONSUMED_TOPICS = topics.CONSUMED


@dataclass
class Status:
    services: list[dict[str, Any]] = field(default_factory=list)
    lag: list[dict[str, Any]] = field(default_factory=list)
    indices: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    feeds: dict[str, Any] | None = None
    last_alert: dict[str, Any] | None = None
    alerts_failed: int = 0
    pages: dict[str, Any] | None = None
    rules: str = ""  # "alerts: N rule(s) enabled from FILE" or "alerts: no rules (why)"

    @property
    def healthy(self) -> bool:
        return all(s["reachable"] for s in self.services)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


async def _kafka(settings: Settings, status: Status) -> None:
    if not await broker_ready(settings.kafka_bootstrap, settings=settings):
        # a refused login or certificate is a settings problem, not an outage: say which
        why = await refusal(settings)
        status.services.append(
            {"service": "kafka", "reachable": False, "detail": why or settings.kafka_bootstrap}
        )
        return
    status.services.append(
        {"service": "kafka", "reachable": True, "detail": settings.kafka_bootstrap}
    )
    consumed = [settings.topic(t) for t in CONSUMED_TOPICS]
    for row in await partition_offsets(settings, consumed, group=settings.app_id):
        status.lag.append(
            {
                "topic": row.topic,
                "partition": row.partition,
                "end": row.end,
                "committed": row.committed,
                "lag": row.lag if row.committed is not None else row.messages,
            }
        )
    dlqs = [settings.topic(t) for t in DLQ_TOPICS]
    counts = dict.fromkeys(dlqs, 0)
    for row in await partition_offsets(settings, dlqs):
        counts[row.topic] += row.messages
    status.dead_letters = counts


async def _elasticsearch(settings: Settings, status: Status) -> None:
    es = make_client(settings)
    try:
        health = await es.cluster.health(timeout="2s")
        status.services.append(
            {"service": "elasticsearch", "reachable": True, "detail": health["status"]}
        )
        resp = await es.cat.indices(
            index=f"{settings.articles_alias}-*", format="json", bytes="b", s="index"
        )
        rows: list[dict[str, Any]] = resp.body if isinstance(resp.body, list) else []
        status.indices = [
            {
                "index": r["index"],
                "docs": int(r.get("docs.count") or 0),
                "size_bytes": int(r.get("store.size") or 0),
                "health": r.get("health"),
            }
            for r in rows
        ]
        if rows:
            status.pages = await _pages(es, settings)
        if await es.indices.exists(index=settings.alerts_index):
            latest = await es.search(
                index=settings.alerts_index,
                size=1,
                sort=[{"handled_at": {"order": "desc"}}],
                source_includes=["rule_id", "title", "status", "handled_at"],
                aggs={"failed": {"filter": {"term": {"status": "failed"}}}},
            )
            hits = latest["hits"]["hits"]
            status.last_alert = hits[0]["_source"] if hits else None
            status.alerts_failed = int(latest["aggregations"]["failed"]["doc_count"])
    except (ApiError, TransportError) as exc:
        status.services.append(
            {
                "service": "elasticsearch",
                "reachable": False,
                "detail": describe_error(exc, settings),
            }
        )
    finally:
        await es.close()


PAGES_SINCE = "24h"


async def _pages(es: Any, settings: Settings) -> dict[str, Any]:
    """How the fetch stage fared on what was indexed in the last day: read from the index,
    so it answers whether or not the connector runs on this machine."""
    resp = await es.search(
        index=settings.articles_alias,
        size=0,
        track_total_hits=True,
        query={"range": {"indexed_at": {"gte": f"now-{PAGES_SINCE}"}}},
        aggs={
            "from": {"terms": {"field": "content_from", "size": 5}},
            "problems": {"terms": {"field": "page_problem", "size": 30}},
        },
    )
    aggs = resp["aggregations"]
    source = {b["key"]: b["doc_count"] for b in aggs["from"]["buckets"]}
    return {
        "since": PAGES_SINCE,
        "articles": int(resp["hits"]["total"]["value"]),
        "full_text_from_page": source.get("page", 0),
        "feed_text_only": source.get("feed", 0),
        "page_problems": {b["key"]: b["doc_count"] for b in aggs["problems"]["buckets"]},
    }


def _feeds(settings: Settings, status: Status) -> None:
    if not settings.connector_state_file.exists():
        return
    store = StateStore(settings.connector_state_file)
    try:
        states = store.all_feeds()
    finally:
        store.close()
    failing = [s for s in states if s.consecutive_failures]
    status.feeds = {
        "feeds": len(states),
        "failing": len(failing),
        "failing_ids": [s.feed_id for s in failing][:20],
        "items_emitted": sum(s.items_emitted for s in states),
        "last_success": max((s.last_success or "" for s in states), default="") or None,
    }


async def collect(settings: Settings) -> Status:
    status = Status()
    await _kafka(settings, status)
    await _elasticsearch(settings, status)
    _feeds(settings, status)
    status.rules = rules_summary(settings.rules_file)[1]
    return status
