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


class FakeClient:
    closed = False

    async def close(self) -> None:
        self.closed = True


class FakeProducer:
    def __init__(self, broken: bool, silent: bool = False, stuck: bool = False) -> None:
        self.broken = broken
        self.silent = silent  # its futures never resolve
        self.stuck = stuck  # stop() never returns
        self.sent: list[bytes] = []
        self.stopped = False
        self.client = FakeClient()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True
        if self.stuck:
            await asyncio.Event().wait()

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.silent:
            return fut
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


async def test_an_acknowledgement_that_never_comes_is_retried_not_awaited_forever(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Seen in the fault suite across a broker restart: one future never resolved, the
    feed's poll never returned, and its later items were never read."""
    made: list[FakeProducer] = []

    def make(settings: Settings) -> FakeProducer:
        first = not made
        made.append(FakeProducer(broken=False, silent=first, stuck=first))
        return made[-1]

    monkeypatch.setattr(emitter_module, "make_producer", make)
    emitter = KafkaEmitter(Settings(), asyncio.Event())
    emitter.ack_timeout, emitter.close_timeout = 0.2, 0.2
    monkeypatch.setattr(emitter, "_wait", lambda delay: asyncio.sleep(0))
    with caplog.at_level(logging.WARNING, logger="connectors.emitter"):
        async with asyncio.timeout(5):
            await emitter.emit([RawArticle(id="a1", title="t"), RawArticle(id="a2", title="u")])
    assert made[1].sent == [b"a1", b"a2"]
    assert made[0].client.closed, "the stuck producer was not abandoned"
    assert "no acknowledgement within 0s for 2 of 2 articles" in caplog.text
    assert "did not close within 0s; abandoned" in caplog.text
