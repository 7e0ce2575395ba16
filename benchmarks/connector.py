"""Connector benchmark: 1,000 generated feeds served locally, one connector process measured.

    .venv/bin/python benchmarks/connector.py [--feeds 1000] [--burst-items 10000] [--window 60]

Needs Kafka (`mediamon stack up`; MEDIAMON_KAFKA_BOOTSTRAP). Each run uses a fresh
namespace, so topics and connector state start empty. Phases:

1. burst: every feed carries its share of `--burst-items` new items; `connectors run --once`
   starts with empty state; measured: wall time from process start until Kafka holds every
   item (end offsets of articles.raw), CPU seconds and peak RSS of the connector process.
2. steady: the same feeds, unchanged, polled continuously at a short interval for `--window`
   seconds, once with ETag/304 and once without validators (full 200 + parse); measured:
   CPU seconds per poll. The CPU share of 1,000 feeds at a 5-minute interval is projected
   from it (polls per second x CPU per poll), since a real 5-minute schedule would need an
   hour of wall time per data point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connectors.state import StateStore  # noqa: E402
from pipeline import topics  # noqa: E402
from pipeline.adapters.kafka import ensure_topics  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


class _Server(ThreadingHTTPServer):
    # The listen backlog is set when the socket opens: the default of 5 drops connections
    # under 100 concurrent fetches, which then show up as client timeouts.
    request_queue_size = 1024
    daemon_threads = True


class Feeds:
    def __init__(self, count: int, items: int, etag: bool) -> None:
        self.bodies = {f"/feed/{n}.xml": feed_body(n, items) for n in range(count)}
        self.etag = etag
        self.requests = 0
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                feeds.requests += 1
                body = feeds.bodies.get(self.path, b"")
                tag = f'"{len(body)}"'
                if feeds.etag and self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                if feeds.etag:
                    self.send_header("ETag", tag)
                self.end_headers()
                self.wfile.write(body)

        # 0.0.0.0: every 127.x.y.z reaches it, so each feed can sit on its own "host".
        self.server = _Server(("0.0.0.0", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def urls(self) -> list[str]:
        port = self.server.server_address[1]
        return [
            f"http://127.1.{n // 250}.{n % 250 + 1}:{port}{path}"
            for n, path in enumerate(self.bodies)
        ]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def proc_stats(pid: int) -> tuple[float, int]:
    """CPU seconds (user+system) and peak RSS (bytes) of a live process and its live
    children (the feed-parsing worker processes), summed."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, IndexError):
                continue
    cpu, peak = 0.0, 0
    for p in pids:
        try:
            fields = _stat(p)
            cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) * 1024
        except OSError:
            continue
    return cpu, peak


async def kafka_count(settings: Settings) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        topic = settings.topic(topics.RAW)
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return sum(offsets.values())
    finally:
        await consumer.stop()


def connector_env(settings: Settings, urls: list[str], interval: float) -> dict[str, str]:
    return {
        **os.environ,
        "MEDIAMON_NAMESPACE": settings.namespace,
        "MEDIAMON_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "MEDIAMON_STATE_DIR": str(settings.state_dir),
        "MEDIAMON_FEEDS": ",".join(urls),
        "MEDIAMON_FEEDS_FILE": "/nonexistent/feeds.yaml",
        "MEDIAMON_POLL_INTERVAL": str(interval),
        "MEDIAMON_CONNECTOR_METRICS_PORT": "0",
        "MEDIAMON_MAX_CONCURRENCY": "100",
    }


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mediamon.main", "--log-level", "warning", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def burst(base: Settings, feeds: int, total_items: int, workdir: Path) -> dict[str, Any]:
    settings = base.model_copy(update={"namespace": f"bench{uuid.uuid4().hex[:6]}-"})
    asyncio.run(ensure_topics(settings))
    per_feed = max(1, total_items // feeds)
    server = Feeds(feeds, per_feed, etag=True)
    env = connector_env(settings, server.urls(), 300)
    started = time.monotonic()
    proc = start(["connectors", "run", "--once"], env, workdir / "burst.log")
    peak, cpu = 0, 0.0
    while proc.poll() is None:
        cpu, peak = proc_stats(proc.pid)
        time.sleep(0.05)
    done = time.monotonic() - started
    held = asyncio.run(kafka_count(settings))
    return {
        "feeds": feeds,
        "items": per_feed * feeds,
        "in_kafka": held,
        "seconds_to_kafka": round(done, 2),
        "items_per_second": round(held / done),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak / 2**20, 1),
        "exit_code": proc.returncode,
    }


def steady(base: Settings, feeds: int, etag: bool, window: float, workdir: Path) -> dict[str, Any]:
    settings = base.model_copy(update={"namespace": f"bench{uuid.uuid4().hex[:6]}-"})
    asyncio.run(ensure_topics(settings))
    server = Feeds(feeds, 20, etag=etag)
    # 10 s base interval: quiet feeds slow to at most 40 s; the first polls spread over 10 s.
    env = connector_env(settings, server.urls(), 10)
    proc = start(["connectors", "run"], env, workdir / "steady.log")
    time.sleep(15)  # first full polls (200 + parse + emit) are the burst case, not steady state
    store = StateStore(settings.connector_state_file)
    polls0 = sum(s.polls for s in store.all_feeds())
    cpu0, _ = proc_stats(proc.pid)
    time.sleep(window)
    cpu1, peak = proc_stats(proc.pid)
    polls1 = sum(s.polls for s in store.all_feeds())
    proc.terminate()
    proc.wait(60)
    store.close()
    polls = polls1 - polls0
    per_poll = (cpu1 - cpu0) / max(polls, 1)
    rate_5min = feeds / 300
    return {
        "feeds": feeds,
        "conditional": etag,
        "window_s": window,
        "polls": polls,
        "polls_per_second": round(polls / window, 1),
        "cpu_ms_per_poll": round(per_poll * 1000, 3),
        "cpu_share_measured": round((cpu1 - cpu0) / window, 4),
        "cpu_share_1000_feeds_5min": round(per_poll * rate_5min, 4),
        "peak_rss_mb": round(peak / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--burst-items", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--workdir", type=Path, default=REPO / ".state" / "bench")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    base = Settings(state_dir=args.workdir)
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "burst": burst(base, args.feeds, args.burst_items, args.workdir),
        "steady_304": steady(base, args.feeds, True, args.window, args.workdir),
        "steady_200": steady(base, args.feeds, False, args.window, args.workdir),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
