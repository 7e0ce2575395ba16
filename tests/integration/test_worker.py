"""The worker's state: near-duplicate grouping survives a restart (Faust table changelog)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from deploy.processes import ServiceProcess
from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.schema import RawArticle
from pipeline.stages.dedupe import MAX_DISTANCE, simhash
from pipeline.worker import prepare
from tests.integration.conftest import Env
from tests.support.net import free_port, http_get
from tests.support.paths import REPO
from tests.support.settings import settings_from_env

COVERAGE = REPO / "tests" / "fixtures" / "eval" / "coverage-dev.jsonl"

LEAD = (
    "<p>Russia, Turkey and Iran, the guarantors of the Astana process, agreed on a trilateral "
    "mechanism to monitor the truce in Syria. Delegates said the next round would follow in "
    "February after consultations in Geneva.</p>"
)


def produce(env: Env, article: RawArticle) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=env.settings.kafka_bootstrap)
        await producer.start()
        try:
            topic = env.settings.topic(topics.RAW)
            await producer.send_and_wait(topic, article.to_json(), key=article.id.encode())
        finally:
            await producer.stop()

    asyncio.run(send())


def indexed(env: Env, article_id: str, timeout: float = 90) -> dict[str, Any]:
    async def get() -> dict[str, Any] | None:
        es = make_client(env.settings)
        try:
            # by search: `get` cannot address an alias over several monthly indices
            await es.indices.refresh(index=env.settings.articles_alias)
            resp = await es.search(
                index=env.settings.articles_alias, query={"ids": {"values": [article_id]}}
            )
            hits = resp["hits"]["hits"]
            return dict(hits[0]["_source"]) if hits else None
        finally:
            await es.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = asyncio.run(get())
        if doc:
            return doc
        time.sleep(0.5)
    raise AssertionError(f"{article_id} not indexed within {timeout}s")


def test_story_grouping_survives_a_worker_restart(env: Env) -> None:
    asyncio.run(prepare(env.settings))
    port = free_port()
    variables = {**env.vars, "MEDIAMON_WORKER_METRICS_PORT": str(port)}
    first = ServiceProcess("worker-1", ["worker"], variables, env.logs / "worker-1.log").start()
    try:
        produce(env, RawArticle(id="original", title="Truce monitoring agreed", content_html=LEAD))
        assert indexed(env, "original")["story_id"] == "original"
        # the probes and the stage metrics of a working worker
        assert http_get(port, "/healthz")[0] == 200
        status, body = http_get(port, "/readyz")
        assert status == 200 and json.loads(body)["elasticsearch"] is True
        metrics = http_get(port, "/metrics")[1]
        assert 'mediamon_index_documents_total{result="indexed"} 1.0' in metrics
        assert 'mediamon_enrich_articles_total{result="ok"} 1.0' in metrics
    finally:
        assert first.stop() == 0, first.tail()
    second = ServiceProcess("worker-2", ["worker"], env.vars, env.logs / "worker-2.log").start()
    try:
        copy = LEAD.replace("agreed on a", "agreed on Tuesday on a")
        produce(
            env, RawArticle(id="copy", title="Guarantors agree on monitoring", content_html=copy)
        )
        doc = indexed(env, "copy")
        assert doc["story_id"] == "original", second.tail()
    finally:
        second.stop()


def _partition(article_id: str, partitions: int) -> int:
    """The partition the producer's default partitioner gives this key."""
    return int(murmur2(article_id.encode()) & 0x7FFFFFFF) % partitions


def _stories(n: int) -> list[tuple[str, str]]:
    """`n` unrelated texts (three real leads each, from the coverage set) and a copy of each
    with an edit, as syndication makes them."""
    rows = [json.loads(line) for line in COVERAGE.read_text(encoding="utf-8").splitlines()]
    leads = [r["text"] for r in rows if len(r["text"].split()) >= 25]
    texts = [" ".join(leads[3 * i : 3 * i + 3]) for i in range(n)]
    copies = [f"(AFP) {t} Share this." for t in texts]  # an agency's credit, a share line
    fps = [simhash(t) or 0 for t in texts]
    for i, copy in enumerate(copies):
        assert (fps[i] ^ (simhash(copy) or 0)).bit_count() < MAX_DISTANCE, i  # a copy
        assert all((fps[i] ^ f).bit_count() > 2 * MAX_DISTANCE for f in fps[:i]), i  # unrelated
    return list(zip(texts, copies, strict=True))


def test_copies_enriched_by_different_workers_share_a_story(env: Env) -> None:
    """Two workers, four partitions: each article is enriched by whichever worker owns its
    id's partition, and every copy still meets its original in the one-partition group
    stage (issue 18). Of the 12 pairs, those whose ids fall in different partitions cross
    workers with probability 2/3 each (two of four partitions per worker)."""
    variables = {**env.vars, "MEDIAMON_TOPIC_PARTITIONS": "4"}
    env = Env(settings_from_env(variables), variables, env.logs)
    asyncio.run(prepare(env.settings))
    workers = [
        ServiceProcess(
            f"worker-{n}",
            ["worker"],
            {**variables, "MEDIAMON_WORKER_METRICS_PORT": str(free_port())},
            env.logs / f"worker-{n}.log",
        ).start()
        for n in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all("Worker ready" in w.tail(400) for w in workers):
            assert time.monotonic() < deadline, [w.tail() for w in workers]
            assert all(w.running for w in workers), [w.tail() for w in workers]
            time.sleep(0.5)
        pairs = [(f"original-{n}", f"copy-{n}") for n in range(12)]
        assert sum(_partition(o, 4) != _partition(c, 4) for o, c in pairs) >= 6
        texts = _stories(len(pairs))
        for n, ((original, _), (text, _)) in enumerate(zip(pairs, texts, strict=True)):
            produce(env, RawArticle(id=original, title=f"Story {n}", content_html=f"<p>{text}</p>"))
        for original, _ in pairs:
            assert indexed(env, original)["story_id"] == original
        for n, ((_, copy), (_, edited)) in enumerate(zip(pairs, texts, strict=True)):
            produce(
                env, RawArticle(id=copy, title=f"Re-titled {n}", content_html=f"<p>{edited}</p>")
            )
        got = {copy: indexed(env, copy)["story_id"] for _, copy in pairs}
        assert got == {copy: original for original, copy in pairs}
        for worker in workers:  # the work was shared, so some pairs crossed workers
            assert "enrich batch=" in worker.log_path.read_text(), worker.tail()
    finally:
        for worker in workers:
            worker.stop()
