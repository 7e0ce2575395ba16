"""The secure stack end to end: `mediamon stack up --secure`'s code (deploy/secure_stack.py)
starts Kafka (SASL_SSL, ACLs) and Elasticsearch (TLS, x-pack security), makes every
service's credentials, and then each service runs with its own file only: setup creates
topics and templates, the connector polls the sample feeds, the worker enriches and indexes,
the page's credentials search. Own ports (58092-58094, 58200/58300) and state directory."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.feedserver import serve_feeds
from deploy.processes import ServiceProcess
from deploy.secure_stack import ROLES, SecureStack
from mediamon.demo_flow import count_indexed, expected_ids
from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.adapters.kafka import make_producer, start_client
from pipeline.schema import RawArticle
from pipeline.settings import Settings
from tests.integration.test_end_to_end import SEED_URL, wait_for
from tests.support.paths import REPO
from tests.support.ports import SECURE

SECURE_E2E = Settings(
    kafka_port=SECURE.kafka,  # 58092, SASL_PLAINTEXT: the broker's own and the health check
    kafka_controller_port=SECURE.kafka_controller,  # 58093
    kafka_tls_port=SECURE.others["kafka_tls"],  # 58094, SASL_SSL: what the services use
    es_port=SECURE.es,  # 58200
    es_transport_port=SECURE.es_transport,  # 58300
    state_dir=REPO / ".state" / "secure-e2e",
    namespace="sec-",  # the roles and ACLs are the namespace's: the services use the same
)


@pytest.fixture(scope="module")
def stack() -> Iterator[SecureStack]:
    SecureStack(SECURE_E2E).down()  # servers left by an interrupted run
    shutil.rmtree(SECURE_E2E.state_dir, ignore_errors=True)
    stack = SecureStack(SECURE_E2E)  # new passwords
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(SECURE_E2E.state_dir, ignore_errors=True)


def _mediamon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediamon.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_credentials_are_private_and_each_file_holds_its_own(stack: SecureStack) -> None:
    assert stat.S_IMODE(stack.dir.stat().st_mode) == 0o700
    files = {role: stack.env_file(role) for role in ROLES}
    for path in [stack.credentials_file, *files.values()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    env: dict[str, dict[str, str]] = {role: stack.service_env(role) for role in ROLES}
    assert not any(k.startswith("MEDIAMON_ES_") for k in env["connector"])  # Kafka only
    assert not any(k.startswith("MEDIAMON_KAFKA_") for k in env["web"])  # Elasticsearch only
    for role in ("worker", "setup"):
        assert env[role]["MEDIAMON_KAFKA_USERNAME"] == f"mediamon-{role}"
        assert env[role]["MEDIAMON_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert "MEDIAMON_ES_PASSWORD" not in env[role] and env[role]["MEDIAMON_ES_API_KEY"]
    keys = {env[r]["MEDIAMON_ES_API_KEY"] for r in ("worker", "web", "setup")}
    assert len(keys) == 3  # one key each
    admin_secrets = {env["admin"]["MEDIAMON_ES_PASSWORD"], env["admin"]["MEDIAMON_KAFKA_PASSWORD"]}
    for role in ("connector", "worker", "web", "setup"):
        assert not admin_secrets & set(env[role].values()), role
    # provisioning again keeps every file as it is (no new key, no new password)
    before = {role: path.read_text() for role, path in files.items()}
    asyncio.run(stack.provision())
    assert {role: path.read_text() for role, path in files.items()} == before
    # a service whose file lost its key gets a new one; the others keep theirs
    files["web"].unlink()
    asyncio.run(stack.provision())
    assert stack.service_env("web")["MEDIAMON_ES_API_KEY"] not in keys
    assert stack.service_env("worker") == env["worker"]


def test_every_service_runs_with_its_own_credentials(stack: SecureStack, tmp_path: Path) -> None:
    base = {
        "MEDIAMON_NAMESPACE": SECURE_E2E.namespace,
        "MEDIAMON_STATE_DIR": str(tmp_path / "state"),
        "MEDIAMON_WORKER_METRICS_PORT": str(SECURE.kafka + 373),  # 58465, clear of the demo's
    }

    def env_of(role: str) -> dict[str, str]:
        return {**base, **stack.service_env(role)}  # type: ignore[arg-type]

    for what in ("kafka", "elasticsearch"):
        done = _mediamon(env_of("setup"), "setup", what)
        assert done.returncode == 0, done.stderr[-2000:]
    worker = ServiceProcess("worker", ["worker"], env_of("worker"), tmp_path / "worker.log")
    worker.start()
    try:
        with serve_feeds() as feeds:
            ids = expected_ids(feeds)
            urls = ",".join(feeds.feed_urls())
            polled = _mediamon(
                {**env_of("connector"), "MEDIAMON_FEEDS": urls},
                *("connectors", "run", "--once", "--json"),
            )
            assert polled.returncode == 0, polled.stderr[-3000:]
            reports: list[dict[str, Any]] = json.loads(polled.stdout)
            assert all(r["error"] is None for r in reports) and reports
        web = stack._settings(env_of("web"))
        wait_for(
            lambda: asyncio.run(count_indexed(web, ids)) == len(ids) or not worker.running,
            180,
            "every sample article indexed by the worker with its own key",
        )
        assert worker.running, worker.tail()
        found = _mediamon(env_of("web"), "search", "ООН", "--lang", "ru", "--json")
        assert found.returncode == 0, found.stderr[-2000:]
        hits = [json.loads(line) for line in found.stdout.splitlines()]
        seed = [h for h in hits if h["url"].startswith(SEED_URL)]
        assert seed and seed[0]["lang"] == "ru"
        assert {"syria", "astana_process", "un"} <= set(seed[0]["topics"])
        # the page's key cannot write, and says so
        refused = _mediamon(env_of("web"), "setup", "elasticsearch")
        assert refused.returncode == 1 and "403" in refused.stderr, refused.stderr[-2000:]
    finally:
        code = worker.stop()
    assert code == 0 or code is None, worker.tail()
    log = (tmp_path / "worker.log").read_text(errors="replace")
    own = stack.service_env("worker")
    api_key = base64.b64decode(own["MEDIAMON_ES_API_KEY"]).decode()  # "id:secret"
    for secret in (own["MEDIAMON_KAFKA_PASSWORD"], own["MEDIAMON_ES_API_KEY"], api_key):
        assert secret not in log  # neither the password nor the key reaches the log
    assert api_key.split(":")[1] not in log


def _readyz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def test_a_revoked_key_fails_readyz_and_a_new_one_loses_nothing(
    stack: SecureStack, tmp_path: Path
) -> None:
    port = SECURE.others["worker_metrics"]
    base = {
        "MEDIAMON_NAMESPACE": SECURE_E2E.namespace,
        "MEDIAMON_STATE_DIR": str(tmp_path / "state"),
        "MEDIAMON_WORKER_METRICS_PORT": str(port),
        "MEDIAMON_READY_GRACE_SECONDS": "3",
    }
    for what in ("kafka", "elasticsearch"):
        assert _mediamon({**base, **stack.service_env("setup")}, "setup", what).returncode == 0
    revoked = stack.service_env("worker")
    worker = ServiceProcess(
        "worker", ["worker"], {**base, **revoked}, tmp_path / "worker-1.log"
    ).start()
    admin = stack.admin_settings()
    web = stack._settings({**base, **stack.service_env("web")})
    connector = stack._settings({**base, **stack.service_env("connector")})
    try:
        wait_for(lambda: _readyz(port)[0] == 200, 120, "the worker ready")
        api_key = base64.b64decode(revoked["MEDIAMON_ES_API_KEY"]).decode().split(":")[0]

        async def revoke(es: Any) -> None:
            await es.security.invalidate_api_key(ids=[api_key])

        asyncio.run(_with_client(admin, revoke))
        ids = [f"rk{i}" for i in range(40)]
        asyncio.run(_produce(connector, ids))  # as the connector does, with its own login
        _, body = wait_for(lambda: (r := _readyz(port))[0] == 503 and r, 120, "/readyz failing")
        assert body["elasticsearch"] is False, body
        status = _mediamon({**base, **revoked}, "status", "--json")
        assert "MEDIAMON_ES_API_KEY" in status.stdout and "401" in status.stdout
        assert asyncio.run(count_indexed(web, set(ids))) == 0
        assert worker.running, worker.tail()
    finally:
        assert worker.stop() in (0, None), worker.tail()
    # the operator makes a new key (the file loses the old one) and restarts the worker
    stack.env_file("worker").unlink()
    asyncio.run(stack.provision())
    fresh = stack.service_env("worker")
    assert fresh["MEDIAMON_ES_API_KEY"] != revoked["MEDIAMON_ES_API_KEY"]
    worker = ServiceProcess(
        "worker", ["worker"], {**base, **fresh}, tmp_path / "worker-2.log"
    ).start()
    try:
        wait_for(
            lambda: asyncio.run(count_indexed(web, set(ids))) == len(ids) or not worker.running,
            180,
            "the held articles indexed with the new key",
        )
        assert worker.running, worker.tail()
        wait_for(lambda: _readyz(port)[0] == 200, 60, "the worker ready again")
    finally:
        assert worker.stop() in (0, None), worker.tail()


async def _with_client(settings: Settings, use: Any) -> None:
    es = make_client(settings)
    try:
        await use(es)
    finally:
        await es.close()


async def _produce(settings: Settings, ids: list[str]) -> None:
    producer = make_producer(settings)
    try:
        await start_client(producer, settings)
        for i in ids:
            article = RawArticle(
                id=i, title=f"UN envoy in Astana {i}", summary_html="Talks on Syria resumed."
            )
            await producer.send(settings.topic(topics.RAW), article.to_json(), key=i.encode())
        await producer.flush()
    finally:
        await producer.stop()
