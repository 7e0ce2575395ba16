"""The connector against the real Kafka: restarts and a broker outage lose nothing and
duplicate nothing."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from deploy.processes import ServiceProcess
from deploy.stack import Stack
from pipeline import topics
from pipeline.adapters.kafka_admin import ensure_topics
from tests.integration.conftest import Env
from tests.support.feedhost import FeedHost, Route, feed_host, rss
from tests.support.topics import read_until_idle

FEEDS = 5


@pytest.fixture
def host() -> Iterator[FeedHost]:
    with feed_host() as h:
        yield h


def publish(host: FeedHost, upto: int) -> set[str]:
    """Every feed carries items 0..upto-1; returns the guids."""
    guids: set[str] = set()
    for f in range(FEEDS):
        items = [(f"f{f}-{i}", f"Feed {f} item {i}") for i in range(upto)]
        host.routes[f"/feed{f}.xml"] = Route(body=rss(items))
        guids.update(g for g, _ in items)
    return guids


def raw_keys(env: Env) -> Counter[str]:
    """Every message key on articles.raw (one per emitted article version)."""
    records = asyncio.run(read_until_idle(env.settings, env.settings.topic(topics.RAW), 1500))
    return Counter(r.key.decode() for r in records)


def connector(env: Env, host: FeedHost, name: str) -> ServiceProcess:
    urls = ",".join(host.url(f"/feed{f}.xml") for f in range(FEEDS))
    extra = {
        "MEDIAMON_FEEDS": urls,
        "MEDIAMON_POLL_INTERVAL": "1",
        "MEDIAMON_HOST_SPACING": "0",
        "MEDIAMON_CONNECTOR_METRICS_PORT": "0",
    }
    return ServiceProcess(
        name, ["connectors", "run"], {**env.vars, **extra}, env.logs / f"{name}.log"
    ).start()


def wait_for_keys(env: Env, expected: int, timeout: float, proc: ServiceProcess) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        keys = raw_keys(env)
        if len(keys) >= expected or time.monotonic() > deadline:
            return keys
        assert proc.running, proc.tail()
        time.sleep(1)


def test_restart_mid_run_no_duplicates_no_gaps(env: Env, host: FeedHost) -> None:
    asyncio.run(ensure_topics(env.settings))
    publish(host, 20)
    first = connector(env, host, "connector-1")
    wait_for_keys(env, FEEDS * 20, 60, first)
    publish(host, 40)
    time.sleep(1.5)  # let it poll some of the new items, then stop it mid-run
    first.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert first.wait(60) == 0, first.tail()
    publish(host, 60)
    second = connector(env, host, "connector-2")
    try:
        keys = wait_for_keys(env, FEEDS * 60, 90, second)
        time.sleep(3)  # a few more polls: nothing may be sent again
        keys = raw_keys(env)
    finally:
        second.stop()
    assert len(keys) == FEEDS * 60, "gaps"
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1][:5]


def test_broker_outage_everything_arrives_once(env: Env, host: FeedHost, stack: Stack) -> None:
    asyncio.run(ensure_topics(env.settings))
    publish(host, 10)
    proc = connector(env, host, "connector")
    try:
        wait_for_keys(env, FEEDS * 10, 60, proc)
        stack.kafka.stop()
        publish(host, 30)  # new items appear while Kafka is away
        time.sleep(8)
        assert proc.running, proc.tail()
        stack.up()
        keys = wait_for_keys(env, FEEDS * 30, 120, proc)
        time.sleep(3)
        keys = raw_keys(env)
    finally:
        proc.stop()
        stack.up()  # leave the shared broker running whatever happened
    assert len(keys) == FEEDS * 30, proc.tail()
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1][:5]
    assert "Unable connect" in proc.log_path.read_text(), "the outage never reached the connector"
