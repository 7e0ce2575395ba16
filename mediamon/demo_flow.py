"""The demo: stack up, sample feeds served locally, connector and worker running, progress
until every sample article is searchable, then a summary."""

from __future__ import annotations

import asyncio
import contextlib
import socket
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
    by_text: dict[str, int] = field(default_factory=dict)  # where the text came from


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
                "from": {"terms": {"field": "content_from", "size": 5}},
                "problem": {"terms": {"field": "page_problem", "size": 30}},
            },
        )
    finally:
        await es.close()
    aggs = resp["aggregations"]
    return Summary(
        total=int(resp["hits"]["total"]["value"]),
        by_lang={b["key"]: b["doc_count"] for b in aggs["lang"]["buckets"]},
        by_topic={b["key"]: b["doc_count"] for b in aggs["topics"]["buckets"]},
        by_text=_text_sources(aggs),
    )


def _text_sources(aggs: dict[str, Any]) -> dict[str, int]:
    source = {b["key"]: b["doc_count"] for b in aggs["from"]["buckets"]}
    problems = {b["key"]: b["doc_count"] for b in aggs["problem"]["buckets"]}
    rows = {
        "full text from its page": source.get("page", 0),
        "feed's text (long enough)": source.get("feed", 0) - sum(problems.values()),
        **{f"feed's text (page: {reason})": n for reason, n in problems.items()},
    }
    return {label: n for label, n in rows.items() if n}


def start_services(settings: Settings, server: FeedServer, once: bool) -> list[ServiceProcess]:
    logs = settings.state_dir.resolve() / "demo"
    env = {
        "MEDIAMON_FEEDS": ",".join(server.feed_urls()),
        # the sample outlets' pages come from the local sample site, through its proxy
        "MEDIAMON_HTTP_PROXY": server.proxy_url,
        "MEDIAMON_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
        "MEDIAMON_HOST_SPACING": "0.1",  # our own site: no need to wait a second per page
    }
    worker = ServiceProcess("worker", ["worker"], env, logs / "worker.log").start()
    connector_args = ["connectors", "run", *(["--once"] if once else [])]
    connector = ServiceProcess("connector", connector_args, env, logs / "connector.log").start()
    return [worker, connector]


def free_or_any(port: int) -> int:
    """`port` when nothing listens there, else one the system picks."""
    with contextlib.closing(socket.socket()) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_web(settings: Settings) -> tuple[ServiceProcess, str]:
    """`mediamon web` beside the demo, on loopback; its URL once it answers."""
    port = free_or_any(settings.web_port)
    logs = settings.state_dir.resolve() / "demo"
    web = ServiceProcess(
        "web", ["web", "--host", "127.0.0.1", "--port", str(port)], {}, logs / "web.log"
    ).start()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and web.running:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return web, url
        time.sleep(0.2)
    raise StackError(f"the web page did not start; its log:\n{web.tail()}")


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
