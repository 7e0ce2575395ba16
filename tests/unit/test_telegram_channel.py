"""The Telegram channel against a fake Bot API server on 127.0.0.1: the request it makes,
flood control (429 + retry_after) retried, a 400 not retried, and the bot token (which the
Bot API puts in the URL path) nowhere in logs, errors or alert records."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from pipeline.alerts.channels import ChannelContext
from pipeline.alerts.channels.base import Notification, NotifiedArticle
from pipeline.alerts.channels.telegram import MAX_TEXT, TelegramChannel, TelegramConfig
from pipeline.alerts.delivery import AlertDeliverer
from pipeline.alerts.matching import RulesFile
from pipeline.errors import ChannelConfigError, DeliveryError, DeliveryRefusedError
from pipeline.schema import AlertEvent
from pipeline.settings import Settings
from tests.notes import sample_note
from tests.support.aioserver import serve

TOKEN = "123456789:AAHt0ken5ecretPartOfTheBotToken_x-Y"
TOKEN_ENV = "MM_TEST_TELEGRAM_TOKEN"


class BotAPI:
    """Answers sendMessage with the next scripted (status, JSON) or 200 ok; keeps requests."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # path, content type, body
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((request.path, request.headers.get("content-type", ""), body))
        status, answer = self.answers.pop(0) if self.answers else (200, {"ok": True})
        return web.json_response(answer, status=status)


@pytest.fixture
async def bot_api() -> AsyncIterator[BotAPI]:
    server = BotAPI()
    async with serve(server.handle, "POST") as server.port:
        yield server


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG (httpx and httpcore included), restored afterwards."""
    caplog.set_level(logging.DEBUG)
    loggers = [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    yield caplog
    for lg, level in levels:
        lg.setLevel(level)


def _config(api_base: str, chat_id: int | str = -1001234567890) -> TelegramConfig:
    return TelegramConfig(type="telegram", chat_id=chat_id, token_env=TOKEN_ENV, api_base=api_base)


async def _send(config: TelegramConfig, note: Notification | None = None) -> None:
    async with httpx.AsyncClient() as client:
        await TelegramChannel(config, ChannelContext(Settings(), client)).send(
            note or sample_note()
        )


def _chain(exc: BaseException) -> str:
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(f"{type(seen).__name__}: {seen} {seen!r} {seen.args!r}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _assert_no_token(*texts: object) -> None:
    secret_part = TOKEN.split(":", 1)[1]
    for text in texts:
        assert secret_part not in str(text), str(text)[:2000]


async def test_send_message_request(
    bot_api: BotAPI, token: str, logs: pytest.LogCaptureFixture
) -> None:
    note = sample_note(title="Talks <b>&</b> peace")
    await _send(_config(bot_api.base), note)
    ((path, content_type, body),) = bot_api.requests
    assert path == f"/bot{token}/sendMessage"
    assert content_type == "application/json"
    # plain text (no parse_mode), so markup-like characters in titles go as they are
    assert body == {
        "chat_id": -1001234567890,
        "text": note.text(),
        "disable_web_page_preview": True,
    }
    assert "Talks <b>&</b> peace" in body["text"] and "https://news.example/a1" in body["text"]
    # httpx logs each request at INFO: with the host, not the URL that holds the token
    lines = [r.getMessage() for r in logs.records if r.name == "httpx"]
    assert len(lines) == 1 and "URL withheld" in lines[0]
    _assert_no_token(logs.text)


async def test_channel_names_and_long_digests(bot_api: BotAPI, token: str) -> None:
    article = NotifiedArticle(
        id="a", title="x" * 300, url="https://n.example/a", source_name="N", domain="", lang="en",
        story_id="a",
    )  # fmt: skip
    note = Notification(
        id="d1",
        kind="digest",
        rule_id="r1",
        rule_name="R",
        articles=(article,) * 40,
        sent_at=sample_note().sent_at,
    )
    await _send(_config(bot_api.base, chat_id="@newsdesk"), note)
    (_, _, body) = bot_api.requests[0]
    assert body["chat_id"] == "@newsdesk"
    assert len(body["text"]) == MAX_TEXT and body["text"].startswith("mediamon digest for rule R")


async def test_flood_control_is_a_retry_after_the_wait_telegram_asks(
    bot_api: BotAPI, token: str
) -> None:
    bot_api.answers = [
        (429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 3}}),
    ]
    with pytest.raises(DeliveryError) as caught:
        await _send(_config(bot_api.base))
    assert not isinstance(caught.value, DeliveryRefusedError)
    assert caught.value.retry_after == 3.0 and "answered 429" in str(caught.value)


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_retried(bot_api: BotAPI, token: str, status: int) -> None:
    bot_api.answers = [(status, {"ok": False, "error_code": status})]
    with pytest.raises(DeliveryError) as caught:
        await _send(_config(bot_api.base))
    assert caught.value.retry_after is None and f"answered {status}" in str(caught.value)


async def test_a_bad_request_is_a_permanent_failure_without_the_token(
    bot_api: BotAPI, token: str, logs: pytest.LogCaptureFixture
) -> None:
    # a server that repeats the URL in its description must not make the error repeat it
    said = f"Bad Request: chat not found (POST /bot{token}/sendMessage)"
    bot_api.answers = [(400, {"ok": False, "error_code": 400, "description": said})]
    with pytest.raises(DeliveryRefusedError) as caught:
        await _send(_config(bot_api.base))
    assert "answered 400: Bad Request: chat not found" in str(caught.value)
    assert "<token>" in str(caught.value)
    _assert_no_token(_chain(caught.value), logs.text)


async def test_an_unreachable_api_leaks_no_token(
    token: str, logs: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: connections are refused
    with pytest.raises(DeliveryError) as caught:
        await _send(_config(f"http://127.0.0.1:{port}"))
    assert str(caught.value) == f"127.0.0.1:{port}: ConnectError"
    # no httpx exception rides along: its request holds the URL with the token
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    _assert_no_token(_chain(caught.value), logs.text)


async def test_a_missing_or_malformed_token_is_a_config_error(
    bot_api: BotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ChannelConfigError, match=f"{TOKEN_ENV} is not set"):
        await _send(_config(bot_api.base))
    monkeypatch.setenv(TOKEN_ENV, "12345:abc/../../x")
    with pytest.raises(ChannelConfigError) as caught:
        await _send(_config(bot_api.base))
    assert "does not hold a bot token" in str(caught.value) and "abc" not in str(caught.value)
    assert bot_api.requests == []


# --- through the deliverer: what the worker does with each answer ------------------------


def _deliverer(tmp_path: Path, api_base: str, client: httpx.AsyncClient) -> AlertDeliverer:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "channels:\n"
        f"  tg: {{type: telegram, chat_id: -100777, token_env: {TOKEN_ENV},"
        f" api_base: '{api_base}'}}\n"
        "rules:\n  - {id: r1, query: Astana, channels: [tg]}\n"
    )
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    deliverer = AlertDeliverer(
        Settings(alert_delivery_attempts=3), RulesFile(rules), {}, client, sleep=sleep
    )
    deliverer.sleeps = sleeps  # type: ignore[attr-defined]
    return deliverer


def _event() -> AlertEvent:
    return AlertEvent(
        id="r1:a1",
        rule_id="r1",
        rule_name="Astana",
        article_id="a1",
        story_id="a1",
        title="Astana talks",
        url="https://news.example/a1",
        channels=["tg"],
    )


async def test_deliverer_waits_as_asked_then_sends(
    bot_api: BotAPI, token: str, tmp_path: Path
) -> None:
    bot_api.answers = [(429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 2}})]
    async with httpx.AsyncClient() as client:
        deliverer = _deliverer(tmp_path, bot_api.base, client)
        outcome = await deliverer.handle(_event())
    assert outcome.status == "sent" and len(bot_api.requests) == 2
    assert deliverer.sleeps == [2.0]  # type: ignore[attr-defined]


async def test_deliverer_leaves_a_long_wait_to_the_retry_topic(
    bot_api: BotAPI, token: str, tmp_path: Path
) -> None:
    bot_api.answers = [(429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 60}})]
    async with httpx.AsyncClient() as client:
        deliverer = _deliverer(tmp_path, bot_api.base, client)
        outcome = await deliverer.handle(_event(), last_attempt=False)
    assert outcome.status == "retry" and len(bot_api.requests) == 1
    assert deliverer.sleeps == []  # type: ignore[attr-defined]


async def test_deliverer_does_not_retry_a_refusal_and_records_no_token(
    bot_api: BotAPI, token: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    bot_api.answers = [(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})]
    async with httpx.AsyncClient() as client:
        deliverer = _deliverer(tmp_path, bot_api.base, client)
        outcome = await deliverer.handle(_event(), last_attempt=False)
    assert outcome.status == "failed" and len(bot_api.requests) == 1
    assert outcome.error == f"tg: 127.0.0.1:{bot_api.port} answered 401: Unauthorized"
    _assert_no_token(outcome.error, json.dumps(outcome.documents), logs.text)
