"""Full text end to end: new items appear in feeds on a local site, the real connector polls
them and fetches each item's page (answered after DELAY, as a real site would), the real
worker enriches and indexes. Target (issue 15): p95 <= 5 s from an item's first appearance
in a polled feed to searchable, at 50 new items/s. Method and results: docs/benchmarks/pages.md.

The site is HOSTS loopback addresses (127.1.0.x), each with one feed carrying its newest
items (one short sentence each, so `fetch: auto` fetches every page) and their pages
(~3,000 characters from the sentence bank). Latency is measured from the moment the site
first served an item in a feed, so the poll interval's wait is reported apart."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler
from typing import Any

from benchmarks import measure as m
from benchmarks import stack as st
from benchmarks.indexing import watch_visible

TARGET_P95 = 5.0  # seconds, first served in a feed -> searchable
FEED_ITEMS = 15  # newest items a feed carries
LANG_WEIGHTS = {"ru": 30, "en": 25, "fr": 10, "de": 10, "tr": 10, "ar": 10, "kk": 5}
DRAIN_SECONDS = 60.0
WATCHED_CODE = [f"{p}" for p in (
    "connectors/rss.py", "connectors/pages.py", "pipeline/adapters/pages.py",
    "pipeline/adapters/http.py", "pipeline/adapters/hosts.py", "pipeline/stages/extract.py",
    "pipeline/agents/enrich.py", "pipeline/agents/index.py")]  # fmt: skip

TABLES: list[m.Spec] = [
    ("Targets", "targets", ("name", "target", "measured", "met")),
    ("Run", "run", ("rate_target", "rate_achieved", "hosts", "poll_interval", "host_spacing",
                    "page_delay_ms", "items", "seen", "unseen", "from_page")),
    ("Cores used while measuring", "cores", ("connector", "worker", "elasticsearch", "kafka",
                                             "benchmark", "others")),
    ("Latency, first served in a feed -> searchable (s)", "latency", ()),
    ("Latency, added to the feed -> searchable (s; adds the poll interval's wait)",
     "latency_from_added", ()),
    ("Per 10 s of the measured window (first served -> searchable)", "windows",
     ("from_s", "n", "p50", "p95")),
]  # fmt: skip


@dataclass
class Item:
    url: str
    title: str
    summary: str
    page: bytes
    added: float


@dataclass
class Site:
    """The hosts' feeds and pages; `first_served` is written from the server threads."""

    hosts: list[str]
    delay: float
    corpus: st.Corpus
    inline: bool = False  # the whole article in the feed item (benchmarks/e2e.py)
    feed_items: int = FEED_ITEMS
    feeds: dict[str, list[Item]] = field(default_factory=dict)
    pages: dict[str, Item] = field(default_factory=dict)
    first_served: dict[str, float] = field(default_factory=dict)
    flight: st.Flight = field(default_factory=st.Flight)
    measuring: bool = False
    serial: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    servers: list[Any] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self) -> list[str]:
        for host in self.hosts:
            server = m.serve(host, 256, self.answer)
            self.servers.append(server)
            self.ports[host] = server.server_address[1]
            self.feeds[host] = []
        return [f"http://{h}:{self.ports[h]}/feed.xml" for h in self.hosts]

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def add(self) -> None:
        """One new item on the next host (round robin)."""
        host = self.hosts[self.serial % len(self.hosts)]
        self.serial += 1
        lang = self.corpus.lang()
        bank = self.corpus.bank[lang]
        paragraphs = self.corpus.paragraphs(lang, 3_000)
        title = random.choice(bank).rstrip(".")[:120]
        path = f"/a/{self.serial:07d}"
        url = f"http://{host}:{self.ports[host]}{path}"
        body = "".join(f"<p>{escape(' '.join(p))}</p>" for p in paragraphs)
        page = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>'
            f"{escape(title)}</title></head><body><header><nav><a href='/'>Home</a> "
            "<a href='/world'>World</a> <a href='/economy'>Economy</a></nav></header>"
            f"<article><h1>{escape(title)}</h1>{body}</article>"
            "<footer>© Bench Herald</footer></body></html>"
        ).encode()
        summary = body if self.inline else random.choice(bank)
        item = Item(url, title, summary, page, time.time())
        with self.lock:
            self.feeds[host].append(item)
            del self.feeds[host][: -self.feed_items]
            self.pages[f"{host}{path}"] = item

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        host = str(request.server.server_address[0])  # type: ignore[index]
        if request.path == "/feed.xml":
            with self.lock:
                items = list(self.feeds.get(host, []))
            now = time.time()
            for item in items:
                if item.url not in self.first_served:
                    self.first_served[item.url] = now
                    if self.measuring:
                        article = st.article_id(item.url)
                        self.flight.sent[article] = now
                        self.flight.pending[article] = None
            entries = "".join(
                f"<item><title>{escape(i.title)}</title><link>{i.url}</link>"
                f"<guid>{i.url}</guid><description>{escape(i.summary)}</description></item>"
                for i in reversed(items)
            )
            body = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{host}</title><link>http://{host}/</link>{entries}</channel></rss>"
            ).encode()
            kind = "application/rss+xml"
        elif request.path == "/robots.txt":
            body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
        else:
            found = self.pages.get(f"{host}{request.path}")
            if found is None:
                request.send_response(404)
                request.send_header("Content-Length", "0")
                request.end_headers()
                return
            time.sleep(self.delay)  # the site's own response time
            body, kind = found.page, "text/html; charset=utf-8"
        request.send_response(200)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


async def generate(site: Site, rate: float, seconds: float) -> float:
    """Add `rate` items/s for `seconds`, against the monotonic clock; returns the rate
    achieved."""
    started, added = time.monotonic(), 0
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate) + 1
        while added < due:
            site.add()
            added += 1
        await asyncio.sleep(max(0.0, (added / rate) - (time.monotonic() - started)))
    return added / max(seconds, 1e-9)


async def run(args: Any) -> dict[str, Any]:
    site = Site(
        [f"127.1.0.{n}" for n in range(1, args.hosts + 1)],
        args.page_delay_ms / 1000,
        st.Corpus(LANG_WEIGHTS, random.Random(m.SEED)),
    )
    urls = site.start()
    try:
        async with st.bench_stack(args.state_dir, args.reuse, args.keep) as bench:
            data = bench.header(WATCHED_CODE)
            env = {
                "MEDIAMON_FEEDS": ",".join(urls),
                "MEDIAMON_POLL_INTERVAL": str(args.poll_interval),
                "MEDIAMON_HOST_SPACING": str(args.host_spacing),
                "MEDIAMON_FETCH_PAGES": "true",
                # the site is on loopback addresses, which the guard refuses
                "MEDIAMON_FEEDS_REFUSE_PRIVATE": "false",
                "MEDIAMON_CONNECTOR_METRICS_PORT": "0",
                "MEDIAMON_WORKER_METRICS_PORT": "0",
            }
            async with bench.phase("pages", **env) as ph:
                ph.env["MEDIAMON_CONNECTOR_STATE_PATH"] = str(bench.logs / "connector.sqlite")
                worker = ph.worker("worker-pages")
                connector = st.ServiceProcess(
                    "connector", ["connectors", "run"], ph.env, bench.logs / "connector.log"
                ).start()
                ph.workers.append(connector)
                m.progress(f"warming up for {args.warmup:g} s at {args.rate:g} items/s")
                await generate(site, args.rate, args.warmup)
                site.measuring = True
                done = asyncio.Event()
                watcher = asyncio.create_task(
                    watch_visible(ph.es, ph.settings.articles_alias, site.flight, done)
                )
                pid = connector.proc.pid if connector.proc else None
                meter = m.CpuMeter({**bench.pids(worker), "connector": pid})
                cpu0, t0 = meter.read(), time.monotonic()
                m.progress(f"measuring for {args.seconds:g} s")
                achieved = await generate(site, args.rate, args.seconds)
                cores = m.CpuMeter.cores(cpu0, meter.read(), time.monotonic() - t0)
                site.measuring = False
                done.set()
                await watcher
                if not connector.running or not worker.running:
                    raise SystemExit(f"a service exited:\n{connector.tail()}\n{worker.tail()}")
                from_page = await ph.es.count(
                    index=ph.settings.articles_alias, query={"term": {"content_from": "page"}}
                )
    finally:
        site.stop()
    flight = site.flight
    seen = [(i, flight.seen[i]) for i in flight.sent if i in flight.seen]
    added = {st.article_id(it.url): it.added for it in site.pages.values()}
    data["cores"] = [cores]
    data["run"] = [{
        "rate_target": args.rate, "rate_achieved": round(achieved, 1), "hosts": args.hosts,
        "poll_interval": args.poll_interval, "host_spacing": args.host_spacing,
        "page_delay_ms": args.page_delay_ms, "items": len(flight.sent), "seen": len(seen),
        "unseen": len(flight.sent) - len(seen), "from_page": int(from_page["count"]),
    }]  # fmt: skip
    data["latency"] = m.stats(at - flight.sent[i] for i, at in seen)
    data["latency_from_added"] = m.stats(at - added[i] for i, at in seen)
    data["windows"] = m.per_ten_seconds(
        ((flight.sent[i], at - flight.sent[i]) for i, at in seen), min(flight.sent.values())
    )
    data["targets"] = {
        f"p95 s at {args.rate:g} items/s, all seen": m.target(
            None if data["run"][0]["unseen"] else data["latency"]["p95"], TARGET_P95, at_least=False
        )
    }
    data["load_after"] = m.loadavg()
    return data


def tables(data: dict[str, Any]) -> list[m.Spec]:
    return TABLES


def main(argv: Sequence[str] | None = None) -> int:
    return st.main(
        argv, "pages", __doc__, run, tables,
        rate=(50.0, "new items per second, all feeds"),
        seconds=(60.0, "seconds measured"),
        warmup=(20.0, "seconds of items before measuring (JIT, caches, first polls)"),
        hosts=(100, "sites (loopback addresses), one feed each"),
        poll_interval=(2.0, "MEDIAMON_POLL_INTERVAL"),
        host_spacing=(0.5, "MEDIAMON_HOST_SPACING: seconds between requests to one host"),
        page_delay_ms=(200.0, "each page's response time"),
    )  # fmt: skip
