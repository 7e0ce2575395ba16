"""Kafka ACLs on a real broker (StandardAuthorizer, KRaft): its own broker on 58092/58093
with SASL on every listener, one super user and one user per service. `mediamon setup
security`'s ACLs (pipeline/access.py) let each service do its job and nothing else; the
passwords are made up for this module only."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from typer.testing import CliRunner

from deploy.kafka_sasl import SaslKafkaServer, SaslUser, random_password
from deploy.stack import start_services
from mediamon.main import app as cli
from pipeline import topics
from pipeline.access import KAFKA_SERVICES, KafkaService, default_principal, kafka_acls
from pipeline.adapters.kafka import client_options, make_producer, start_client
from pipeline.adapters.kafka_acls import ensure_acls, list_acls
from pipeline.adapters.kafka_admin import ensure_topics
from pipeline.errors import ConfigError
from pipeline.settings import Settings, get_settings
from tests.support.paths import REPO
from tests.support.ports import SECURE

ACL_SETTINGS = Settings(
    kafka_port=SECURE.kafka,  # 58092
    kafka_controller_port=SECURE.kafka_controller,  # 58093
    kafka_bootstrap=SECURE.kafka_bootstrap,
    state_dir=REPO / ".state" / "acl-stack",
    namespace="acl-",
)
SERVICE_USERS = ("connector", "worker", "setup", "web")


@pytest.fixture(scope="module")
def broker() -> Iterator[SaslKafkaServer]:
    users = [SaslUser("admin", random_password())] + [
        SaslUser(f"mediamon-{s}", random_password()) for s in SERVICE_USERS
    ]
    server = SaslKafkaServer(ACL_SETTINGS, users, acls=True)
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)
    try:
        start_services([server], timeout=180)
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)  # the PLAIN passwords are in its config


def as_user(broker: SaslKafkaServer, name: str) -> Settings:
    user = next(u for u in broker.users if u.name == name)
    return broker.client_settings(user)


@pytest.fixture(scope="module")
def granted(broker: SaslKafkaServer) -> list[Any]:
    admin = as_user(broker, "admin")
    principals: dict[KafkaService, str] = {s: default_principal(s) for s in KAFKA_SERVICES}
    acls = kafka_acls(admin, principals)
    asyncio.run(ensure_acls(admin, acls))
    asyncio.run(ensure_acls(admin, acls))  # twice: Kafka keeps one of each
    return acls


def _send(settings: Settings, topic: str, value: bytes = b"x") -> None:
    async def go() -> None:
        producer = make_producer(settings)
        try:
            await start_client(producer, settings)
            await asyncio.wait_for(producer.send_and_wait(topic, value, key=b"k"), 30)
        finally:
            await producer.stop()

    asyncio.run(go())


def _read(settings: Settings, topic: str, group: str) -> list[bytes]:
    async def go() -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            **client_options(settings),
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        try:
            await start_client(consumer, settings)
            batches = await consumer.getmany(timeout_ms=10_000)
            if not batches:
                batches = await consumer.getmany(timeout_ms=10_000)
            return [m.value for msgs in batches.values() for m in msgs if m.value is not None]
        finally:
            await consumer.stop()

    return asyncio.run(go())


def test_acls_are_created_once_and_listed(broker: SaslKafkaServer, granted: list[Any]) -> None:
    admin = as_user(broker, "admin")
    listed = asyncio.run(list_acls(admin))
    assert sorted(set(granted)) == listed
    worker = asyncio.run(list_acls(admin, default_principal("worker")))
    assert worker and {a.principal for a in worker} == {"User:mediamon-worker"}
    # nobody but the super user may touch ACLs
    with pytest.raises((ConfigError, KafkaError)):
        asyncio.run(ensure_acls(as_user(broker, "mediamon-worker"), granted[:1]))


def test_each_service_does_its_job_and_nothing_more(
    broker: SaslKafkaServer, granted: list[Any]
) -> None:
    setup, connector, worker, web = (
        as_user(broker, f"mediamon-{s}").model_copy(update={"namespace": "acl-"})
        for s in ("setup", "connector", "worker", "web")
    )
    created = asyncio.run(ensure_topics(setup))
    assert set(created) == set(topics.names(setup).values())
    raw, tagged = setup.topic(topics.RAW), setup.topic(topics.TAGGED)

    _send(connector, raw, b"article-1")  # the connector's one job
    with pytest.raises(TopicAuthorizationFailedError):
        _send(connector, tagged)  # it writes nothing else
    enriched = setup.topic(topics.ENRICHED)
    for topic in (raw, enriched):  # and reads nothing, the enriched articles included
        with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
            _read(connector, topic, worker.app_id)

    assert _read(worker, raw, worker.app_id) == [b"article-1"]  # in its own group
    _send(worker, tagged, b"tagged-1")
    _send(worker, f"{worker.app_id}-stories-changelog", b"c")  # Faust's own topics
    with pytest.raises(GroupAuthorizationFailedError):
        _read(worker, raw, "someone-elses-group")

    with pytest.raises((TopicAuthorizationFailedError, ClusterAuthorizationFailedError)):
        _send(setup, raw)  # setup makes topics, writes no message
    for topic in (raw, tagged):  # the page has no Kafka business at all
        with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
            _read(web, topic, worker.app_id)


def test_setup_security_cli_creates_the_acls(
    broker: SaslKafkaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def login(name: str) -> None:
        user = next(u for u in broker.users if u.name == name)
        for key, value in {
            "MEDIAMON_KAFKA_BOOTSTRAP": broker.url,
            "MEDIAMON_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "MEDIAMON_KAFKA_SASL_MECHANISM": "PLAIN",
            "MEDIAMON_KAFKA_USERNAME": user.name,
            "MEDIAMON_KAFKA_PASSWORD": user.password.get_secret_value(),
            "MEDIAMON_NAMESPACE": "cli-",
        }.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    args = ["setup", "security", "--no-elasticsearch", "--kafka"]
    runner = CliRunner()
    try:
        login("admin")
        done = runner.invoke(
            cli, [*args, "--kafka-principal", "worker=User:mediamon-web", "--json"]
        )
        assert done.exit_code == 0, done.output
        granted = json.loads(done.output)["kafka_acls"]
        assert {a["principal"] for a in granted} == {
            "User:mediamon-connector",
            "User:mediamon-web",  # the worker's ACLs, for the principal given
            "User:mediamon-setup",
        }
        listed = asyncio.run(list_acls(get_settings(), "User:mediamon-web"))
        assert {(a.resource, a.name) for a in listed} >= {("group", "cli-mediamon")}
        login("mediamon-worker")  # not a super user: refused, and said so
        refused = runner.invoke(cli, args)
        assert refused.exit_code == 1
        assert "Kafka refused" in refused.output and "Authorization" in refused.output
        bad = runner.invoke(cli, [*args, "--kafka-principal", "web=User:x"])
        assert bad.exit_code != 0 and "no Kafka access" in bad.output
    finally:
        get_settings.cache_clear()
