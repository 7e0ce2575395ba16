"""mediamon's Kafka clients against a real broker that requires SASL (PLAIN and SCRAM-SHA-512),
without and with TLS: its own broker on 59092 (SASL_PLAINTEXT), 59094 (SASL_SSL, a certificate
made at start) and 59093 (controller); the shared test stack's 19092 stays PLAINTEXT. The
passwords are made up for this session only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import stat
import time
import uuid
from collections.abc import Iterator

import faust
import pytest
from pydantic import SecretStr

from connectors.emitter import KafkaEmitter
from deploy.kafka_sasl import SaslKafkaServer, SaslUser, random_password
from deploy.stack import start_services
from mediamon.probes import collect
from pipeline.adapters.kafka import broker_ready, make_producer, start_client
from pipeline.adapters.kafka_admin import ensure_topics
from pipeline.app import credentials as credentials_of
from pipeline.deadletters import read_topic
from pipeline.errors import ConfigError
from pipeline.schema import RawArticle
from pipeline.settings import Settings
from tests.support.paths import REPO
from tests.support.ports import KAFKA_SASL

SASL_SETTINGS = Settings(
    kafka_port=KAFKA_SASL.kafka,  # 59092
    kafka_controller_port=KAFKA_SASL.kafka_controller,  # 59093
    kafka_bootstrap=KAFKA_SASL.kafka_bootstrap,
    state_dir=REPO / ".state" / "sasl-stack",
)
MECHANISMS = ["PLAIN", "SCRAM-SHA-512"]
TLS_PORT = KAFKA_SASL.others["kafka_tls"]  # 59094


@pytest.fixture(scope="module")
def broker() -> Iterator[SaslKafkaServer]:
    users = [SaslUser("broker", random_password()), SaslUser("mediamon", random_password())]
    server = SaslKafkaServer(SASL_SETTINGS, users, tls_port=TLS_PORT)
    server.stop()  # a broker left by an interrupted run holds the old passwords
    shutil.rmtree(server.dir, ignore_errors=True)  # SCRAM users are written at format time
    started = time.monotonic()
    try:
        start_services([server], timeout=180)
        logging.getLogger(__name__).info("SASL broker up in %.1fs", time.monotonic() - started)
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)  # the PLAIN passwords are in its config


def _client(
    broker: SaslKafkaServer, mechanism: str, password: SecretStr | None = None, tls: bool = False
) -> Settings:
    user = broker.users[1]
    settings = broker.client_settings(
        SaslUser(user.name, password or user.password), mechanism, tls
    )
    return settings.model_copy(update={"namespace": f"t{uuid.uuid4().hex[:10]}-"})


def test_broker_refuses_anonymous_clients_and_keeps_passwords_private(
    broker: SaslKafkaServer,
) -> None:
    assert broker.healthy()
    # a PLAINTEXT client gets nothing from the SASL listener
    assert not asyncio.run(broker_ready(broker.url, wait_seconds=2))
    props = broker.dir / "server.properties"
    assert stat.S_IMODE(props.stat().st_mode) == 0o600
    text = props.read_text()
    assert "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512" in text
    assert "PLAINTEXT://" not in text.replace("SASL_PLAINTEXT://", "")
    assert f"SASL_SSL://127.0.0.1:{TLS_PORT}" in text
    keystore = broker.dir / "tls" / "broker.p12"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert "BEGIN CERTIFICATE" in broker.ca_file.read_text()


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_producer_and_consumer_round_trip(
    broker: SaslKafkaServer, mechanism: str, tls: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _client(broker, mechanism, tls=tls)
    caplog.set_level(logging.DEBUG)
    created = await ensure_topics(settings)  # the admin client logs in too
    raw = settings.topic("articles.raw")
    assert raw in created
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        await producer.send_and_wait(raw, mechanism.encode(), key=b"article-1")
    finally:
        await producer.stop()
    records = await read_topic(settings, raw)
    assert [(r.key, r.value) for r in records] == [(b"article-1", mechanism.encode())]
    assert await broker_ready(settings.kafka_bootstrap, settings=settings)
    # aiokafka logs each request at DEBUG; PLAIN's would carry the password
    assert "SaslAuthenticateRequest" in caplog.text
    assert broker.users[1].password.get_secret_value() not in caplog.text


@pytest.mark.parametrize(
    ("mechanism", "reason"),
    [
        ("PLAIN", "Invalid username or password"),
        ("SCRAM-SHA-512", "invalid credentials with SASL mechanism SCRAM-SHA-512"),
        ("SCRAM-SHA-256", "UnsupportedSaslMechanism"),  # not enabled on this broker
    ],
)
async def test_wrong_password_is_a_clear_error_without_the_password(
    broker: SaslKafkaServer, mechanism: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = SecretStr(f"wrong-{uuid.uuid4().hex}")
    settings = _client(broker, mechanism, wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as info:
        await ensure_topics(settings)
    message = str(info.value)
    assert f"refused the login of user 'mediamon' with SASL {mechanism}" in message
    assert reason in message and "MEDIAMON_KAFKA_PASSWORD" in message
    secret = wrong.get_secret_value()
    chain: list[BaseException] = []
    exc: BaseException | None = info.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert all(secret not in repr(e) and secret not in str(e) for e in chain)
    assert secret not in caplog.text
    assert secret not in repr(settings) and broker.users[1].password.get_secret_value() not in (
        message + caplog.text
    )
    # the status probe reports the broker as unreachable with these credentials
    assert not await broker_ready(settings.kafka_bootstrap, wait_seconds=2, settings=settings)


async def test_an_untrusted_broker_certificate_is_a_clear_error(
    broker: SaslKafkaServer,
) -> None:
    # the system's CAs do not know the broker's self-signed certificate
    settings = _client(broker, "SCRAM-SHA-512", tls=True).model_copy(update={"kafka_ca_file": None})
    with pytest.raises(ConfigError) as info:
        await ensure_topics(settings)
    message = str(info.value)
    assert f"Kafka at 127.0.0.1:{TLS_PORT} failed TLS verification" in message
    assert "certificate" in message and "MEDIAMON_KAFKA_CA_FILE" in message
    status = await collect(settings)
    kafka = next(s for s in status.services if s["service"] == "kafka")
    assert not kafka["reachable"] and "failed TLS verification" in kafka["detail"]
    # the CA file given, the same client connects
    trusted = settings.model_copy(update={"kafka_ca_file": broker.ca_file})
    assert raw_topic(trusted) in await ensure_topics(trusted)


def raw_topic(settings: Settings) -> str:
    return settings.topic("articles.raw")


async def test_status_says_the_kafka_login_was_refused(broker: SaslKafkaServer) -> None:
    wrong = SecretStr(f"wrong-{uuid.uuid4().hex}")
    settings = _client(broker, "SCRAM-SHA-512", wrong)
    status = await collect(settings)
    kafka = next(s for s in status.services if s["service"] == "kafka")
    assert not kafka["reachable"] and not status.healthy
    assert "refused the login of user 'mediamon' with SASL SCRAM-SHA-512" in kafka["detail"]
    shown = json.dumps(status.as_dict(), default=str)  # what `mediamon status --json` prints
    assert wrong.get_secret_value() not in shown


async def test_connector_says_the_login_was_refused_and_turns_unhealthy(
    broker: SaslKafkaServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = SecretStr(f"wrong-{uuid.uuid4().hex}")
    settings = _client(broker, "SCRAM-SHA-512", wrong)
    emitter = KafkaEmitter(settings, asyncio.Event())
    with caplog.at_level(logging.DEBUG):
        sending = asyncio.create_task(emitter.emit([RawArticle(id="a1", title="t")]))
        await asyncio.sleep(3)
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("refused the login of user 'mediamon'" in m for m in errors), caplog.text
    assert "Kafka not reachable" not in caplog.text  # not mistaken for an outage
    assert not emitter.healthy(grace=0)  # /readyz says so
    assert wrong.get_secret_value() not in caplog.text
    await emitter.close()


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_faust_logs_in_with_the_apps_credentials(
    broker: SaslKafkaServer, mechanism: str, tls: bool
) -> None:
    settings = _client(broker, mechanism, tls=tls)
    credentials = credentials_of(settings)  # what the worker's faust.App is given
    assert isinstance(credentials, faust.SASLCredentials)
    app = faust.App(
        f"sasl-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=credentials,
    )
    topic = settings.topic("articles.enriched")
    producer = app.producer  # faust's aiokafka transport, with faust's credential mapping
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, b"k", mechanism.encode(), partition=None, timestamp=None, headers=None
        )
    finally:
        await producer.stop()
    records = await read_topic(settings, topic)
    assert [(r.key, r.value) for r in records] == [(b"k", mechanism.encode())]
