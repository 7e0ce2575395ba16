"""Sending a message that cannot be processed to its dead-letter topic, with the reason."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import ValidationError

from pipeline.errors import BadRecordError
from pipeline.metrics import DEAD_LETTERS
from pipeline.schema import Record

R = TypeVar("R", bound=Record)

log = logging.getLogger(__name__)


def dlq_headers(event: Any, stage: str, error: BaseException) -> list[tuple[str, bytes]]:
    message = event.message
    return [
        ("mediamon-stage", stage.encode()),
        ("mediamon-error-class", type(error).__name__.encode()),
        ("mediamon-error", str(error)[:2000].encode("utf-8", "replace")),
        ("mediamon-source", f"{message.topic}/{message.partition}/{message.offset}".encode()),
    ]


async def dead_letter(topic: Any, event: Any, stage: str, error: BaseException) -> None:
    """Publish the original payload to `topic` and wait until Kafka holds it."""
    log.warning(
        "dead-letter stage=%s error=%s topic=%s offset=%s",
        stage,
        type(error).__name__,
        event.message.topic,
        event.message.offset,
    )
    DEAD_LETTERS.labels(stage).inc()
    fut = await topic.send(
        key=event.message.key,
        value=event.message.value,
        headers=dlq_headers(event, stage, error),
        force=True,
    )
    await fut


async def parse_or_dead_letter(event: Any, record: type[R], topic: Any, stage: str) -> R | None:
    """The event's record, or None after dead-lettering a payload that is not one."""
    try:
        parsed: R = record.from_json(event.value or b"")
    except (ValidationError, BadRecordError) as exc:
        await dead_letter(topic, event, stage, BadRecordError(str(exc)))
        return None
    return parsed
