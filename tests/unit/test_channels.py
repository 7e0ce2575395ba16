"""The channel registry (every type validates its config; an unknown type is named with the
known ones), the shared context, and the Kafka channel's record without a broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from pydantic import ValidationError

from pipeline.alerts.channels import (
    CHANNELS,
    ChannelContext,
    UnknownChannelTypeError,
    make_channel,
    parse_channel,
)
from pipeline.alerts.channels import kafka as kafka_channel
from pipeline.alerts.channels.base import ID_HEADER
from pipeline.alerts.channels.kafka import KafkaChannel, KafkaConfig, record
from pipeline.alerts.rules import parse_rules
from pipeline.errors import ChannelConfigError, ConfigError, DeliveryError, DeliveryRefusedError
from pipeline.settings import Settings
from tests.notes import sample_note

# one valid entry per registered type, as it would stand in rules.yaml
EXAMPLES: dict[str, dict[str, Any]] = {
    "webhook": {"url": "https://hooks.example/in", "secret_env": "MEDIAMON_OPS_HOOK_SECRET"},
    "slack": {"url_env": "MEDIAMON_SLACK_WEBHOOK_URL"},
    "email": {"to": ["desk@example.org"]},
    "telegram": {"chat_id": -1001234567890, "token_env": "MEDIAMON_TELEGRAM_TOKEN"},
    "kafka": {"topic": "alerts.out"},
}


def test_every_registered_channel_has_an_example() -> None:
    assert set(EXAMPLES) == set(CHANNELS)


@pytest.mark.parametrize("kind", sorted(CHANNELS))
async def test_every_registered_channel_validates_its_config(kind: str) -> None:
    config = parse_channel({"type": kind, **EXAMPLES[kind]})
    assert config.type == kind and isinstance(config, CHANNELS[kind].config_model)
    with pytest.raises(ValidationError, match="Extra inputs"):  # no inline secrets, no typos
        parse_channel({"type": kind, **EXAMPLES[kind], "secret": "hunter2"})
    with pytest.raises(ValidationError):  # the model answers to its own name only
        CHANNELS[kind].config_model.model_validate({**EXAMPLES[kind], "type": "other"})
    async with httpx.AsyncClient() as client:
        channel = make_channel(config, ChannelContext(Settings(), client))
    assert isinstance(channel, CHANNELS[kind]) and channel.config is config


def test_an_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(UnknownChannelTypeError) as caught:
        parse_channel({"type": "pager", "url": "https://x.example"})
    assert str(caught.value) == (
        "unknown channel type 'pager'; known types: email, kafka, slack, telegram, webhook"
    )
    text = "channels:\n  ops:\n    type: pager\n  odd:\n    url: https://x.example\nrules: []\n"
    ruleset = parse_rules(Path("r.yaml"), text)
    assert ruleset.channels == {}
    assert ruleset.problems == [
        "r.yaml:3: channel ops: type: unknown channel type 'pager'; "
        "known types: email, kafka, slack, telegram, webhook",
        "r.yaml:5: channel odd: type: missing; one of email, kafka, slack, telegram, webhook",
    ]


def test_new_channels_load_from_a_rules_file() -> None:
    text = (
        "channels:\n"
        "  tg: {type: telegram, chat_id: '@newsdesk', token_env: MEDIAMON_TELEGRAM_TOKEN}\n"
        "  bus: {type: kafka, topic: alerts.out}\n"
        "  bad: {type: telegram, chat_id: 'news desk', token_env: MEDIAMON_TELEGRAM_TOKEN}\n"
        "rules:\n  - {id: r1, query: Astana, channels: [tg, bus]}\n"
    )
    ruleset = parse_rules(Path("r.yaml"), text)
    assert sorted(ruleset.channels) == ["bus", "tg"] and [r.id for r in ruleset.rules] == ["r1"]
    (problem,) = ruleset.problems
    assert problem.startswith("r.yaml:4: channel bad: chat_id:") and "@channelname" in problem


async def test_context_opens_a_shared_client_once_and_closes_it() -> None:
    opened: list[int] = []
    closed: list[int] = []

    async def open_() -> int:
        await asyncio.sleep(0.01)
        opened.append(len(opened))
        return len(opened)

    async def close(client: int) -> None:
        closed.append(client)

    async def fail() -> int:
        raise OSError("broker away")

    async with httpx.AsyncClient() as client:
        context = ChannelContext(Settings(), client)
        with pytest.raises(OSError):
            await context.shared("thing", fail, close)  # not remembered: the next call opens
        got = await asyncio.gather(*(context.shared("thing", open_, close) for _ in range(5)))
        assert got == [1] * 5 and opened == [0]
        await context.aclose()
    assert closed == [1]


# --- the Kafka channel, without a broker -----------------------------------------------------


def test_kafka_record_is_the_webhook_body_keyed_by_rule() -> None:
    note = sample_note(note_id="abc123", rule=("astana", "Astana talks"))
    rec = record(KafkaConfig(type="kafka", topic="alerts.out"), note, Settings(namespace="t1-"))
    assert rec.topic == "t1-alerts.out"  # namespaced like every topic
    assert rec.key == b"astana"
    assert rec.headers == [(ID_HEADER, b"abc123")]
    assert rec.value == json.dumps(note.as_json(), ensure_ascii=False).encode()
    body = json.loads(rec.value)
    assert body["id"] == "abc123" and body["rule"] == {"id": "astana", "name": "Astana talks"}
    assert body["articles"][0]["url"] == "https://news.example/a1"


class FakeProducer:
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
        self.error = error
        self.stopped = False

    async def send_and_wait(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        if self.error:
            raise self.error
        self.sent.append((topic, key, value, headers))

    async def stop(self) -> None:
        self.stopped = True


async def _kafka_send(
    monkeypatch: pytest.MonkeyPatch, producer: FakeProducer | Exception
) -> list[int]:
    opens: list[int] = []

    async def fake_open(settings: Settings) -> FakeProducer:
        opens.append(1)
        if isinstance(producer, Exception):
            raise producer
        return producer

    monkeypatch.setattr(kafka_channel, "_open", fake_open)
    async with httpx.AsyncClient() as client:
        context = ChannelContext(Settings(), client)
        channel = KafkaChannel(KafkaConfig(type="kafka", topic="alerts.out"), context)
        try:
            await channel.send(sample_note())
            await channel.send(sample_note(note_id="second"))
        finally:
            await context.aclose()
    return opens


async def test_kafka_channel_sends_through_one_shared_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()
    opens = await _kafka_send(monkeypatch, producer)
    assert opens == [1] and producer.stopped  # opened once, closed with the context
    assert [(t, k, h) for t, k, _, h in producer.sent] == [
        ("alerts.out", b"r1", [(ID_HEADER, b"5f0c3a9e")]),
        ("alerts.out", b"r1", [(ID_HEADER, b"second")]),
    ]


@pytest.mark.parametrize(
    ("failure", "expected", "text"),
    [
        (FakeProducer(KafkaConnectionError()), DeliveryError, "KafkaConnectionError"),
        (FakeProducer(MessageSizeTooLargeError()), DeliveryRefusedError, "MessageSizeTooLarge"),
        (ConfigError("refused the login of user 'x'"), ChannelConfigError, "refused the login"),
        (KafkaConnectionError(), DeliveryError, "KafkaConnectionError"),
    ],
)
async def test_kafka_channel_failures(
    monkeypatch: pytest.MonkeyPatch,
    failure: FakeProducer | Exception,
    expected: type[Exception],
    text: str,
) -> None:
    with pytest.raises(expected) as caught:
        await _kafka_send(monkeypatch, failure)
    assert str(caught.value).startswith("kafka topic alerts.out: ") and text in str(caught.value)
    if expected is DeliveryError:
        assert not isinstance(caught.value, DeliveryRefusedError)
