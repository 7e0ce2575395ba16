"""Reading a Kafka topic back from the start in integration and fault tests: a consumer with
no group (nothing committed, nothing shared between tests), polled one of three ways."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer

from pipeline.settings import Settings

# aiokafka's ConsumerRecord (key, value, headers, ...): aiokafka ships no type information
Record = Any


@asynccontextmanager
async def topic_consumer(settings: Settings, topic: str) -> AsyncIterator[Any]:
    """A started consumer of `topic` from its earliest offset, with no consumer group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


def _records(batch: dict[Any, list[Record]]) -> list[Record]:
    return [record for records in batch.values() for record in records]


async def poll_once(settings: Settings, topic: str, timeout_ms: int) -> list[Record]:
    """What one poll returns (a first batch: possibly not everything there is)."""
    async with topic_consumer(settings, topic) as consumer:
        return _records(await consumer.getmany(timeout_ms=timeout_ms))


async def read_until_idle(settings: Settings, topic: str, idle_ms: int) -> list[Record]:
    """Every record, polling until a poll of `idle_ms` brings nothing."""
    out: list[Record] = []
    async with topic_consumer(settings, topic) as consumer:
        while batch := await consumer.getmany(timeout_ms=idle_ms):
            out.extend(_records(batch))
    return out


async def read_at_least(
    settings: Settings, topic: str, count: int, within: float, poll_ms: int = 1000
) -> list[Record]:
    """Records until there are `count` of them or `within` seconds have passed (the caller
    checks how many it got)."""
    out: list[Record] = []
    async with topic_consumer(settings, topic) as consumer:
        deadline = time.monotonic() + within
        while len(out) < count and time.monotonic() < deadline:
            out.extend(_records(await consumer.getmany(timeout_ms=poll_ms)))
    return out
