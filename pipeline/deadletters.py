"""Dead letters as the CLI and tests read them: every message of a dead-letter topic with its
headers (stage, error, source; written by pipeline/agents/deadletter.py), and a consumer
group's record of which ones were replayed."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.adapters.kafka import client_options, partitions_of, start_client
from pipeline.settings import Settings


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def ref(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def source_topic(self) -> str | None:
        source = self.headers.get("mediamon-source", "")
        return source.rsplit("/", 2)[0] if source.count("/") >= 2 else None


async def read_topic(
    settings: Settings,
    topic: str,
    *,
    since_ms: int | None = None,
    group: str | None = None,
    idle_ms: int = 1500,
) -> list[DeadLetter]:
    """Every message of `topic` from `since_ms` (or from `group`'s committed position, or
    from the start) to the end as it was when called."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await start_client(consumer, settings)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(await partitions_of(consumer, topic))]
        if not parts:
            return []
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        if since_ms is not None:
            found = await consumer.offsets_for_times({tp: since_ms for tp in parts})
            for tp in parts:
                hit = found.get(tp)
                consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        elif group is None:
            await consumer.seek_to_beginning(*parts)
        out: list[DeadLetter] = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*parts, timeout_ms=idle_ms)
            if not batch:
                break
            for records in batch.values():
                out += [
                    DeadLetter(
                        m.topic,
                        m.partition,
                        m.offset,
                        m.timestamp,
                        m.key,
                        m.value,
                        {k: v.decode("utf-8", "replace") for k, v in m.headers},
                    )
                    for m in records
                    if m.offset < ends[TopicPartition(m.topic, m.partition)]
                ]
        return sorted(out, key=lambda d: (d.timestamp_ms, d.partition, d.offset))
    finally:
        await consumer.stop()


async def commit_positions(settings: Settings, group: str, letters: list[DeadLetter]) -> None:
    """Record in `group` that `letters` are done (the next read starts after them)."""
    if not letters:
        return
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=group, enable_auto_commit=False
    )
    await start_client(consumer, settings)
    try:
        last: dict[TopicPartition, int] = {}
        for d in letters:
            tp = TopicPartition(d.topic, d.partition)
            last[tp] = max(last.get(tp, -1), d.offset)
        consumer.assign(list(last))
        await consumer.commit({tp: offset + 1 for tp, offset in last.items()})
    finally:
        await consumer.stop()
