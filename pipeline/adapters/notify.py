"""Notification channels: generic webhook (HMAC-signed), Slack incoming webhook, SMTP e-mail.

Secrets come from the environment variable a channel names; they are never logged, never put
into payloads, and an error message never repeats them (URLs are reduced to their host)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipeline.alerts.rules import EmailChannel, SlackChannel, WebhookChannel
from pipeline.settings import Settings

SIGNATURE_HEADER = "X-Mediamon-Signature"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class DeliveryError(Exception):
    """A channel did not take the notification (worth retrying)."""


class ChannelConfigError(DeliveryError):
    """The channel cannot work as configured (a missing secret): retrying will not help."""


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ChannelConfigError(f"environment variable {name} is not set")
    return value


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _host(url: str) -> str:
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or "?"


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        resp = await client.post(url, content=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{_host(url)}: {type(exc).__name__}") from None
    if resp.status_code >= 300:
        raise DeliveryError(f"{_host(url)} answered {resp.status_code}")


def text_of(note: dict[str, Any]) -> str:
    """Plain-text rendering shared by Slack and e-mail."""
    rule = note["rule"]
    if note["kind"] == "digest":
        lines = [f"mediamon digest for rule {rule['name']} ({len(note['articles'])} more):"]
    else:
        lines = [f"mediamon alert: {rule['name']}"]
    for art in note["articles"]:
        lines.append(f"- {art['title']} ({art['source_name'] or art['domain']}, {art['lang']})")
        lines.append(f"  {art['url']}")
        if art.get("also_reported_by"):
            lines.append(f"  also reported by: {', '.join(art['also_reported_by'])}")
    return "\n".join(lines)


async def deliver(
    channel: WebhookChannel | SlackChannel | EmailChannel,
    note: dict[str, Any],
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    if isinstance(channel, WebhookChannel):
        body = json.dumps(note, ensure_ascii=False, default=str).encode()
        headers = {"content-type": "application/json", "user-agent": "mediamon-alerts"}
        if channel.secret_env:
            headers[SIGNATURE_HEADER] = sign(_env(channel.secret_env), body)
        await _post(client, channel.url, body, headers)
    elif isinstance(channel, SlackChannel):
        body = json.dumps({"text": text_of(note)}, ensure_ascii=False).encode()
        await _post(client, _env(channel.url_env), body, {"content-type": "application/json"})
    else:
        await asyncio.to_thread(_send_mail, channel, note, settings)


def _send_mail(channel: EmailChannel, note: dict[str, Any], settings: Settings) -> None:
    if not settings.smtp_host:
        raise ChannelConfigError("MEDIAMON_SMTP_HOST is not set")
    msg = EmailMessage()
    prefix = "digest" if note["kind"] == "digest" else "alert"
    msg["Subject"] = f"[mediamon {prefix}] {note['rule']['name']}: {note['articles'][0]['title']}"
    msg["From"] = channel.sender or settings.smtp_sender
    msg["To"] = ", ".join(channel.to)
    msg.set_content(text_of(note))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        # the exception text of a failed login can echo the exchange: keep only its class
        raise DeliveryError(f"smtp {settings.smtp_host}: {type(exc).__name__}") from None
