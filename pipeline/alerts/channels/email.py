"""E-mail channel: the notification's text by SMTP (server and login from MEDIAMON_SMTP_*)."""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from email.message import EmailMessage
from typing import Literal

from pydantic import Field, field_validator

from pipeline.alerts.channels.base import ID_HEADER, Channel, ChannelConfig, Notification
from pipeline.errors import ChannelConfigError, DeliveryError
from pipeline.settings import Settings


class EmailConfig(ChannelConfig):
    """`to` (one or more addresses) and `sender` (default MEDIAMON_SMTP_SENDER). SMTP server,
    STARTTLS and login come from the settings (MEDIAMON_SMTP_*)."""

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    sender: str | None = None

    @field_validator("to")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return values


def message(config: EmailConfig, note: Notification, settings: Settings) -> EmailMessage:
    msg = EmailMessage()
    prefix = "digest" if note.kind == "digest" else "alert"
    msg["Subject"] = f"[mediamon {prefix}] {note.rule_name}: {note.articles[0].title}"
    msg["From"] = config.sender or settings.smtp_sender
    msg["To"] = ", ".join(config.to)
    # the same for a re-send: a mail filter or a reader can drop the repeat
    msg[ID_HEADER] = note.id
    msg["Message-ID"] = f"<{note.id}@mediamon>"
    msg.set_content(note.text())
    return msg


def send_mail(config: EmailConfig, note: Notification, settings: Settings) -> None:
    if not settings.smtp_host:
        raise ChannelConfigError("MEDIAMON_SMTP_HOST is not set")
    msg = message(config, note, settings)
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


class EmailChannel(Channel[EmailConfig]):
    config_model = EmailConfig

    async def send(self, note: Notification) -> None:
        # smtplib blocks: a thread, so other rules' deliveries go on meanwhile
        await asyncio.to_thread(send_mail, self.config, note, self.context.settings)
