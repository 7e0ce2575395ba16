"""The demo: stack up, sample feeds served locally, connector and worker running, progress
until every sample article is searchable, then a summary."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from connectors.normalize import parse_feed
from deploy.feedserver import FeedServer
from deploy.processes import ServiceProcess
from pipeline.adapters.elastic import make_client
from pipeline.errors import StackError
from pipeline.settings import Settings


def expected_ids(server: FeedServer) -> set[str]:
    """Ids of every sample article, computed by the connector's own parsing code."""
    ids: set[str] = set()
    for url in server.feed_urls():
        path = server.directory / url.rsplit("/", 1)[1]
        ids.update(a.id for a in parse_feed(path.read_bytes(), url).articles)
    return ids


@dataclass
class Summary:
    total: int
    by_lang: dict[str, int] = field(default_factory=dict)
    by_topic: dict[str, int] = field(default_factory=dict)


async def count_indexed(settings: Settings, ids: set[str]) -> int:
    es = make_client(settings)
    try:
        if not await es.indices.exists_alias(name=settings.articles_alias):
            return 0
        resp = await es.count(index=settings.articles_alias, query={"ids": {"values": list(ids)}})
        return int(resp["count"])
    finally:
        await es.close()


async def summarize(settings: Settings, ids: set[str]) -> Summary:
    es = make_client(settings)
    try:
        resp: Any = await es.search(
            index=settings.articles_alias,
            query={"ids": {"values": list(ids)}},
            size=0,
            aggs={
                "lang": {"terms": {"field": "lang", "size": 50}},
                "topics": {"terms": {"field": "topics", "size": 50}},
            },
        )
    finally:
        await es.close()
    aggs = resp["aggregations"]
    return Summary(
        total=int(resp["hits"]["total"]["value"]),
        by_lang={b["key"]: b["doc_count"] for b in aggs["lang"]["buckets"]},
        by_topic={b["key"]: b["doc_count"] for b in aggs["topics"]["buckets"]},
    )


def start_services(settings: Settings, feed_urls: list[str], once: bool) -> list[ServiceProcess]:
    logs = settings.state_dir.resolve() / "demo"
    env = {"MEDIAMON_FEEDS": ",".join(feed_urls)}
    worker = ServiceProcess("worker", ["worker"], env, logs / "worker.log").start()
    connector_args = ["connectors", "run", *(["--once"] if once else [])]
    connector = ServiceProcess("connector", connector_args, env, logs / "connector.log").start()
    return [worker, connector]


def wait_until_indexed(
    settings: Settings,
    ids: set[str],
    services: list[ServiceProcess],
    timeout: float,
    on_progress: Any = None,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = asyncio.run(count_indexed(settings, ids))
        if on_progress:
            on_progress(done)
        if done >= len(ids):
            return
        worker = services[0]
        if not worker.running:
            raise StackError(f"the worker exited; last lines of its log:\n{worker.tail()}")
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {s.name} ({s.log_path}):\n{s.tail(15)}" for s in services)
            raise StackError(
                f"only {done} of {len(ids)} sample articles indexed after {timeout:.0f}s\n{tails}"
            )
        time.sleep(1)
