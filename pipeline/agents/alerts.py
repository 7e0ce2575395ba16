"""Agents: alerts -> channels (pipeline.alerts.delivery holds the logic), digest ticks."""

from __future__ import annotations

import logging
from typing import Any

from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.adapters.http import make_channel_client
from pipeline.agents.deadletter import (
    dead_letter,
    parse_or_dead_letter,
    retried_if_unexpected,
    retry_or_dead_letter,
)
from pipeline.agents.events import as_current, by_key_concurrently, unacked_unless_done
from pipeline.alerts.delivery import AlertDeliverer
from pipeline.alerts.store import index_alert_documents
from pipeline.alerts.volume import volume_alert
from pipeline.app import Wiring
from pipeline.errors import PermanentError, ShutdownRequested, TransientError
from pipeline.failures import attempt_of
from pipeline.metrics import ALERT_LATENCY, ALERTS_HANDLED, ALERTS_MATCHED
from pipeline.schema import AlertEvent, VolumeCount, utcnow

log = logging.getLogger(__name__)
TICK_SECONDS = 5.0


def register(w: Wiring) -> None:
    app, settings, alerts_state = w.app, w.settings, w.alerts_state
    volume_counts, volume_state = w.volume_counts, w.volume_state
    alerts_topic = w.topic(topics.ALERTS)
    alerts_dlq_topic = w.topic(topics.ALERTS_DLQ)
    alerts_retry_topic = w.topic(topics.ALERTS_RETRY)
    # Internal: "look at rule X's digest window" ticks, keyed by rule id like the alerts, so
    # a tick lands on the partition (and the worker) that owns the rule's state.
    alert_ticks_topic = w.topic(topics.ALERT_TICKS)
    alerts_volume_topic = w.topic(topics.ALERTS_VOLUME)
    policy = settings.retry_policy()
    stopping = w.stopping
    deliverers: list[AlertDeliverer] = []

    def deliverer() -> AlertDeliverer:
        if not deliverers:
            deliverers.append(
                AlertDeliverer(
                    settings,
                    w.rules,
                    alerts_state,
                    make_channel_client(settings),
                )
            )
        return deliverers[0]

    async def close_channels(sender: Any, **kwargs: Any) -> None:
        """Stop what channels opened (the Kafka channel's producer) and their HTTP client."""
        for d in deliverers:
            await d.aclose()
            await d.context.http.aclose()

    # mode types a receiver as a union of callables, which mypy cannot match a coroutine to
    app.on_before_shutdown.connect(close_channels)  # type: ignore[arg-type]

    async def remember_now() -> None:
        """Put the state table's pending writes (what was just sent) in Kafka now, not at the
        next commit (up to 2.8 s later): a worker killed in between sends the alert again after
        its restart. This leaves a window of one write (milliseconds) instead of seconds."""
        await app.producer.flush()

    @app.agent(alerts_topic, name="deliver_alerts")
    async def deliver_alerts(stream: Any) -> None:
        es = make_client(settings)

        async def deliver(event: Any) -> list[dict[str, Any]]:
            as_current(event)  # the state table writes go to this event's partition
            alert = await parse_or_dead_letter(event, AlertEvent, alerts_dlq_topic, "alerts")
            if alert is None:
                return []
            attempt = attempt_of(event.message.headers)
            try:
                outcome = await deliverer().handle(alert, attempt >= settings.retry_attempts)
            except Exception as exc:  # a bug on one alert must not stop the others
                log.exception("alert %s: delivery raised", alert.id)
                await dead_letter(alerts_dlq_topic, event, "alerts", exc)
                return []
            ALERTS_HANDLED.labels(outcome.status).inc()
            if outcome.status == "sent":
                await remember_now()
            if outcome.status == "sent" and alert.enriched_at is not None:
                ALERT_LATENCY.observe((utcnow() - alert.enriched_at).total_seconds())
            if outcome.status in ("retry", "failed"):
                error_class = TransientError if outcome.status == "retry" else PermanentError
                await retry_or_dead_letter(
                    event,
                    "alerts",
                    error_class(outcome.error or "failed"),
                    alerts_retry_topic,
                    alerts_dlq_topic,
                    policy,
                )
            log.info("alert %s: %s", alert.id, outcome.status)
            return outcome.documents

        async def deliver_batch(events: list[Any]) -> None:
            await w.rules.refresh(es)  # rules added to the index: names, throttles
            results = await by_key_concurrently(
                events,
                key=lambda e: e.key,  # the rule id
                handle=deliver,
                limit=settings.alert_delivery_concurrency,
            )
            # the batch's alert records in one request; offsets advance after this
            await index_alert_documents(
                es, settings.alerts_index, [d for docs in results for d in docs], stopping
            )

        try:
            # A slow endpoint must not hold up every rule: one rule's alerts are delivered in
            # order (its throttle window and digest), different rules' at the same time.
            async for events in stream.take_events(100, within=0.05):
                try:
                    with unacked_unless_done(events):
                        # delivered alerts are remembered: their retries are skipped
                        async with retried_if_unexpected(
                            events, "alerts", alerts_retry_topic, alerts_dlq_topic, policy
                        ):
                            await deliver_batch(events)
                except ShutdownRequested:
                    # delivered alerts are remembered (the state table): the next worker skips them
                    log.info("stopping or rebalancing: %d alert events unacknowledged", len(events))
        finally:
            await es.close()

    @app.agent(alert_ticks_topic, name="flush_digests")
    async def flush_digests(stream: Any) -> None:
        es = make_client(settings)
        try:
            async for event in stream.events():
                rule_id = (event.value or b"").decode()
                outcome = await deliverer().flush(rule_id)
                if outcome is not None:
                    if outcome.status == "sent":
                        await remember_now()
                    log.info("digest for %s: %s %s", rule_id, outcome.status, outcome.error or "")
                    await index_alert_documents(es, settings.alerts_index, outcome.documents)
        finally:
            await es.close()

    @app.timer(interval=TICK_SECONDS)  # type: ignore[untyped-decorator]
    async def digest_ticks() -> None:
        """Ask the owner of each rule whose window has ended to send its digest (reading the
        local table is allowed here; writing it is not, hence the tick message)."""
        for rule_id in deliverer().due_rules():
            await alert_ticks_topic.send(key=rule_id.encode(), value=rule_id.encode())

    @app.agent(alerts_volume_topic, name="watch_volume")
    async def watch_volume(stream: Any) -> None:
        """Count each volume rule's articles into time buckets; when the last window is a surge
        against the baseline, raise one alert (once per window) through the alerts topic."""
        bucket = settings.volume_bucket_seconds
        async for event in stream.events():
            hit = await parse_or_dead_letter(event, VolumeCount, alerts_dlq_topic, "volume")
            if hit is None:
                continue
            volume_counts[hit.rule_id] += hit.count
            rule = deliverer().rules.current().get(hit.rule_id)
            counts = volume_counts[hit.rule_id]

            def bucket_count(k: int, counts: Any = counts) -> int:
                return int(counts.delta(k * bucket))  # k buckets before this message's bucket

            now = utcnow()
            alert = volume_alert(rule, bucket_count, bucket, now, volume_state.get(hit.rule_id))
            if alert is None:
                continue
            volume_state[alert.rule_id] = now.isoformat()
            log.info("volume rule %s: %s", alert.rule_id, alert.title)
            ALERTS_MATCHED.labels("volume").inc()
            fut = await alerts_topic.send(
                key=alert.rule_id.encode(), value=alert.to_json(), force=True
            )
            await fut
