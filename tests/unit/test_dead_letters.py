"""Dead-lettering keeps every payload, even one too big to send back to Kafka whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline.agents.deadletter import (
    MAX_DEAD_LETTER_BYTES,
    TRUNCATED,
    dead_letter,
    retried_if_unexpected,
    retry_batch,
)
from pipeline.errors import BadRecordError, ShutdownRequested
from pipeline.failures import ATTEMPT, RetryPolicy


@dataclass
class Message:
    value: bytes
    key: bytes = b"k1"
    topic: str = "articles.raw"
    partition: int = 2
    offset: int = 41
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: [(ATTEMPT, b"3")])


@dataclass
class Event:
    message: Message


class Topic:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> asyncio.Future[None]:
        self.sent.append(kwargs)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_headers_say_where_why_and_how_often() -> None:
    topic = Topic()
    await dead_letter(topic, Event(Message(b"{not json")), "enrich", BadRecordError("not JSON"))
    (sent,) = topic.sent
    headers = dict(sent["headers"])
    assert sent["value"] == b"{not json" and sent["key"] == b"k1"
    assert headers["mediamon-stage"] == b"enrich"
    assert headers["mediamon-error-class"] == b"BadRecordError"
    assert headers["mediamon-error"] == b"not JSON"
    assert headers["mediamon-source"] == b"articles.raw/2/41"
    assert headers[ATTEMPT] == b"3" and TRUNCATED not in headers


async def test_a_5_mb_payload_is_kept_truncated_with_its_size() -> None:
    topic = Topic()
    huge = b"x" * 5_000_000
    await dead_letter(topic, Event(Message(huge)), "enrich", BadRecordError("too long"))
    (sent,) = topic.sent
    assert len(sent["value"]) == MAX_DEAD_LETTER_BYTES < 1_000_000
    assert dict(sent["headers"])[TRUNCATED] == b"5000000"


async def test_an_unexpected_error_sends_the_batch_through_the_retry_topic() -> None:
    retry, dlq = Topic(), Topic()
    fresh = [Event(Message(b"{}", key=f"a{n}".encode(), headers=[])) for n in range(3)]
    spent = Event(Message(b"{}", key=b"a3", headers=[(ATTEMPT, b"6")]))
    await retry_batch(
        [*fresh, spent], "index", KeyError("items"), retry, dlq, RetryPolicy(6, 1.0, 60.0)
    )
    # every event is held by Kafka again, none dropped: the batch may be acknowledged
    assert [s["key"] for s in retry.sent] == [b"a0", b"a1", b"a2"]
    assert all(dict(s["headers"])[ATTEMPT] == b"2" for s in retry.sent)
    # attempts spent: dead-lettered with the original error's class and text
    (dead,) = dlq.sent
    headers = dict(dead["headers"])
    assert dead["key"] == b"a3" and headers["mediamon-error-class"] == b"UnexpectedError"
    assert headers["mediamon-error"] == b"KeyError: 'items'"


async def test_a_batch_kafka_cannot_take_back_raises() -> None:
    class Refusing(Topic):
        async def send(self, **kwargs: Any) -> asyncio.Future[None]:
            raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):  # the agent then leaves the batch unacknowledged
        await retry_batch(
            [Event(Message(b"{}", headers=[]))],
            "index",
            ValueError("x"),
            Refusing(),
            Topic(),
            RetryPolicy(6, 1.0, 60.0),
        )


async def test_an_unexpected_error_in_the_guarded_handling_is_retried_not_raised() -> None:
    retry, dlq = Topic(), Topic()
    batch = [Event(Message(b"{}", key=f"a{n}".encode(), headers=[])) for n in range(2)]
    async with retried_if_unexpected(batch, "alerts", retry, dlq, RetryPolicy(6, 1.0, 60.0)):
        raise KeyError("items")
    assert [s["key"] for s in retry.sent] == [b"a0", b"a1"] and not dlq.sent


@pytest.mark.parametrize("stop", [ShutdownRequested("rebalance"), asyncio.CancelledError()])
async def test_a_shutdown_passes_through_the_guard_and_nothing_is_retried(
    stop: BaseException,
) -> None:
    retry, dlq = Topic(), Topic()
    batch = [Event(Message(b"{}", key=b"a0", headers=[]))]
    with pytest.raises(type(stop)):  # unacked_unless_done then leaves the batch unacknowledged
        async with retried_if_unexpected(batch, "index", retry, dlq, RetryPolicy(6, 1.0, 60.0)):
            raise stop
    assert not retry.sent and not dlq.sent
