"""Producing raw articles to Kafka: nothing counts as sent until Kafka acknowledged it, and
when Kafka is away the connector waits and retries instead of dropping anything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from connectors import metrics
from pipeline import topics
from pipeline.adapters.kafka import make_producer, start_client
from pipeline.errors import ConfigError
from pipeline.schema import RawArticle
from pipeline.settings import Settings

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0


class Stopped(Exception):
    """The connector is stopping: the batch was not (entirely) acknowledged."""


class KafkaEmitter:
    def __init__(self, settings: Settings, stopping: asyncio.Event) -> None:
        self.settings = settings
        self.topic = settings.topic(topics.RAW)
        self._stopping = stopping
        self.failing_since: float | None = None  # first unacknowledged send of an outage
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _wait(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            return
        raise Stopped

    async def _producer_ready(self) -> AIOKafkaProducer:
        delay = 0.5
        async with self._lock:
            while self._producer is None:
                producer = make_producer(self.settings)
                try:
                    await start_client(producer, self.settings)
                except ConfigError as exc:
                    # a refused login: retrying helps only once the broker or the settings
                    # change, so it is an error and says what to fix (never the password)
                    self._failing()
                    log.error("%s; retrying in %.1fs", exc, delay)
                except (KafkaError, OSError) as exc:
                    await producer.stop()
                    self._failing()
                    log.warning("Kafka not reachable (%s); retrying in %.1fs", exc, delay)
                except BaseException:  # cancelled while starting: close it, or it leaks
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                else:
                    self._producer = producer
                    self.failing_since = None
                    continue
                await self._wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        return self._producer

    async def emit(self, articles: list[RawArticle]) -> None:
        """Send every article (key = article id) and wait for all acknowledgements, retrying
        the unacknowledged ones with capped backoff. Raises Stopped on shutdown."""
        pending = list(articles)
        delay = 0.5
        while pending:
            producer = await self._producer_ready()
            futures = []
            try:
                for article in pending:
                    futures.append(
                        await producer.send(self.topic, article.to_json(), key=article.id.encode())
                    )
            except KafkaError as exc:
                log.warning("send failed: %s", exc)
            results = await asyncio.gather(*futures, return_exceptions=True)
            acked = {
                a.id
                for a, r in zip(pending, results, strict=False)
                if not isinstance(r, BaseException)
            }
            errors = [r for r in results if isinstance(r, BaseException)]
            pending = [a for a in pending if a.id not in acked]
            if not pending:
                self.failing_since = None
            else:
                self._failing()
            if pending:
                metrics.KAFKA_RETRIES.inc()
                reason = f"{type(errors[0]).__name__}: {errors[0]}" if errors else "send failed"
                log.warning(
                    "%d articles not acknowledged (%s); retrying in %.1fs with a new producer",
                    len(pending),
                    reason,
                    delay,
                )
                # A producer that failed across a broker restart can keep failing every send
                # (stale idempotence state; seen: unacknowledged for minutes after the broker
                # was back): the retry goes through a fresh one.
                await self._discard_producer()
                await self._wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def _failing(self) -> None:
        if self.failing_since is None:
            self.failing_since = time.monotonic()

    async def _discard_producer(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception:  # closing a producer whose broker went away can raise anything
                log.debug("producer stop failed", exc_info=True)

    def healthy(self, grace: float = 60.0) -> bool:
        """Kafka takes what is sent (or has failed for less than `grace` seconds)."""
        return self.failing_since is None or time.monotonic() - self.failing_since < grace

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
