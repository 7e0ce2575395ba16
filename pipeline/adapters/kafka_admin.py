"""Kafka administration: the declared topics, and offsets and consumer lag per partition."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from pipeline import topics
from pipeline.adapters.kafka import client_options, partitions_of, start_client
from pipeline.settings import Settings


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every declared topic that does not exist yet; returns those it created."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await start_client(admin, settings)
    try:
        existing = set(await admin.list_topics())
        declared = topics.names(settings)
        wanted = [name for name in declared.values() if name not in existing]
        if wanted:
            logical = {actual: name for name, actual in declared.items()}
            new = [
                NewTopic(n, topics.partitions(logical[n], settings), settings.topic_replication)
                for n in wanted
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile
                await admin.create_topics(new)
        return wanted
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    topic: str
    partition: int
    start: int  # oldest offset still held
    end: int  # next offset to be written
    committed: int | None  # the consumer group's position, None if it never committed

    @property
    def messages(self) -> int:
        return self.end - self.start

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(0, self.end - self.committed)


async def partition_offsets(
    settings: Settings, topic_names: list[str], group: str | None = None
) -> list[PartitionOffsets]:
    """Held offsets per partition of the existing `topic_names`, and `group`'s committed
    position on each (consumer lag = end - committed)."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await start_client(admin, settings)
    await start_client(consumer, settings)
    try:
        existing = set(await admin.list_topics())
        parts = [
            TopicPartition(t, p)
            for t in topic_names
            if t in existing
            for p in sorted(consumer.partitions_for_topic(t) or await partitions_of(consumer, t))
        ]
        if not parts:
            return []
        starts = await consumer.beginning_offsets(parts)
        ends = await consumer.end_offsets(parts)
        committed: dict[TopicPartition, Any] = {}
        if group:
            committed = await admin.list_consumer_group_offsets(group, partitions=parts)
        rows = []
        for tp in parts:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            rows.append(PartitionOffsets(tp.topic, tp.partition, starts[tp], ends[tp], offset))
        return rows
    finally:
        await consumer.stop()
        await admin.close()
