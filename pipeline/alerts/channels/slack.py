"""Slack channel: the notification's text to a Slack-compatible incoming webhook."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from pipeline.adapters.http import host_of, post
from pipeline.alerts.channels.base import ENV_NAME, Channel, ChannelConfig, Notification, secret_url
from pipeline.errors import DeliveryError


class SlackConfig(ChannelConfig):
    """`url_env`: the variable holding the incoming-webhook URL (the URL is the credential)."""

    type: Literal["slack"]
    url_env: str = Field(pattern=ENV_NAME)


class SlackChannel(Channel[SlackConfig]):
    config_model = SlackConfig

    async def send(self, note: Notification) -> None:
        body = json.dumps({"text": note.text()}, ensure_ascii=False).encode()
        url = secret_url(self.config.url_env)
        answer = await post(self.context.http, url, body, {"content-type": "application/json"})
        if answer.status >= 300:
            raise DeliveryError(f"{host_of(url)} answered {answer.status}")
