"""Kafka through aiokafka: producer, admin (topic creation) and a readiness probe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from pipeline import topics
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def _common(settings: Settings) -> dict[str, Any]:
    opts: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap}
    if settings.kafka_username and settings.kafka_password:
        opts |= {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password.get_secret_value(),
        }
    return opts


def make_producer(settings: Settings) -> AIOKafkaProducer:
    """Durable producer: every write acknowledged by all in-sync replicas, no duplicates on
    retry, gzip (in the standard library, unlike lz4/zstd) to keep raw HTML small."""
    return AIOKafkaProducer(
        **_common(settings),
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=20,
        request_timeout_ms=30_000,
        max_request_size=1_048_576,
    )


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every declared topic that does not exist yet; returns those it created."""
    admin = AIOKafkaAdminClient(**_common(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in topics.names(settings).values() if name not in existing]
        if wanted:
            new = [NewTopic(name, settings.topic_partitions, 1) for name in wanted]
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile
                await admin.create_topics(new)
        return wanted
    finally:
        await admin.close()


async def broker_ready(bootstrap: str, wait_seconds: float = 5.0) -> bool:
    """True when the broker answers a metadata request."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(wait_seconds * 1000)
    )
    try:
        async with asyncio.timeout(wait_seconds * 2):
            await admin.start()
            await admin.list_topics()
        return True
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        try:
            await admin.close()
        except Exception:  # closing a client that never connected can raise anything
            log.debug("admin close failed", exc_info=True)
