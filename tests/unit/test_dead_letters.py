"""Dead-lettering keeps every payload, even one too big to send back to Kafka whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pipeline.agents.deadletter import MAX_DEAD_LETTER_BYTES, TRUNCATED, dead_letter
from pipeline.errors import BadRecordError
from pipeline.failures import ATTEMPT


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
