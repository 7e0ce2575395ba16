"""Secrets never leak: set recognisable secret values, go through the code paths that log or
raise (client construction, unreachable servers, failing channels, `mediamon status`), and
look for them in every log record (all loggers at DEBUG), stdout, stderr, exception texts and
the payloads the channels receive."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from typer.testing import CliRunner

from pipeline.adapters import elastic, kafka
from pipeline.alerts.channels import ChannelContext, make_channel
from pipeline.alerts.channels.base import Notification
from pipeline.alerts.channels.email import EmailConfig, send_mail
from pipeline.alerts.channels.slack import SlackConfig
from pipeline.alerts.channels.webhook import SIGNATURE_HEADER, WebhookConfig, sign
from pipeline.errors import DeliveryError
from pipeline.settings import Settings
from tests.notes import sample_note
from tests.support.aioserver import serve

SECRETS = {
    "MEDIAMON_ES_PASSWORD": "es-pw-5ecret-1",
    "MEDIAMON_ES_API_KEY": "es-apikey-5ecret-2",
    "MEDIAMON_KAFKA_PASSWORD": "kafka-pw-5ecret-3",
    "MEDIAMON_SMTP_PASSWORD": "smtp-pw-5ecret-4",
    "MEDIAMON_KIBANA_PASSWORD": "kibana-pw-5ecret-5",
    "MM_LEAK_HOOK_SECRET": "hmac-5ecret-6",
    # the Slack URL's path is the credential; its host is not secret
    "MM_LEAK_SLACK_URL": "http://127.0.0.1:{port}/services/T0/B0/slack-5ecret-7",
}
SECRET_MARK = "5ecret"  # every value above contains it; none of the public text does


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: refused


@pytest.fixture
def closed_port() -> int:
    return _closed_port()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> dict[str, str]:
    values = {k: v.format(port=closed_port) for k, v in SECRETS.items()}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MEDIAMON_ES_USERNAME", "mediamon")
    monkeypatch.setenv("MEDIAMON_KAFKA_USERNAME", "pipe")
    monkeypatch.setenv("MEDIAMON_SMTP_USERNAME", "mailer")
    monkeypatch.setenv("MEDIAMON_KIBANA_USERNAME", "kib")
    return values


@pytest.fixture
def everything(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog on the root logger at DEBUG, every named logger let through to it."""
    caplog.set_level(logging.DEBUG)
    quiet = {
        name: lg.level
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    for name in quiet:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


def assert_clean(*texts: object) -> None:
    for text in texts:
        assert SECRET_MARK not in str(text), f"secret found in: {str(text)[:2000]}"


def chain(exc: BaseException) -> str:
    """Every exception in the chain (causes and contexts), as type, message and repr."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 20:
        parts.append(f"{type(seen).__name__}: {seen} {seen!r} {seen.args!r}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    # the formatted messages and any traceback attached to a record
    handler = caplog.handler
    lines = [handler.format(r) for r in caplog.records]
    return "\n".join(lines) + caplog.text


def test_settings_repr_str_and_dumps_hide_every_secret(secret_env: dict[str, str]) -> None:
    settings = Settings()
    assert settings.es_password is not None
    assert settings.es_password.get_secret_value() == secret_env["MEDIAMON_ES_PASSWORD"]
    assert_clean(repr(settings), str(settings), settings.model_dump(), settings.model_dump_json())
    assert_clean(repr(settings.kafka_password), f"{settings.smtp_password}")


async def test_client_construction_logs_no_secret(
    secret_env: dict[str, str], everything: pytest.LogCaptureFixture, closed_port: int
) -> None:
    settings = Settings(
        es_url=f"https://127.0.0.1:{closed_port}",
        es_verify_certs=False,  # the warning it logs names the URL, not the credentials
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
    )
    es = elastic.make_client(settings)
    opts = kafka.client_options(settings)
    producer = kafka.make_producer(settings)
    assert isinstance(opts["ssl_context"], ssl.SSLContext)
    assert_clean(_log_text(everything), repr(es), repr(es.transport), repr(producer))
    await producer.stop()
    await es.close()


async def test_unreachable_elasticsearch_errors_carry_no_secret(
    secret_env: dict[str, str],
    everything: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    closed_port: int,
) -> None:
    for api_key in (True, False):  # API key, then basic auth
        settings = Settings(es_url=f"http://127.0.0.1:{closed_port}")
        if not api_key:
            settings = settings.model_copy(update={"es_api_key": None})
        es = elastic.make_client(settings)
        try:
            with pytest.raises(Exception) as caught:
                await es.info()
        finally:
            await es.close()
        assert_clean(str(caught.value), repr(caught.value), chain(caught.value))
    out, err = capfd.readouterr()
    assert_clean(_log_text(everything), out, err)


async def test_unreachable_kafka_with_sasl_logs_no_secret(
    secret_env: dict[str, str],
    everything: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    closed_port: int,
) -> None:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{closed_port}")
    assert settings.kafka_protocol == "SASL_PLAINTEXT"
    assert not await kafka.broker_ready(settings.kafka_bootstrap, 1.0, settings=settings)
    producer = kafka.make_producer(settings)
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()
    assert_clean(str(caught.value), repr(caught.value), chain(caught.value))
    out, err = capfd.readouterr()
    assert_clean(_log_text(everything), out, err)


def test_faust_credentials_repr_hides_the_password(secret_env: dict[str, str]) -> None:
    import faust

    opts = kafka.client_options(Settings())
    creds = faust.SASLCredentials(
        username=opts["sasl_plain_username"],
        password=opts["sasl_plain_password"],
        mechanism=opts["sasl_mechanism"],
    )
    assert_clean(repr(creds), str(creds))


class Channels:
    """A local aiohttp server answering every POST with `status`; it keeps what it got."""

    def __init__(self) -> None:
        self.status = 500
        self.ok_paths: set[str] = set()  # answered 200
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        self.headers.append(dict(request.headers))
        status = 200 if request.path in self.ok_paths else self.status
        return web.Response(status=status, text="plain error")


@pytest.fixture
async def channels() -> AsyncIterator[Channels]:
    server = Channels()
    async with serve(server.handle, "POST") as server.port:
        yield server


def _note() -> Notification:
    return sample_note()


async def test_failing_webhook_and_slack_leak_nothing(
    secret_env: dict[str, str],
    everything: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    channels: Channels,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack_url = secret_env["MM_LEAK_SLACK_URL"].replace(
        str(_port_of(secret_env["MM_LEAK_SLACK_URL"])), str(channels.port)
    )
    monkeypatch.setenv("MM_LEAK_SLACK_URL", slack_url)
    settings = Settings()
    hook = WebhookConfig(
        type="webhook",
        url=f"http://127.0.0.1:{channels.port}/hook",
        secret_env="MM_LEAK_HOOK_SECRET",
    )
    slack = SlackConfig(type="slack", url_env="MM_LEAK_SLACK_URL")
    errors = []
    async with httpx.AsyncClient() as client:
        for channel in (hook, slack):
            with pytest.raises(DeliveryError) as caught:
                await make_channel(channel, ChannelContext(settings, client)).send(_note())
            errors.append(caught.value)
    assert [str(e) for e in errors] == [f"127.0.0.1:{channels.port} answered 500"] * 2
    # both reached the server; the payloads (what the receiver sees) hold no secret
    assert len(channels.bodies) == 2
    assert json.loads(channels.bodies[0])["rule"]["id"] == "r1"
    assert channels.headers[0][SIGNATURE_HEADER] == sign(
        secret_env["MM_LEAK_HOOK_SECRET"], channels.bodies[0]
    )
    out, err = capfd.readouterr()
    assert_clean(_log_text(everything), out, err, *errors, *channels.bodies)
    assert_clean(*(json.dumps(h) for h in channels.headers))
    # httpx's own INFO line for each request is there, with the Slack URL withheld
    requests = [r.getMessage() for r in everything.records if r.name == "httpx"]
    assert len(requests) == 2 and "URL withheld" in requests[1]


def _port_of(url: str) -> int:
    return httpx.URL(url).port or 0


async def test_alert_deliverer_retry_logs_leak_nothing(
    secret_env: dict[str, str],
    everything: pytest.LogCaptureFixture,
    channels: Channels,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's path: AlertDeliverer retries a failing channel and logs each failure."""
    from datetime import UTC, datetime

    from pipeline.alerts.delivery import AlertDeliverer
    from pipeline.alerts.matching import RulesFile
    from pipeline.schema import AlertEvent

    slack_url = f"http://127.0.0.1:{channels.port}/services/T0/B0/slack-5ecret-7"
    monkeypatch.setenv("MM_LEAK_SLACK_URL", slack_url)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "channels:\n"
        f"  hook: {{type: webhook, url: 'http://127.0.0.1:{channels.port}/h',"
        " secret_env: MM_LEAK_HOOK_SECRET}\n"
        "  chat: {type: slack, url_env: MM_LEAK_SLACK_URL}\n"
        "rules:\n  - {id: r1, query: Astana, channels: [hook, chat]}\n"
    )
    channels.ok_paths = {"/h"}  # the webhook takes it; Slack then fails (500)
    settings = Settings(rules_file=rules, alert_delivery_attempts=2)

    async def no_sleep(_: float) -> None:
        return None

    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    event = AlertEvent.model_validate(
        {
            "id": "r1:a1",
            "rule_id": "r1",
            "rule_name": "r1",
            "article_id": "a1",
            "story_id": "s1",
            "title": "Astana talks",
            "url": "https://news.example/a1",
            "matched_at": now.isoformat(),
            "channels": ["hook", "chat"],
        }
    )
    async with httpx.AsyncClient() as client:
        deliverer = AlertDeliverer(
            settings, RulesFile(rules), {}, client, clock=lambda: now, sleep=no_sleep
        )
        outcome = await deliverer.handle(event)
    assert outcome.status == "failed" and outcome.error
    assert_clean(_log_text(everything), outcome.error, json.dumps(outcome.documents))
    assert_clean(*channels.bodies)


def test_smtp_failure_leaks_no_password(
    secret_env: dict[str, str], everything: pytest.LogCaptureFixture, closed_port: int
) -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=closed_port)
    channel = EmailConfig(type="email", to=["desk@example.org"])
    with pytest.raises(DeliveryError) as caught:
        send_mail(channel, _note(), settings)
    assert str(caught.value) == "smtp 127.0.0.1: ConnectionRefusedError"
    assert_clean(str(caught.value), chain(caught.value), _log_text(everything))


def test_status_json_against_unreachable_servers_shows_no_secret(
    secret_env: dict[str, str],
    everything: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from mediamon.main import app
    from pipeline.settings import get_settings

    monkeypatch.setenv("MEDIAMON_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("MEDIAMON_ES_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("MEDIAMON_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["status", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [s["reachable"] for s in report["services"]] == [False, False]
    out, err = capfd.readouterr()
    assert_clean(result.output, result.stdout, out, err, _log_text(everything))
    assert_clean(repr(result.exception) if result.exception else "")


def test_unreachable_kibana_errors_carry_no_secret(
    secret_env: dict[str, str], everything: pytest.LogCaptureFixture, closed_port: int
) -> None:
    from pipeline.adapters import kibana
    from pipeline.errors import TransientError

    for url in (
        f"http://127.0.0.1:{closed_port}",
        f"http://kib:url-pw-5ecret-8@127.0.0.1:{closed_port}",  # credentials in the URL
    ):
        settings = Settings(kibana_url=url)
        if "@" in url:
            settings = settings.model_copy(update={"kibana_password": None})
        with kibana.make_client(settings) as client, pytest.raises(TransientError) as caught:
            kibana.apply_advanced_settings(client)
        assert_clean(str(caught.value), chain(caught.value), repr(client), client.base_url)
    assert_clean(_log_text(everything))
