"""The Kafka emitter's retry: a producer whose sends keep failing is replaced (seen in the
fault suite: after a broker restart one producer left an article unacknowledged for minutes
while the broker was back)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from connectors import emitter as emitter_module
from connectors.emitter import KafkaEmitter
from pipeline.schema import RawArticle
from pipeline.settings import Settings


class FakeProducer:
    def __init__(self, broken: bool) -> None:
        self.broken = broken
        self.sent: list[bytes] = []
        self.stopped = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.broken:
            fut.set_exception(KafkaTimeoutError("stale producer"))
        else:
            self.sent.append(key)
            fut.set_result(None)
        return fut


async def test_a_failing_producer_is_replaced_and_the_reason_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    made: list[FakeProducer] = []

    def make(settings: Settings) -> FakeProducer:
        made.append(FakeProducer(broken=not made))  # the first one never gets an ack
        return made[-1]

    monkeypatch.setattr(emitter_module, "make_producer", make)
    emitter = KafkaEmitter(Settings(), asyncio.Event())
    monkeypatch.setattr(emitter, "_wait", lambda delay: asyncio.sleep(0))
    with caplog.at_level(logging.WARNING, logger="connectors.emitter"):
        await emitter.emit([RawArticle(id="a1", title="t")])
    assert len(made) == 2 and made[0].stopped
    assert made[1].sent == [b"a1"]
    assert "KafkaTimeoutError: stale producer" in caplog.text
    assert emitter.failing_since is None
