"""Notification channels: generic webhook (HMAC-signed), Slack incoming webhook, SMTP e-mail.

Secrets come from the environment variable a channel names; they are never logged, never put
into payloads, and an error message never repeats them (URLs are reduced to their host)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
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
ID_HEADER = "X-Mediamon-Alert-Id"  # the notification's stable id: drop a repeat of it
TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # connect, and each read or write
TOTAL_TIMEOUT = 30.0  # the whole request, however slowly the server trickles its answer
# Only the status is used; the body is never read (a channel that answers with an endless
# body costs nothing). Redirects are not followed: the signed alert goes where the channel
# says, or it is a failed delivery (the 3xx is the reason).


class _SecretURLFilter(logging.Filter):
    """httpx logs each request's full URL at INFO; a Slack incoming-webhook URL is a
    credential, so the URLs read from a channel's secret variable are logged as their host."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls and isinstance(record.args, tuple):
            record.args = tuple(
                f"{_host(str(a))} (URL withheld)" if str(a) in self.urls else a for a in record.args
            )
        return True


_SECRET_URLS = _SecretURLFilter()
logging.getLogger("httpx").addFilter(_SECRET_URLS)


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


def _secret_url(name: str) -> str:
    """A URL that is itself a credential (a Slack incoming webhook), from its variable."""
    url = _env(name)
    if not url.startswith(("http://", "https://")):
        raise ChannelConfigError(f"environment variable {name} is not an http(s) URL")
    _SECRET_URLS.urls.add(str(httpx.URL(url)))
    return url


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    if not url.startswith(("http://", "https://")):
        raise ChannelConfigError(f"{_host(url)}: only http/https channels")
    try:
        async with (
            asyncio.timeout(TOTAL_TIMEOUT),
            client.stream(
                "POST", url, content=body, headers=headers, timeout=TIMEOUT, follow_redirects=False
            ) as resp,
        ):
            status = resp.status_code
    except TimeoutError:
        raise DeliveryError(f"{_host(url)}: no answer within {TOTAL_TIMEOUT:.0f}s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{_host(url)}: {type(exc).__name__}") from None
    if status >= 300:
        raise DeliveryError(f"{_host(url)} answered {status}")


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
        if note.get("id"):
            headers[ID_HEADER] = str(note["id"])
        if channel.secret_env:
            headers[SIGNATURE_HEADER] = sign(_env(channel.secret_env), body)
        await _post(client, channel.url, body, headers)
    elif isinstance(channel, SlackChannel):
        body = json.dumps({"text": text_of(note)}, ensure_ascii=False).encode()
        url = _secret_url(channel.url_env)
        await _post(client, url, body, {"content-type": "application/json"})
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
    if note.get("id"):  # the same for a re-send: a mail filter or a reader can drop the repeat
        msg[ID_HEADER] = str(note["id"])
        msg["Message-ID"] = f"<{note['id']}@mediamon>"
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
