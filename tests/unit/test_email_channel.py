"""The e-mail channel against a real (local, in-process) SMTP server: login, content, and
the password kept out of the message and out of error texts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline.alerts.channels import ChannelContext
from pipeline.alerts.channels.email import EmailChannel, EmailConfig
from pipeline.errors import DeliveryError
from pipeline.settings import Settings
from tests.notes import sample_note

PASSWORD = "smtp-pa55"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and data.password.decode() == PASSWORD:
            self.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,  # the test server has no certificate; STARTTLS is off below
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


NOTE = sample_note(title="Переговоры по Сирии в Астане", rule=("astana", "Astana talks"))


def _send(settings: Settings) -> None:
    async def send() -> None:
        async with httpx.AsyncClient() as client:
            channel = EmailChannel(
                EmailConfig(type="email", to=["desk@example.org"]), ChannelContext(settings, client)
            )
            await channel.send(NOTE)

    asyncio.run(send())


def _settings(port: int, password: str = PASSWORD) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_username="alerts",
        smtp_password=password,
        smtp_sender="mediamon@example.org",
    )


def test_alert_mail_is_delivered_with_login(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _send(_settings(port))
    ((recipients, message),) = inbox.messages
    assert recipients == ["desk@example.org"] and inbox.logins == ["alerts"]
    assert message["From"] == "mediamon@example.org"
    assert "Astana talks" in message["Subject"]
    # a re-send after a kill carries the same id: receivers can drop it
    assert message["X-Mediamon-Alert-Id"] == "5f0c3a9e"
    assert message["Message-ID"] == "<5f0c3a9e@mediamon>"
    body = message.get_payload(decode=True).decode()
    assert "https://news.example/a1" in body and "Переговоры по Сирии" in body
    assert PASSWORD not in body


def test_refused_login_is_a_delivery_error_without_the_password(smtp: tuple[Inbox, int]) -> None:
    _, port = smtp
    with pytest.raises(DeliveryError) as caught:
        _send(_settings(port, "wrong-secret"))
    assert "wrong-secret" not in str(caught.value) and "SMTP" in str(caught.value)
