"""Agent: articles.tagged (one partition) -> story ids -> articles.enriched.

Every article passes this one partition, so two copies of a story meet here whichever
worker enriched them. The story index (a numpy ring over the table) is rebuilt from the
table after every rebalance: the partition may have been owned by another worker meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pipeline import topics
from pipeline.agents.deadletter import parse_or_dead_letter
from pipeline.agents.events import as_current, unacked_unless_done
from pipeline.app import Wiring
from pipeline.metrics import GROUPED
from pipeline.schema import EnrichedArticle
from pipeline.stages.dedupe import StoryIndex, assign_story

log = logging.getLogger(__name__)


def register(w: Wiring) -> None:
    stage = topics.stage("group")
    output, dlq = w.topic(stage.outputs[0]), w.topic(stage.dead_letter or "")
    built: dict[str, Any] = {}  # the index and the rebalance it was built after

    def index() -> StoryIndex:
        """Built at the first batch after each rebalance, when the table has been recovered."""
        generation = w.app.rebalancing_count
        if built.get("generation") != generation:
            built["index"] = StoryIndex(w.stories)
            built["generation"] = generation
            log.info("story index built from %d remembered articles", len(w.stories))
        story_index: StoryIndex = built["index"]
        return story_index

    @w.app.agent(w.topic(stage.input), name="group_stories")
    async def group_stories(stream: Any) -> None:
        async for events in stream.take_events(500, within=0.2):
            with unacked_unless_done(events):
                stories = index()
                pending, copies = [], 0
                for event in events:
                    article = await parse_or_dead_letter(event, EnrichedArticle, dlq, "group")
                    if article is None:
                        continue
                    as_current(event)  # the table write goes to this event's partition
                    grouped = assign_story(article, stories)
                    copies += grouped.story_id != grouped.id
                    pending.append(
                        await output.send(
                            key=grouped.id.encode(), value=grouped.to_json(), force=True
                        )
                    )
                # offsets advance only once Kafka holds every output of the batch
                await asyncio.gather(*pending)
                GROUPED.labels("copy").inc(copies)
                GROUPED.labels("new").inc(len(pending) - copies)
                log.info("group batch=%d published=%d copies=%d", len(events), len(pending), copies)
