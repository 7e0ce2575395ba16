"""The shared test support: the port registry keeps suites apart, settings come from variables
as a process would read them, the webhook receiver records and answers as configured."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from tests.support.paths import FEEDPARSER_CORPUS, FIXTURES, SEED
from tests.support.ports import BLOCKS, DEMO, FAULTS, INTEGRATION, KAFKA_SASL
from tests.support.settings import settings_from_env
from tests.support.webhook import webhook_receiver


def test_no_two_port_blocks_share_a_port() -> None:
    owners: dict[int, list[str]] = {}
    for block in BLOCKS:
        for role, port in block.ports().items():
            owners.setdefault(port, []).append(f"{block.name}.{role}")
    shared = {port: names for port, names in owners.items() if len(names) > 1}
    assert not shared, f"ports in more than one place: {shared}"
    assert len({b.name for b in BLOCKS}) == len(BLOCKS)


def test_the_demo_block_is_the_settings_defaults() -> None:
    defaults = settings_from_env({})
    assert (DEMO.kafka, DEMO.es) == (defaults.kafka_port, defaults.es_port) == (9092, 9200)
    assert DEMO.others["demo_feeds"] == defaults.demo_feed_port == 8765


def test_stack_vars_put_the_stack_and_its_clients_on_the_block() -> None:
    settings = settings_from_env(INTEGRATION.stack_vars())
    assert (settings.kafka_port, settings.kafka_controller_port) == (19092, 19093)
    assert (settings.es_port, settings.es_transport_port) == (19200, 19300)
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.es_url == "http://127.0.0.1:19200"
    assert FAULTS.ports()["es_429"] == 29201
    # a block without Elasticsearch leaves it alone
    assert "MEDIAMON_ES_URL" not in KAFKA_SASL.stack_vars()
    with pytest.raises(ValueError, match="no Elasticsearch"):
        _ = KAFKA_SASL.es_url


def test_settings_from_env_reads_only_mediamon_variables() -> None:
    settings = settings_from_env(
        {"MEDIAMON_NAMESPACE": "t1-", "MEDIAMON_POLL_INTERVAL": "2", "BROKER_SESSION_TIMEOUT": "9"}
    )
    assert settings.namespace == "t1-" and settings.poll_interval == 2.0


def test_the_fixtures_are_in_the_repository() -> None:
    assert SEED.parent == FEEDPARSER_CORPUS.parent == FIXTURES
    assert len(list(SEED.glob("*.txt"))) == 1
    assert (FEEDPARSER_CORPUS / "LICENSE").is_file()
    assert (FIXTURES / "README.md").is_file()


def test_webhook_receiver_records_path_headers_and_body() -> None:
    with webhook_receiver() as hook, httpx.Client() as client:
        resp = client.post(hook.url("/in"), json={"a": 1}, headers={"X-Sig": "s"})
        client.put(hook.url("/other"), content=b"raw")
    assert (resp.status_code, resp.text) == (200, "ok")
    (got,) = hook.requests("/in")
    assert got.method == "POST" and got.json() == {"a": 1}
    assert got.headers["x-sig"] == got.headers["X-Sig"] == "s"
    assert hook.bodies("/in") == [{"a": 1}]
    assert [r.path for r in hook.requests()] == ["/in", "/other"]
    assert hook.requests("/other")[0].body == b"raw"


def test_webhook_receiver_reads_chunked_bodies() -> None:
    def chunks() -> list[bytes]:
        return [b'{"part": ', b"1}"]

    with webhook_receiver() as hook, httpx.Client() as client:
        client.post(hook.url("/stream"), content=iter(chunks()))
    assert hook.bodies("/stream") == [{"part": 1}]


def test_webhook_receiver_answers_path_then_script_then_default() -> None:
    with (
        webhook_receiver(503, statuses=[500, 200], paths={"/dead": 410}) as hook,
        httpx.Client() as client,
    ):
        got = [client.post(hook.url(p)).status_code for p in ("/a", "/dead", "/a", "/a")]
        hook.status = 202  # changed while it runs
        got.append(client.post(hook.url("/a")).status_code)
    assert got == [500, 410, 200, 503, 202]
    assert Counter(r.path for r in hook.requests()) == {"/a": 4, "/dead": 1}


def test_webhook_receiver_delays_its_answer() -> None:
    with webhook_receiver(delay=0.3) as hook, httpx.Client() as client:
        started = time.monotonic()
        client.post(hook.url("/slow"))
        assert time.monotonic() - started >= 0.3
        with pytest.raises(httpx.ReadTimeout):
            client.post(hook.url("/slow"), timeout=0.05)
