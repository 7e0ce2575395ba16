"""Agents: alerts -> channels (pipeline.alerts.delivery holds the logic), digest ticks."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import ValidationError

from pipeline.adapters.elastic import index_alert_documents, make_client
from pipeline.agents.deadletter import dead_letter
from pipeline.alerts.delivery import AlertDeliverer
from pipeline.alerts.matching import RulesFile
from pipeline.app import (
    alert_ticks_topic,
    alerts_dlq_topic,
    alerts_state,
    alerts_topic,
    app,
    settings,
)
from pipeline.errors import BadRecordError
from pipeline.schema import AlertEvent

log = logging.getLogger(__name__)
TICK_SECONDS = 5.0
_deliverer: AlertDeliverer | None = None


def deliverer() -> AlertDeliverer:
    global _deliverer
    if _deliverer is None:
        _deliverer = AlertDeliverer(
            settings, RulesFile(settings.rules_file), alerts_state, httpx.AsyncClient()
        )
    return _deliverer


@app.agent(alerts_topic)
async def deliver_alerts(stream: Any) -> None:
    es = make_client(settings)
    try:
        # one event at a time: the state table writes go to this event's partition
        async for event in stream.events():
            try:
                alert = AlertEvent.from_json(event.value or b"")
            except (ValidationError, BadRecordError) as exc:
                await dead_letter(alerts_dlq_topic, event, "alerts", BadRecordError(str(exc)))
                continue
            outcome = await deliverer().handle(alert)
            if outcome.status == "failed":
                await dead_letter(
                    alerts_dlq_topic, event, "alerts", BadRecordError(outcome.error or "failed")
                )
            await index_alert_documents(es, settings.alerts_index, outcome.documents)
            log.info("alert %s: %s", alert.id, outcome.status)
    finally:
        await es.close()


@app.agent(alert_ticks_topic)
async def flush_digests(stream: Any) -> None:
    es = make_client(settings)
    try:
        async for event in stream.events():
            rule_id = (event.value or b"").decode()
            outcome = await deliverer().flush(rule_id)
            if outcome is not None:
                log.info("digest for %s: %s %s", rule_id, outcome.status, outcome.error or "")
                await index_alert_documents(es, settings.alerts_index, outcome.documents)
    finally:
        await es.close()


@app.timer(interval=TICK_SECONDS)  # type: ignore[untyped-decorator]
async def digest_ticks() -> None:
    """Ask the owner of each rule whose window has ended to send its digest (reading the
    local table is allowed here; writing it is not, hence the tick message)."""
    for key in list(alerts_state.keys()):
        if isinstance(key, str) and key.startswith("window:"):
            rule_id = key.removeprefix("window:")
            if deliverer().due(rule_id):
                await alert_ticks_topic.send(key=rule_id.encode(), value=rule_id.encode())
