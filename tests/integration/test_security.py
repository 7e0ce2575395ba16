"""Least privilege on the real server: Elasticsearch with x-pack security and TLS (its own
node on 58200/58300, certificates made at start by the distribution's certutil), the roles
and API keys `mediamon setup security` makes, each service working with its own key and
refused where it has no business, rotation without downtime, and the errors an operator
sees for a wrong CA or an invalidated key. The superuser's password is made up per run."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import stat
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AuthenticationException, AuthorizationException
from typer.testing import CliRunner

from deploy.es_secure import SecureElasticsearchServer
from deploy.kafka_sasl import random_password
from deploy.stack import start_services
from mediamon.main import app as cli
from mediamon.probes import collect
from pipeline.access import SERVICES
from pipeline.adapters.elastic import make_client
from pipeline.adapters.es_security import IssuedKey, active_keys, ensure_security
from pipeline.alerts.catalog import ensure_rules_index
from pipeline.alerts.store import ensure_alerts_index
from pipeline.errors import ShutdownRequested
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.indexing.layout import ensure_articles_index
from pipeline.schema import EnrichedArticle
from pipeline.settings import Settings, get_settings
from tests.support.paths import REPO
from tests.support.ports import SECURE

SECURE_SETTINGS = Settings(
    es_port=SECURE.es,  # 58200
    es_transport_port=SECURE.es_transport,  # 58300
    es_url=f"https://127.0.0.1:{SECURE.es}",
    state_dir=REPO / ".state" / "secure-stack",
)


@pytest.fixture(scope="module")
def node() -> Iterator[SecureElasticsearchServer]:
    server = SecureElasticsearchServer(SECURE_SETTINGS, random_password())
    server.stop()  # a node left by an interrupted run knows another password
    shutil.rmtree(server.dir, ignore_errors=True)
    try:
        start_services([server], timeout=240)
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


def _namespaced(settings: Settings) -> Settings:
    return settings.model_copy(update={"namespace": f"s{uuid.uuid4().hex[:8]}-"})


@pytest.fixture
def admin(node: SecureElasticsearchServer) -> Settings:
    """The superuser, in a namespace of this test's own."""
    return _namespaced(node.superuser_settings())


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _with(settings: Settings, use: Callable[[Any], Awaitable[Any]]) -> Any:
    es = make_client(settings)
    try:
        return await use(es)
    finally:
        await es.close()


def _keys(admin: Settings, **kwargs: Any) -> dict[str, IssuedKey]:
    report = run(_with(admin, lambda es: ensure_security(es, admin, **kwargs)))
    return {k.service: k for k in report.issued}


def _as(node: SecureElasticsearchServer, admin: Settings, key: IssuedKey) -> Settings:
    return node.client_settings(key.encoded).model_copy(update={"namespace": admin.namespace})


def _article(i: str) -> EnrichedArticle:
    return EnrichedArticle(
        id=i,
        lang="en",
        title=f"UN envoy in Astana {i}",
        text="Talks on Syria resumed.",
        published=datetime(2026, 11, 3, tzinfo=UTC),
        topics=["syria", "un"],
    )


def test_anonymous_refused_plain_http_refused_superuser_over_tls(
    node: SecureElasticsearchServer,
) -> None:
    context = ssl.create_default_context(cafile=str(node.ca_file))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{node.url}/", timeout=10, context=context)
    refused.value.close()
    assert refused.value.code == 401
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        # the port speaks TLS only
        urllib.request.urlopen(f"http://127.0.0.1:{SECURE.es}/", timeout=10)
    assert node.healthy()  # the superuser over TLS, verifying the CA
    # the files that hold secrets are the owner's only
    for path in [
        node.tls_dir / "ca" / "ca.key",
        node.tls_dir / "node" / "node.key",
        node.dir / "config" / "elasticsearch.keystore",
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert node.password is not None
    secret = node.password.get_secret_value()
    for path in (node.dir / "config").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_setup_security_is_idempotent(node: SecureElasticsearchServer, admin: Settings) -> None:
    first = _keys(admin)
    assert sorted(first) == sorted(SERVICES)
    assert "connector" not in first  # Kafka only: no Elasticsearch key at all
    again = run(_with(admin, lambda es: ensure_security(es, admin)))
    assert again.issued == [] and again.invalidated == []
    assert {s: len(ids) for s, ids in again.kept.items()} == dict.fromkeys(SERVICES, 1)
    assert not any(again.roles.values())  # updated, not created again


def test_each_service_works_with_its_own_key_and_is_refused_elsewhere(
    node: SecureElasticsearchServer, admin: Settings
) -> None:
    keys = _keys(admin)
    setup, worker, web = (_as(node, admin, keys[s]) for s in ("setup", "worker", "web"))
    alias = admin.articles_alias

    async def as_setup(es: Any) -> str:
        index = await ensure_articles_index(es, setup)
        await ensure_alerts_index(es, setup)
        await ensure_rules_index(es, setup)
        with pytest.raises(AuthorizationException):  # setup writes no article
            await es.index(index=index, id="x", document={"id": "x"})
        return index

    index = run(_with(setup, as_setup))

    async def as_worker(es: Any) -> None:
        report = await ArticleIndexer(es, worker).index([_article("a1"), _article("a2")])
        assert report.indexed == 2 and not report.rejected and not report.deferred
        await es.indices.refresh(index=alias)
        await es.index(index=worker.alerts_index, id="n1", document={"rule_id": "r1"})
        await es.index(index=worker.alert_rules_index, id="r1", document={"id": "r1"})
        assert (await es.count(index=alias))["count"] == 2
        with pytest.raises(AuthorizationException):  # manage nothing: no dropping an index
            await es.indices.delete(index=index)
        with pytest.raises(AuthorizationException):
            await es.indices.put_index_template(name="evil", index_patterns=["x*"])
        with pytest.raises(AuthorizationException):  # nothing outside its indices
            await es.index(index="other-index", id="1", document={"a": 1})

    run(_with(worker, as_worker))

    async def as_web(es: Any) -> None:
        hits = (await es.search(index=alias, query={"match": {"title": "Astana"}}))["hits"]
        assert hits["total"]["value"] == 2
        for write in (
            es.index(index=index, id="w", document={"id": "w"}),
            es.delete(index=index, id="a1"),
            es.index(index=web.alerts_index, id="w", document={"rule_id": "w"}),
            es.indices.delete(index=index),
        ):
            with pytest.raises(AuthorizationException):
                await write

    run(_with(web, as_web))
    # `mediamon status` as the page: reachable, the index and its two documents listed
    status = run(collect(web))
    es_rows = [s for s in status.services if s["service"] == "elasticsearch"]
    assert es_rows and all(s["reachable"] for s in es_rows), es_rows
    assert sum(i["docs"] for i in status.indices) == 2


def test_rotation_keeps_the_running_key_until_the_next_one(
    node: SecureElasticsearchServer, admin: Settings
) -> None:
    gen1 = _keys(admin)["worker"]
    gen2 = _keys(admin, rotate=frozenset({"worker"}))["worker"]
    assert gen2.generation == gen1.generation + 1

    def works(key: IssuedKey) -> bool:
        settings = _as(node, admin, key)
        try:
            run(_with(settings, lambda es: es.count(index=settings.articles_alias + "*")))
        except AuthenticationException:
            return False
        return True

    # no downtime: the service still runs with gen1 until it restarts with gen2
    assert works(gen1) and works(gen2)
    gen3 = _keys(admin, rotate=frozenset({"worker"}))["worker"]
    assert not works(gen1) and works(gen2) and works(gen3)
    report = run(_with(admin, lambda es: ensure_security(es, admin, retire=frozenset({"worker"}))))
    assert report.kept["worker"] == [gen3.id]
    assert not works(gen2) and works(gen3)
    live = run(_with(admin, lambda es: active_keys(es, admin, "worker")))
    assert [k["id"] for k in live] == [gen3.id]


def test_wrong_ca_and_invalidated_key_are_clear_errors(
    node: SecureElasticsearchServer, admin: Settings, tmp_path: Path
) -> None:
    key = _keys(admin)["web"]
    web = _as(node, admin, key)
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_text(ssl.get_server_certificate(("127.0.0.1", admin.es_port)))  # not the CA
    status = run(collect(web.model_copy(update={"es_ca_certs": other_ca})))
    detail = " ".join(str(s["detail"]) for s in status.services if s["service"] == "elasticsearch")
    assert "MEDIAMON_ES_CA_CERTS" in detail, detail

    run(_with(admin, lambda es: es.security.invalidate_api_key(ids=[key.id])))
    status = run(collect(web))
    detail = " ".join(str(s["detail"]) for s in status.services if s["service"] == "elasticsearch")
    assert "MEDIAMON_ES_API_KEY" in detail and "401" in detail, detail
    assert key.encoded.get_secret_value() not in json.dumps(status.as_dict(), default=str)


def test_worker_with_an_invalidated_key_is_not_ready_and_loses_nothing(
    node: SecureElasticsearchServer, admin: Settings
) -> None:
    keys = _keys(admin)
    setup = _as(node, admin, keys["setup"])
    run(_with(setup, lambda es: ensure_articles_index(es, setup)))
    run(_with(admin, lambda es: es.security.invalidate_api_key(ids=[keys["worker"].id])))
    revoked = _as(node, admin, keys["worker"])
    batch = [_article(f"b{i}") for i in range(5)]
    attempts = []

    async def stop_after_three(seconds: float) -> None:
        attempts.append(seconds)
        if len(attempts) >= 3:  # as a worker being stopped (or restarted with a new key)
            raise ShutdownRequested

    async def with_revoked(es: Any) -> bool:
        indexer = ArticleIndexer(es, revoked, sleep=stop_after_three)
        with pytest.raises(ShutdownRequested):
            await indexer.index(batch)
        return indexer.healthy(grace=0)  # what /readyz reports once the grace is over

    assert run(_with(revoked, with_revoked)) is False
    assert len(attempts) == 3  # retried, never dropped: the batch was not acknowledged

    # the operator rotates; the worker starts again with the new key and the same batch
    fresh = _keys(admin, rotate=frozenset({"worker"}))["worker"]
    worker = _as(node, admin, fresh)

    async def with_fresh(es: Any) -> int:
        report = await ArticleIndexer(es, worker).index(batch)
        assert report.indexed == 5
        await es.indices.refresh(index=worker.articles_alias)
        return int((await es.count(index=worker.articles_alias))["count"])

    assert run(_with(worker, with_fresh)) == 5


def test_setup_security_cli_prints_keys_once_and_writes_0600_files(
    node: SecureElasticsearchServer,
    admin: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert admin.es_password is not None and admin.es_ca_certs is not None
    for name, value in {
        "MEDIAMON_ES_URL": admin.es_url,
        "MEDIAMON_ES_USERNAME": "elastic",
        "MEDIAMON_ES_PASSWORD": admin.es_password.get_secret_value(),
        "MEDIAMON_ES_CA_CERTS": str(admin.es_ca_certs),
        "MEDIAMON_NAMESPACE": admin.namespace,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(cli, ["setup", "security", "--env-dir", str(tmp_path / "keys")])
        assert first.exit_code == 0, first.output
        printed = [ln for ln in first.output.splitlines() if "MEDIAMON_ES_API_KEY=" in ln]
        assert len(printed) == len(SERVICES)
        for service in SERVICES:
            path = tmp_path / "keys" / f"{service}.env"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert path.read_text().strip() in {ln.split(": ", 1)[1] for ln in printed}
        second = runner.invoke(cli, ["setup", "security"])
        assert second.exit_code == 0, second.output
        assert "MEDIAMON_ES_API_KEY=" not in second.output  # shown once, when made
        # a lost file (a new volume): that service gets a new key, the others keep theirs
        keys = tmp_path / "keys"
        before = {s: (keys / f"{s}.env").read_text() for s in SERVICES}
        (keys / "web.env").unlink()
        third = runner.invoke(cli, ["setup", "security", "--env-dir", str(keys)])
        assert third.exit_code == 0, third.output
        after = {s: (keys / f"{s}.env").read_text() for s in SERVICES}
        assert after["web"] != before["web"] and after["worker"] == before["worker"]
        assert after["setup"] == before["setup"]
        assert admin.es_password.get_secret_value() not in first.output + second.output
        bad = runner.invoke(cli, ["setup", "security", "--rotate", "connector"])
        assert bad.exit_code != 0 and "connector has none" in bad.output
    finally:
        get_settings.cache_clear()
