"""Alert channels by name: the `type` of an entry under `channels:` in rules.yaml.

Adding a channel is one module in this package (its config model and its Channel
subclass, see base.py) and one line in CHANNELS.
"""

from __future__ import annotations

from typing import Any

from pipeline.alerts.channels.base import Channel, ChannelConfig, ChannelContext
from pipeline.alerts.channels.email import EmailChannel
from pipeline.alerts.channels.kafka import KafkaChannel
from pipeline.alerts.channels.slack import SlackChannel
from pipeline.alerts.channels.telegram import TelegramChannel
from pipeline.alerts.channels.webhook import WebhookChannel

CHANNELS: dict[str, type[Channel[Any]]] = {
    "webhook": WebhookChannel,
    "slack": SlackChannel,
    "email": EmailChannel,
    "telegram": TelegramChannel,
    "kafka": KafkaChannel,
}


class UnknownChannelTypeError(ValueError):
    """A channel entry whose `type` is missing or not in CHANNELS."""


def parse_channel(spec: object) -> ChannelConfig:
    """The config of one entry under `channels:`, validated by its type's model; a
    pydantic ValidationError for a bad field, UnknownChannelTypeError for a bad type."""
    known = ", ".join(sorted(CHANNELS))
    if not isinstance(spec, dict):
        raise UnknownChannelTypeError(f"a mapping with a 'type' (one of {known})")
    kind = spec.get("type")
    if kind is None:
        raise UnknownChannelTypeError(f"missing; one of {known}")
    if not isinstance(kind, str) or kind not in CHANNELS:
        raise UnknownChannelTypeError(f"unknown channel type {kind!r}; known types: {known}")
    return CHANNELS[kind].config_model.model_validate(spec)


def make_channel(config: ChannelConfig, context: ChannelContext) -> Channel[Any]:
    """The sender for a validated config."""
    return CHANNELS[config.type](config, context)


__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelConfig",
    "ChannelContext",
    "UnknownChannelTypeError",
    "make_channel",
    "parse_channel",
]
