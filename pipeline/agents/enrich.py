"""Agent: articles.raw -> enrichment core -> articles.tagged (story ids: agents/stories.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from pydantic import ValidationError

from pipeline import topics
from pipeline.agents.deadletter import dead_letter
from pipeline.agents.events import as_current, unacked_unless_done
from pipeline.app import Wiring
from pipeline.errors import BadRecordError, ConfigError
from pipeline.metrics import ENRICHED, TAXONOMY_RELOADS
from pipeline.schema import RawArticle
from pipeline.stages.enrich import Enricher
from pipeline.taxonomy.watch import TaxonomyWatch

log = logging.getLogger(__name__)


def parse_raw(payload: bytes | None) -> RawArticle:
    if not payload:
        raise BadRecordError("empty message")
    try:
        raw: RawArticle = RawArticle.from_json(payload)
    except ValidationError as exc:
        raise BadRecordError(f"not a raw-article record: {exc.errors()[:3]}") from exc
    return raw


def register(w: Wiring) -> None:
    stage = topics.stage("enrich")
    output, dlq = w.topic(stage.outputs[0]), w.topic(stage.dead_letter or "")
    enrichers: list[Enricher] = []
    watch = TaxonomyWatch(w.settings.taxonomy_path, w.settings.taxonomy_check_seconds)
    w.health.action("reload", watch.request)

    def enricher() -> Enricher:
        """Built at the first batch. Story ids come later, from the group stage."""
        if not enrichers:
            enrichers.append(Enricher.from_path(w.settings.taxonomy_path, group=False))
        return enrichers[0]

    async def reload() -> None:
        """Between batches: build the new tagger off the event loop, then swap it in. A
        taxonomy that does not load keeps the running one (and says why)."""
        if not enrichers:
            return  # the first batch reads the file as it is now
        try:
            fresh = await asyncio.get_running_loop().run_in_executor(
                None, Enricher.reload, watch.path, enrichers[0]
            )
        except (ConfigError, OSError) as exc:
            TAXONOMY_RELOADS.labels("refused").inc()
            log.error("taxonomy reload refused, keeping the running taxonomy: %s", exc)
            return
        enrichers[:] = [fresh]
        TAXONOMY_RELOADS.labels("ok").inc()
        log.info("taxonomy reloaded from %s: %s", watch.path, ", ".join(fresh.tagger.topic_ids))

    @w.app.agent(w.topic(stage.input), name="enrich_articles")
    async def enrich_articles(stream: Any) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off Unix
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, watch.request)
        async for events in stream.take_events(200, within=0.5):
            if watch.due():
                await reload()
            with unacked_unless_done(events):
                pending = []
                for event in events:
                    try:
                        as_current(event)
                        article = enricher().enrich(parse_raw(event.value))
                    except BadRecordError as exc:
                        await dead_letter(dlq, event, "enrich", exc)
                        continue
                    except Exception as exc:  # a bug on one article must not stop the stream
                        log.exception("enrich failed offset=%s", event.message.offset)
                        await dead_letter(dlq, event, "enrich", exc)
                        continue
                    pending.append(
                        await output.send(
                            key=article.id.encode(), value=article.to_json(), force=True
                        )
                    )
                # The batch is acknowledged (offsets may advance) only once Kafka holds
                # every output.
                await asyncio.gather(*pending)
                ENRICHED.labels("ok").inc(len(pending))
                log.info("enrich batch=%d published=%d", len(events), len(pending))
