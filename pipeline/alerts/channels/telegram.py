"""Telegram channel: the notification's text through the Bot API's sendMessage.

The bot token sits in the request path (`/bot<token>/sendMessage`), so this channel never
lets the URL out: errors name the host, httpx's request log shows the host only, and the
server's description of a refusal is cleaned of the token before it is repeated.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from pipeline.adapters.http import host_of, post, withhold_in_logs
from pipeline.alerts.channels.base import ENV_NAME, Channel, ChannelConfig, Notification, secret
from pipeline.errors import ChannelConfigError, DeliveryError, DeliveryRefusedError

API_BASE = "https://api.telegram.org"
MAX_TEXT = 4096  # characters of a message's text (Bot API sendMessage)
_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")  # what BotFather hands out
_CHAT = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,}|-?[0-9]+")
_ANSWER_BYTES = 65_536  # the JSON answer's `description` and `parameters`; never more


class TelegramConfig(ChannelConfig):
    """`chat_id` (a number such as -1001234567890, or "@channelname"), `token_env` (the
    variable holding the bot token), `api_base` (another Bot API server; tests use a local
    one) and `disable_preview` (no link preview under the message, default true)."""

    type: Literal["telegram"]
    chat_id: int | str
    token_env: str = Field(pattern=ENV_NAME)
    api_base: str = API_BASE
    disable_preview: bool = True

    @field_validator("chat_id")
    @classmethod
    def _chat(cls, chat: int | str) -> int | str:
        if isinstance(chat, str) and not _CHAT.fullmatch(chat):
            raise ValueError("a chat id is a number (-1001234567890) or @channelname")
        return chat

    @field_validator("api_base")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("a Bot API server is http:// or https://")
        return url.rstrip("/")


def request_body(config: TelegramConfig, note: Notification) -> dict[str, Any]:
    """Plain text (no parse_mode: nothing in a title can break the markup), cut to the
    message limit (a long digest loses its last lines)."""
    text = note.text()
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return {
        "chat_id": config.chat_id,
        "text": text,
        "disable_web_page_preview": config.disable_preview,
    }


def _answer(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class TelegramChannel(Channel[TelegramConfig]):
    config_model = TelegramConfig

    async def send(self, note: Notification) -> None:
        name = self.config.token_env
        token = secret(name)
        if not _TOKEN.fullmatch(token):  # also keeps a stray '/' or space out of the URL
            raise ChannelConfigError(f"environment variable {name} does not hold a bot token")
        url = f"{self.config.api_base}/bot{token}/sendMessage"
        withhold_in_logs(url)
        host = host_of(url)
        body = json.dumps(request_body(self.config, note), ensure_ascii=False).encode()
        answer = await post(
            self.context.http,
            url,
            body,
            {"content-type": "application/json"},
            read_bytes=_ANSWER_BYTES,
        )
        if 200 <= answer.status < 300:
            return
        reply = _answer(answer.body)
        said = str(reply.get("description") or "").replace(token, "<token>")[:200]
        reason = f"{host} answered {answer.status}" + (f": {said}" if said else "")
        if answer.status == 429:  # flood control: wait as long as Telegram says
            params = reply.get("parameters")
            wait = params.get("retry_after") if isinstance(params, dict) else None
            retry_after = float(wait) if isinstance(wait, int | float) else None
            raise DeliveryError(reason, retry_after=retry_after)
        if 400 <= answer.status < 500:  # a wrong chat, a revoked token, a blocked bot
            raise DeliveryRefusedError(reason)
        raise DeliveryError(reason)  # 5xx (and a 3xx, which is not followed)
