"""Connector: 1,000 generated feeds served locally, one connector process measured: a burst
of new items into Kafka, then steady polling with and without ETag/304. Needs Kafka (`mediamon
stack up`, or MEDIAMON_KAFKA_BOOTSTRAP); each phase has a fresh namespace, so topics and
connector state start empty. Method and results: docs/benchmarks/connector.md."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from benchmarks import measure as m
from benchmarks import stack as st
from connectors.state import StateStore
from pipeline import topics


def feed_body(n: int, items: int) -> bytes:
    entries = "".join(
        f"<item><title>Feed {n} story {i}: talks continue</title>"
        f"<link>https://news{n}.example/story/{i}</link><guid>news{n}-{i}</guid>"
        f"<pubDate>Tue, 24 Jan 2017 10:{i % 60:02d}:00 GMT</pubDate>"
        f"<description>&lt;p&gt;{'Delegations met again to discuss the ceasefire. ' * 8}"
        f"&lt;/p&gt;</description></item>"
        for i in range(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {n}</title><link>https://news{n}.example/</link>{entries}</channel></rss>"
    ).encode()


def serve_feeds(count: int, items: int, etag: bool) -> list[str]:
    """`count` feeds, each on a loopback address of its own (127.1.x.y: the per-host spacing
    applies per feed); with `etag`, a validator and 304s. Returns their URLs."""
    bodies = {f"/feed/{n}.xml": feed_body(n, items) for n in range(count)}

    def answer(request: BaseHTTPRequestHandler) -> None:
        body = bodies.get(request.path, b"")
        tag = f'"{len(body)}"'
        fresh = etag and request.headers.get("If-None-Match") == tag
        status = 304 if fresh else 200 if body else 404
        validator = {"ETag": tag} if etag else {}
        m.reply(request, status, b"" if fresh else body, "application/rss+xml", **validator)

    # 0.0.0.0: every 127.x.y.z reaches it; a backlog for 100 concurrent fetches
    port = m.serve("0.0.0.0", 1024, answer).server_address[1]
    return [f"http://127.1.{n // 250}.{n % 250 + 1}:{port}{path}" for n, path in enumerate(bodies)]


async def kafka_count(settings: st.Settings) -> int:
    """Records held by the namespace's articles.raw (end offsets)."""
    rows = await st.partition_offsets(settings, [settings.topic(topics.RAW)])
    return sum(row.end for row in rows)


def connector(
    base: st.Settings, urls: list[str], interval: float, args: list[str], log: Path
) -> tuple[st.Settings, st.ServiceProcess, float]:
    """A connector process on a fresh namespace, and when it started (after the topics)."""
    settings = base.model_copy(update={"namespace": f"bench{uuid.uuid4().hex[:6]}-"})
    asyncio.run(st.ensure_topics(settings))
    env = {
        "MEDIAMON_NAMESPACE": settings.namespace,
        "MEDIAMON_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "MEDIAMON_STATE_DIR": str(settings.state_dir), "MEDIAMON_FEEDS": ",".join(urls),
        "MEDIAMON_FEEDS_FILE": "/nonexistent/feeds.yaml", "MEDIAMON_POLL_INTERVAL": str(interval),
        "MEDIAMON_CONNECTOR_METRICS_PORT": "0", "MEDIAMON_MAX_CONCURRENCY": "100",
        # as `base`: the feeds are on loopback addresses and have no pages
        "MEDIAMON_FEEDS_REFUSE_PRIVATE": "false", "MEDIAMON_FETCH_PAGES": "false",
    }  # fmt: skip
    args = ["--log-level", "warning", "connectors", "run", *args]
    started = time.monotonic()
    return settings, st.ServiceProcess("connector", args, env, log).start(), started


def burst(base: st.Settings, feeds: int, total_items: int, workdir: Path) -> dict[str, Any]:
    """`connectors run --once` on empty state: from process start until it exits, which it
    does only after Kafka acknowledged every item."""
    per_feed = max(1, total_items // feeds)
    urls = serve_feeds(feeds, per_feed, etag=True)
    settings, proc, started = connector(base, urls, 300, ["--once"], workdir / "burst.log")
    cpu, peak = 0.0, 0.0
    while proc.running:
        cpu, peak = m.tree_stats(proc.proc.pid if proc.proc else 0)
        time.sleep(0.05)
    done = time.monotonic() - started
    held = asyncio.run(kafka_count(settings))
    return {
        "feeds": feeds, "items": per_feed * feeds, "in_kafka": held,
        "seconds_to_kafka": round(done, 2), "items_per_second": round(held / done),
        "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak, 1), "exit_code": proc.wait(10),
    }  # fmt: skip


def steady(base: st.Settings, feeds: int, etag: bool, window: float, workdir: Path) -> Any:
    """Unchanged feeds polled for `window` seconds: CPU per poll, and the share 1,000 feeds
    at a 5-minute interval would take (a real schedule needs an hour per data point)."""
    urls = serve_feeds(feeds, 20, etag=etag)
    # 10 s base interval: quiet feeds slow to at most 40 s; the first polls spread over 10 s
    settings, proc, _ = connector(base, urls, 10, [], workdir / "steady.log")
    pid = proc.proc.pid if proc.proc else 0
    time.sleep(15)  # the first full polls (200 + parse + emit) are the burst case
    store = StateStore(settings.connector_state_file)
    polls0, (cpu0, _) = sum(s.polls for s in store.all_feeds()), m.tree_stats(pid)
    time.sleep(window)
    cpu1, peak = m.tree_stats(pid)
    polls = sum(s.polls for s in store.all_feeds()) - polls0
    proc.stop(60)
    store.close()
    per_poll = (cpu1 - cpu0) / max(polls, 1)
    return {
        "feeds": feeds, "conditional": etag, "window_s": window, "polls": polls,
        "polls_per_second": round(polls / window, 1), "cpu_ms_per_poll": round(per_poll * 1000, 3),
        "cpu_share_measured": round((cpu1 - cpu0) / window, 4),
        "cpu_share_1000_feeds_5min": round(per_poll * feeds / 300, 4),
        "peak_rss_mb": round(peak, 1),
    }  # fmt: skip


def run(args: Any) -> dict[str, Any]:
    args.workdir.mkdir(parents=True, exist_ok=True)
    # the feeds are on loopback addresses (the guard would refuse them) and have no pages
    base = st.Settings(state_dir=args.workdir, feeds_refuse_private=False, fetch_pages=False)
    return {
        "machine": m.machine_info(),
        "burst": burst(base, args.feeds, args.burst_items, args.workdir),
        "steady": {
            "304 (ETag)": steady(base, args.feeds, True, args.window, args.workdir),
            "200 (no validators)": steady(base, args.feeds, False, args.window, args.workdir),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    return m.main(
        argv, "connector", __doc__, run,
        feeds=(1000, "generated feeds"),
        burst_items=(10_000, "new items in the burst, over all feeds"),
        window=(60.0, "seconds of steady polling"),
        workdir=(m.REPO / ".state" / "bench", "the connector's state"),
    )  # fmt: skip
