"""The worker's state: near-duplicate grouping survives a restart (Faust table changelog)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from deploy.processes import ServiceProcess
from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.schema import RawArticle
from pipeline.worker import prepare
from tests.integration.conftest import Env
from tests.support.net import free_port, http_get

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
