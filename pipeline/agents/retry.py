"""Agents: each retry topic -> its stage's topic, once the message is due.

A message waits here, not in its stage, so a slow retry never holds a partition of the
stage: the rest of the stream flows past it. Waiting blocks only this retry partition, and
messages arrive roughly in due order (the same backoff per attempt, capped), so the wait is
short for the ones behind. The message goes back unchanged with its attempt headers; its
offset here advances once the stage's topic holds it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pipeline import topics
from pipeline.app import Wiring
from pipeline.failures import attempt_of, due_in

log = logging.getLogger(__name__)


async def _send_back(stream: Any, target: Any, max_wait: float) -> None:
    async for event in stream.events():
        headers = event.message.headers
        wait = min(due_in(headers), max_wait)
        if wait > 0:
            await asyncio.sleep(wait)
        fut = await target.send(
            key=event.message.key, value=event.message.value, headers=headers, force=True
        )
        await fut
        log.info("retry: back to %s, attempt %d", target.get_topic_name(), attempt_of(headers))


def register(w: Wiring) -> None:
    """One agent per retry stage of the topology (retry-index, retry-alerts)."""
    for name in ("retry-index", "retry-alerts"):
        stage = topics.stage(name)
        target = w.topic(stage.outputs[0])

        async def send_back(stream: Any, target: Any = target) -> None:
            await _send_back(stream, target, w.settings.retry_max_seconds)

        w.app.agent(w.topic(stage.input), name=name.replace("-", "_"))(send_back)
