"""Agent: articles.enriched -> Elasticsearch bulk index (document id = article id)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError
from pydantic import ValidationError

from pipeline.adapters.elastic import bulk_index, make_client, write_index
from pipeline.agents.deadletter import dead_letter
from pipeline.app import app, enriched_dlq_topic, enriched_topic, settings
from pipeline.errors import BadRecordError
from pipeline.schema import EnrichedArticle

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0


async def _index_until_held(
    es: Any, docs: dict[str, tuple[Any, dict[str, Any]]]
) -> list[tuple[Any, str]]:
    """Retry (capped exponential backoff) until Elasticsearch holds or rejects every doc."""
    delay = 0.5
    rejected: list[tuple[Any, str]] = []
    index = write_index(settings)
    while docs:
        try:
            outcome = await bulk_index(es, index, [(i, d) for i, (_, d) in docs.items()])
        except (ESConnectionError, ConnectionTimeout, ApiError) as exc:
            log.warning("bulk failed, retrying in %.1fs: %s", delay, type(exc).__name__)
        else:
            retry_ids = {r["id"] for r in outcome.retry}
            for doc, reason in outcome.rejected:
                rejected.append((docs[str(doc.get("id"))][0], reason))
            docs = {i: v for i, v in docs.items() if i in retry_ids}
            if not docs:
                break
            log.warning("bulk: %d documents to retry in %.1fs", len(docs), delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF)
    return rejected


@app.agent(enriched_topic)
async def index_articles(stream: Any) -> None:
    es = make_client(settings)
    try:
        async for events in stream.take_events(
            settings.index_batch_size, within=settings.index_batch_seconds
        ):
            docs: dict[str, tuple[Any, dict[str, Any]]] = {}
            for event in events:
                try:
                    article = EnrichedArticle.from_json(event.value or b"")
                except (ValidationError, BadRecordError) as exc:
                    await dead_letter(enriched_dlq_topic, event, "index", BadRecordError(str(exc)))
                    continue
                docs[article.id] = (event, article.to_document())
            rejected = await _index_until_held(es, docs)
            for event, reason in rejected:
                await dead_letter(enriched_dlq_topic, event, "index", BadRecordError(reason))
            log.info(
                "index batch=%d indexed=%d rejected=%d",
                len(events),
                len(docs) - len(rejected),
                len(rejected),
            )
    finally:
        await es.close()
