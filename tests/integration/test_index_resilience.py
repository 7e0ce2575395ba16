"""Lossless indexing on the real servers: Elasticsearch stopped while articles flow, and a
worker killed with SIGKILL mid-batch. Offsets advance only after Elasticsearch holds a
batch, so every article ends up indexed once (document id = article id)."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaProducer
from elasticsearch.helpers import async_scan

from deploy.processes import ServiceProcess
from deploy.stack import Stack
from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.schema import RawArticle
from pipeline.worker import prepare
from tests.integration.conftest import Env
from tests.support.es_proxy import GarblingProxy


def produce_many(env: Env, start: int, count: int) -> list[str]:
    ids = [f"art-{n:05d}" for n in range(start, start + count)]

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=env.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            topic = env.settings.topic(topics.RAW)
            for i in ids:
                article = RawArticle(
                    id=i,
                    title=f"Report {i} on the talks in Geneva",
                    content_html=f"<p>Delegations met again for round {i} of the talks.</p>",
                )
                await producer.send(topic, article.to_json(), key=i.encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send())
    return ids


def indexed_ids(env: Env) -> list[str]:
    async def scan() -> list[str]:
        es = make_client(env.settings)
        try:
            await es.indices.refresh(index=env.settings.articles_alias)
            resp = await es.search(
                index=env.settings.articles_alias, size=10_000, source=False, sort=["_doc"]
            )
            return [h["_id"] for h in resp["hits"]["hits"]]
        except Exception:  # the server may be down on purpose: "none indexed yet"
            return []
        finally:
            await es.close()

    return asyncio.run(scan())


def wait_count(env: Env, at_least: int, timeout: float, worker: ServiceProcess) -> list[str]:
    deadline = time.monotonic() + timeout
    ids: list[str] = []
    while time.monotonic() < deadline:
        ids = indexed_ids(env)
        if len(ids) >= at_least:
            return ids
        time.sleep(0.5)
    raise AssertionError(f"{len(ids)}/{at_least} indexed after {timeout}s\n{worker.tail()}")


def start_worker(env: Env, name: str, **extra: str) -> ServiceProcess:
    variables = {**env.vars, **extra}
    return ServiceProcess(name, ["worker"], variables, env.logs / f"{name}.log").start()


def index_writes(env: Env) -> int:
    """How many documents the articles index's primaries have written, counting every write
    of one id: ids keep the index free of copies, so doubled work shows only here."""

    async def stats() -> int:
        es = make_client(env.settings)
        try:
            resp = await es.indices.stats(index=env.settings.articles_alias, metric="indexing")
            return int(resp["_all"]["primaries"]["indexing"]["index_total"])
        finally:
            await es.close()

    return asyncio.run(stats())


def assert_exactly_once(ids: list[str], expected: list[str]) -> None:
    assert len(ids) == len(set(ids)), "a document is in the index twice"
    assert sorted(ids) == sorted(expected), set(expected) ^ set(ids)


def test_elasticsearch_outage_loses_nothing(env: Env, stack: Stack) -> None:
    asyncio.run(prepare(env.settings))
    worker = start_worker(env, "worker")
    try:
        expected = produce_many(env, 0, 150)
        wait_count(env, 150, 90, worker)
        stack.elasticsearch.stop()
        expected += produce_many(env, 150, 150)  # arrives while Elasticsearch is away
        time.sleep(8)
        assert worker.running, worker.tail()
        stack.up()
        ids = wait_count(env, 300, 180, worker)
        time.sleep(2)
        ids = indexed_ids(env)
    finally:
        stack.up()  # leave the shared server running whatever happened
        worker.stop()
    assert_exactly_once(ids, expected)
    assert "bulk failed, retrying" in worker.log_path.read_text(), "the outage never showed"


def indexed_count(env: Env) -> int:
    async def count() -> int:
        es = make_client(env.settings)
        try:
            await es.indices.refresh(index=env.settings.articles_alias)
            return int((await es.count(index=env.settings.articles_alias))["count"])
        except Exception:  # not created yet
            return 0
        finally:
            await es.close()

    return asyncio.run(count())


def all_indexed_ids(env: Env) -> list[str]:
    """Every document id, however many (a search stops at 10,000)."""

    async def scan() -> list[str]:
        es = make_client(env.settings)
        try:
            await es.indices.refresh(index=env.settings.articles_alias)
            hits = async_scan(es, index=env.settings.articles_alias, _source=False, size=5000)
            return [h["_id"] async for h in hits]
        finally:
            await es.close()

    return asyncio.run(scan())


@pytest.mark.parametrize("stop", ["kill", "stop"])
def test_worker_stopped_mid_run_loses_nothing(env: Env, stop: str) -> None:
    """The restart bug's regression test (pipeline.faust_fixes): the first worker is stopped
    (SIGKILL, or SIGTERM) after its first commits, with thousands of articles still on
    their way; the restarted worker's table recovery used to drop what reached its streams
    during the seek (975 of 20,000 left unindexed for good in one run of eight)."""
    asyncio.run(prepare(env.settings))
    total = 20_000
    expected = produce_many(env, 0, total)
    first = start_worker(env, "worker-1", MEDIAMON_INDEX_BATCH_SIZE="50")
    try:
        deadline = time.monotonic() + 120
        while indexed_count(env) < 2_000 and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(2)  # past the first commits (every 2.8 s)
        assert indexed_count(env) < total, "finished before the stop: the test proves nothing"
    finally:
        first.kill() if stop == "kill" else first.stop()
    second = start_worker(env, "worker-2", MEDIAMON_INDEX_BATCH_SIZE="50")
    try:
        deadline = time.monotonic() + 300
        while indexed_count(env) < total and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(2)
        ids = all_indexed_ids(env)
    finally:
        second.stop()
    assert_exactly_once(ids, expected)


def test_sigterm_while_elasticsearch_is_down_loses_nothing(env: Env, stack: Stack) -> None:
    """A batch waiting for Elasticsearch when the worker is told to stop must stay
    unacknowledged: the worker exits promptly and the next one indexes it."""
    asyncio.run(prepare(env.settings))
    # batches of 50: one waits for Elasticsearch while the next ones are already buffered,
    # and those must be left unacknowledged too (or Faust waits for them until killed)
    first = start_worker(env, "worker-1", MEDIAMON_INDEX_BATCH_SIZE="50")
    try:
        expected = produce_many(env, 0, 100)
        wait_count(env, 100, 90, first)
        stack.elasticsearch.stop()
        expected += produce_many(env, 100, 150)
        deadline = time.monotonic() + 60
        while "bulk failed, retrying" not in first.log_path.read_text():
            assert time.monotonic() < deadline, first.tail()
            time.sleep(0.5)
        stopping = time.monotonic()
        code = first.stop()
        took = time.monotonic() - stopping
    finally:
        stack.up()
        first.stop()
    assert code == 0 and took < 30, (code, took, first.tail())
    second = start_worker(env, "worker-2")
    try:
        wait_count(env, 250, 180, second)
        time.sleep(2)
        ids = indexed_ids(env)
    finally:
        second.stop()
    assert_exactly_once(ids, expected)


def test_a_garbled_bulk_answer_loses_nothing(env: Env) -> None:
    """A 200 answer to a bulk request without its per-document results (what a broken proxy
    might pass on) raised a KeyError nothing expected. The index agent used to crash on it
    and strand its batch, unacknowledged and never read again until a restart; now the
    batch goes through the retry topic and every article is indexed once: the garbled
    request never reached Elasticsearch, so it wrote each article once (a batch handled
    twice would write some twice)."""
    asyncio.run(prepare(env.settings))
    upstream = ("127.0.0.1", int(env.vars["MEDIAMON_ES_PORT"]))
    with GarblingProxy(
        upstream, bulk_garbled=1, garbled_body=b'{"took":1,"errors":false}'
    ).running() as proxy:
        worker = start_worker(
            env,
            "worker-garbled",
            MEDIAMON_ES_URL=f"http://127.0.0.1:{proxy.port}",
            MEDIAMON_RETRY_BASE_SECONDS="0.5",
        )
        try:
            expected = produce_many(env, 0, 60)
            wait_count(env, 60, 120, worker)
            time.sleep(2)  # a second write of some article (the batch handled twice) by now
            ids = indexed_ids(env)
            writes = index_writes(env)
            assert worker.running, worker.tail()
        finally:
            worker.stop()
    assert proxy.garbled == 1, "the garbled answer was never given"
    assert_exactly_once(ids, expected)
    assert writes == 60, f"{writes} writes for 60 articles"
    log = worker.log_path.read_text()
    assert "raised KeyError; it goes through the retry topic" in log, log[-3000:]
