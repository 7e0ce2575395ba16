"""The Kafka alert channel on the real broker: an alert delivered by the deliverer through a
`type: kafka` channel is read back from the channel's topic (namespaced per test), once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.adapters.http import make_channel_client
from pipeline.alerts.channels.base import ID_HEADER
from pipeline.alerts.delivery import AlertDeliverer, Outcome
from pipeline.alerts.matching import RulesFile
from pipeline.deadletters import DeadLetter, read_topic
from pipeline.schema import AlertEvent
from tests.integration.conftest import Env

RULES = """\
channels:
  bus:
    type: kafka
    topic: alerts.out
rules:
  - id: astana
    name: Astana talks
    query: Astana
    channels: [bus]
"""


def _event(article: str) -> AlertEvent:
    return AlertEvent(
        id=f"astana:{article}",
        rule_id="astana",
        rule_name="Astana talks",
        article_id=article,
        story_id=article,
        title=f"Переговоры в Астане {article}",
        url=f"https://news.example/{article}",
        source_name="Test Wire",
        lang="ru",
        channels=["bus"],
    )


def test_alerts_reach_the_kafka_channel_topic(env: Env) -> None:
    rules = env.logs / "rules.yaml"
    rules.write_text(RULES)
    settings = env.settings.model_copy(update={"rules_file": rules})
    topic = settings.topic("alerts.out")

    async def scenario() -> tuple[list[Outcome], list[DeadLetter]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:  # made beforehand: the test does not depend on the broker's auto-creation
            await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()
        async with make_channel_client(settings) as client:
            deliverer = AlertDeliverer(settings, RulesFile(rules), {}, client)
            try:
                outcomes = [
                    await deliverer.handle(_event("a1")),
                    await deliverer.handle(_event("a1")),  # a re-delivery: not sent again
                    await deliverer.handle(_event("a2")),  # the same producer, a second record
                ]
            finally:
                await deliverer.aclose()  # stops the channel's producer
        return outcomes, await read_topic(settings, topic)

    outcomes, records = asyncio.run(scenario())
    assert [o.status for o in outcomes] == ["sent", "duplicate", "sent"], outcomes
    assert [r.key for r in records] == [b"astana", b"astana"]
    bodies: list[dict[str, Any]] = [json.loads(r.value or b"") for r in records]
    assert [b["articles"][0]["id"] for b in bodies] == ["a1", "a2"]
    first = bodies[0]
    assert first["kind"] == "alert" and first["rule"] == {"id": "astana", "name": "Astana talks"}
    assert first["articles"][0]["title"] == "Переговоры в Астане a1"
    assert first["articles"][0]["url"] == "https://news.example/a1"
    # the stable id a downstream consumer drops repeats by, in the body and as a header
    assert [r.headers[ID_HEADER] for r in records] == [b["id"] for b in bodies]
    assert len(first["id"]) == 32
