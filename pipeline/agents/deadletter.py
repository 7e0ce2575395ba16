"""The agents' side of the failure model (pipeline.failures): a message that failed goes to
its stage's retry topic (transient, attempts left) or to its dead-letter topic with the
reason and the attempt count; both wait until Kafka holds it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import ValidationError

from pipeline.errors import BadRecordError, ShutdownRequested, UnexpectedError
from pipeline.failures import ATTEMPT, RetryPolicy, attempt_of, retry_headers
from pipeline.metrics import DEAD_LETTERS, RETRIED
from pipeline.schema import Record

R = TypeVar("R", bound=Record)
# under the producer's 1 MB request limit with room for the key and headers
MAX_DEAD_LETTER_BYTES = 900_000
TRUNCATED = "mediamon-truncated"  # the original payload's size, when it was cut

log = logging.getLogger(__name__)


def dlq_headers(event: Any, stage: str, error: BaseException) -> list[tuple[str, bytes]]:
    message = event.message
    return [
        ("mediamon-stage", stage.encode()),
        ("mediamon-error-class", type(error).__name__.encode()),
        ("mediamon-error", str(error)[:2000].encode("utf-8", "replace")),
        ("mediamon-source", f"{message.topic}/{message.partition}/{message.offset}".encode()),
        (ATTEMPT, str(attempt_of(message.headers)).encode()),
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
    value, headers = event.message.value, dlq_headers(event, stage, error)
    if value is not None and len(value) > MAX_DEAD_LETTER_BYTES:
        # A payload over the producer's request size cannot be dead-lettered whole (it would
        # fail the send and the agent); keep its head and say how big it was. The original
        # stays in its topic until retention: `mediamon-source` points at it.
        headers.append((TRUNCATED, str(len(value)).encode()))
        value = value[:MAX_DEAD_LETTER_BYTES]
    fut = await topic.send(key=event.message.key, value=value, headers=headers, force=True)
    await fut


async def retry_or_dead_letter(
    event: Any,
    stage: str,
    error: BaseException,
    retry_topic: Any,
    dlq_topic: Any,
    policy: RetryPolicy,
) -> str:
    """Send the event to `retry_topic` (due after the policy's backoff) when the error is
    transient and attempts are left, else to `dlq_topic`. Returns "retry" or "dead-letter"."""
    attempt = attempt_of(event.message.headers)
    verdict = policy.verdict(error, attempt)
    if verdict == "dead-letter":  # the headers carry the attempt count
        await dead_letter(dlq_topic, event, stage, error)
        return verdict
    delay = policy.delay(attempt)
    log.info(
        "retry stage=%s attempt=%d/%d in %.0fs: %s",
        stage,
        attempt + 1,
        policy.attempts,
        delay,
        type(error).__name__,
    )
    RETRIED.labels(stage).inc()
    fut = await retry_topic.send(
        key=event.message.key,
        value=event.message.value,
        headers=retry_headers(event.message.headers, event.message.topic, attempt, delay),
        force=True,
    )
    await fut
    return verdict


async def retry_batch(
    events: Sequence[Any],
    stage: str,
    error: Exception,
    retry_topic: Any,
    dlq_topic: Any,
    policy: RetryPolicy,
) -> None:
    """Set aside a batch whose handling raised `error`, which nobody foresaw: each event goes
    to the retry topic (then, attempts spent, to the dead-letter topic, with the original
    error's class and text). Returns once Kafka holds them all, so the batch's offsets may
    advance; if Kafka cannot take them, this raises and the batch stays unacknowledged."""
    log.error(
        "stage=%s: a batch of %d raised %s; it goes through the retry topic",
        stage,
        len(events),
        type(error).__name__,
        exc_info=error,
    )
    unexpected = UnexpectedError(f"{type(error).__name__}: {error}")
    for event in events:
        await retry_or_dead_letter(event, stage, unexpected, retry_topic, dlq_topic, policy)


@asynccontextmanager
async def retried_if_unexpected(
    events: Sequence[Any],
    stage: str,
    retry_topic: Any,
    dlq_topic: Any,
    policy: RetryPolicy,
) -> AsyncIterator[None]:
    """Around a batch's handling in an agent: an exception nobody foresaw sends the batch
    through `retry_batch` instead of crashing the agent, which would strand the batch
    unacknowledged until a restart or a rebalance. A shutdown or a rebalance
    (ShutdownRequested, cancellation) passes through, for `unacked_unless_done`."""
    try:
        yield
    except ShutdownRequested:
        raise
    except Exception as exc:
        await retry_batch(events, stage, exc, retry_topic, dlq_topic, policy)


async def parse_or_dead_letter(event: Any, record: type[R], topic: Any, stage: str) -> R | None:
    """The event's record, or None after dead-lettering a payload that is not one."""
    try:
        parsed: R = record.from_json(event.value or b"")
    except (ValidationError, BadRecordError) as exc:
        await dead_letter(topic, event, stage, BadRecordError(str(exc)))
        return None
    return parsed
