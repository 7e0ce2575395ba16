"""Kafka channel: the notification as JSON on a topic, for downstream systems.

The record is the webhook's body (key: rule id; header X-Mediamon-Alert-Id: the stable id
a consumer drops repeats by). The producer is the Kafka adapter's (the settings' brokers,
TLS and SASL), opened on the first alert and shared by every Kafka channel of the process.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Literal

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)
from pydantic import Field

from pipeline.adapters.kafka import make_producer, start_client
from pipeline.alerts.channels.base import ID_HEADER, Channel, ChannelConfig, Notification
from pipeline.errors import ChannelConfigError, ConfigError, DeliveryError, DeliveryRefusedError
from pipeline.settings import Settings

SEND_TIMEOUT = 30.0  # seconds for opening the producer and the broker's acknowledgement
_REFUSED = (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)


class KafkaConfig(ChannelConfig):
    """`topic`: where the alerts go, prefixed with MEDIAMON_NAMESPACE like every topic."""

    type: Literal["kafka"]
    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,200}$")


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def record(config: KafkaConfig, note: Notification, settings: Settings) -> KafkaRecord:
    return KafkaRecord(
        topic=settings.topic(config.topic),
        key=note.rule_id.encode(),
        value=json.dumps(note.as_json(), ensure_ascii=False, default=str).encode(),
        headers=[(ID_HEADER, note.id.encode())],
    )


async def _open(settings: Settings) -> AIOKafkaProducer:
    producer = make_producer(settings)
    try:
        await start_client(producer, settings)
    except BaseException:  # the send's timeout cancels a start that hangs: stop it too
        await asyncio.shield(producer.stop())
        raise
    return producer


async def _close(producer: AIOKafkaProducer) -> None:
    await producer.stop()


class KafkaChannel(Channel[KafkaConfig]):
    config_model = KafkaConfig

    async def send(self, note: Notification) -> None:
        settings = self.context.settings
        rec = record(self.config, note, settings)
        where = f"kafka topic {rec.topic}"
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                producer = await self.context.shared(
                    "kafka-producer", lambda: _open(settings), _close
                )
                await producer.send_and_wait(rec.topic, rec.value, key=rec.key, headers=rec.headers)
        except ConfigError as exc:  # a refused login or an untrusted broker certificate
            raise ChannelConfigError(f"{where}: {exc}") from None
        except _REFUSED as exc:
            raise DeliveryRefusedError(f"{where}: {type(exc).__name__}") from None
        except TimeoutError:
            raise DeliveryError(f"{where}: no acknowledgement within {SEND_TIMEOUT:.0f}s") from None
        except (KafkaError, OSError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}") from None
