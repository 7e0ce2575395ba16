"""Generic webhook channel: the notification as JSON, HMAC-SHA256-signed when a key is set."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated, Literal

from pydantic import Field

from pipeline.adapters.http import host_of, http_url, post
from pipeline.alerts.channels.base import (
    ENV_NAME,
    ID_HEADER,
    Channel,
    ChannelConfig,
    Notification,
    secret,
)
from pipeline.errors import DeliveryError

SIGNATURE_HEADER = "X-Mediamon-Signature"


class WebhookConfig(ChannelConfig):
    """`url` (not a secret; anything that is goes in the signing key) and `secret_env`, the
    variable holding the HMAC-SHA256 key."""

    type: Literal["webhook"]
    url: Annotated[str, http_url("a webhook URL is http:// or https://")]
    secret_env: str | None = Field(default=None, pattern=ENV_NAME)


def sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel[WebhookConfig]):
    config_model = WebhookConfig

    async def send(self, note: Notification) -> None:
        body = json.dumps(note.as_json(), ensure_ascii=False, default=str).encode()
        headers = {
            "content-type": "application/json",
            "user-agent": "mediamon-alerts",
            ID_HEADER: note.id,
        }
        if self.config.secret_env:
            headers[SIGNATURE_HEADER] = sign(secret(self.config.secret_env), body)
        answer = await post(self.context.http, self.config.url, body, headers)
        if answer.status >= 300:
            raise DeliveryError(f"{host_of(self.config.url)} answered {answer.status}")
