"""Agent: articles.raw -> enrichment core -> articles.enriched."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from pipeline.agents.deadletter import dead_letter
from pipeline.agents.events import as_current, unacked_unless_done
from pipeline.app import app, enriched_topic, raw_dlq_topic, raw_topic, settings, stories_table
from pipeline.errors import BadRecordError
from pipeline.metrics import ENRICHED
from pipeline.schema import RawArticle
from pipeline.stages.dedupe import StoryIndex
from pipeline.stages.enrich import Enricher

log = logging.getLogger(__name__)
_enricher: Enricher | None = None


def enricher() -> Enricher:
    """Built at the first batch, when the stories table has been recovered."""
    global _enricher
    if _enricher is None:
        _enricher = Enricher.from_path(settings.taxonomy_path, StoryIndex(stories_table))
    return _enricher


def parse_raw(payload: bytes | None) -> RawArticle:
    if not payload:
        raise BadRecordError("empty message")
    try:
        raw: RawArticle = RawArticle.from_json(payload)
    except ValidationError as exc:
        raise BadRecordError(f"not a raw-article record: {exc.errors()[:3]}") from exc
    return raw


@app.agent(raw_topic)
async def enrich_articles(stream: Any) -> None:
    async for events in stream.take_events(200, within=0.5):
        with unacked_unless_done(events):
            pending = []
            for event in events:
                try:
                    as_current(event)
                    article = enricher().enrich(parse_raw(event.value))
                except BadRecordError as exc:
                    await dead_letter(raw_dlq_topic, event, "enrich", exc)
                    continue
                except Exception as exc:  # a bug on one article must not stop the stream
                    log.exception("enrich failed offset=%s", event.message.offset)
                    await dead_letter(raw_dlq_topic, event, "enrich", exc)
                    continue
                pending.append(
                    await enriched_topic.send(
                        key=article.id.encode(), value=article.to_json(), force=True
                    )
                )
            # The batch is acknowledged (offsets may advance) only once Kafka holds every output.
            await asyncio.gather(*pending)
            ENRICHED.labels("ok").inc(len(pending))
            log.info("enrich batch=%d published=%d", len(events), len(pending))
