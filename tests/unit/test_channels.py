"""The channel registry (every type validates its config; an unknown type is named with the
known ones) and the shared context."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from pipeline.alerts.channels import (
    CHANNELS,
    ChannelContext,
    UnknownChannelTypeError,
    make_channel,
    parse_channel,
)
from pipeline.alerts.rules import parse_rules
from pipeline.settings import Settings

# one valid entry per registered type, as it would stand in rules.yaml
EXAMPLES: dict[str, dict[str, Any]] = {
    "webhook": {"url": "https://hooks.example/in", "secret_env": "MEDIAMON_OPS_HOOK_SECRET"},
    "slack": {"url_env": "MEDIAMON_SLACK_WEBHOOK_URL"},
    "email": {"to": ["desk@example.org"]},
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
    assert str(caught.value) == ("unknown channel type 'pager'; known types: email, slack, webhook")
    text = "channels:\n  ops:\n    type: pager\n  odd:\n    url: https://x.example\nrules: []\n"
    ruleset = parse_rules(Path("r.yaml"), text)
    assert ruleset.channels == {}
    assert ruleset.problems == [
        "r.yaml:3: channel ops: type: unknown channel type 'pager'; "
        "known types: email, slack, webhook",
        "r.yaml:5: channel odd: type: missing; one of email, slack, webhook",
    ]


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
