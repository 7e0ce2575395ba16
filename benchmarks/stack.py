"""What the benchmarks on a Kafka + Elasticsearch stack share: their ports, stack and
namespaces, workers and connector, Elasticsearch accounting, paced Kafka production, the
article corpus, local feed sites and the watch for searchable ids."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import AsyncElasticsearch

from benchmarks import measure as m

# The pipeline internals the benchmarks use, imported here only, so a move inside the
# packages is fixed in one file.
from deploy.processes import ServiceProcess
from deploy.stack import Stack
from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.adapters.kafka_admin import partition_offsets
from pipeline.indexing.bulk import to_es_document
from pipeline.indexing.layout import ensure_monthly_index, month_of, monthly_index
from pipeline.schema import EnrichedArticle
from pipeline.settings import Settings
from pipeline.stages.canonical import article_id
from pipeline.worker import prepare
from tests.support import ports
from tests.support.settings import settings_from_env as settings_from

__all__ = ["ServiceProcess", "Settings"]

# The benchmarks' own Kafka and Elasticsearch, from the one port registry (tests/support).
BENCH_PORTS = ports.BENCHMARKS.stack_vars()
Message = Callable[[int, float], tuple[str, bytes]]  # (n, now) -> record n's key and value
# Elasticsearch's own accounting of a namespace's articles: name -> path in their primaries
ES_WORK = {
    "index_ms": ("indexing", "index_time_in_millis"), "refreshes": ("refresh", "total"),
    "refresh_ms": ("refresh", "total_time_in_millis"), "merges": ("merges", "total"),
    "merge_ms": ("merges", "total_time_in_millis"), "searches": ("search", "query_total"),
    "query_ms": ("search", "query_time_in_millis"), "fetch_ms": ("search", "fetch_time_in_millis"),
}  # fmt: skip
PACE_TICK = 0.01  # paced sending: 200/s arrives as bursts of 2 every 10 ms
DRAIN_SECONDS = 30.0  # after the last send, how long stragglers are waited for
# articles.tagged exists since the group stage (a --code-ref before it has none)
TAGGED = getattr(topics, "TAGGED", "articles.tagged")
STAGE_TOPICS = (topics.RAW, TAGGED, topics.ENRICHED)
# The index agent's batch line; faust prefixes `[time] [pid] [level]`
BATCH_LINE = re.compile(
    r"^\[?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]? .*?index batch=(\d+) .*?alerts=(\d+)", re.M
)


@dataclass
class Corpus:
    """Deterministic EnrichedArticle records of about 2,000 characters from the sentence
    bank; ids stay unique across the phases of one run."""

    weights: dict[str, int]  # language -> share
    rng: random.Random = field(default_factory=lambda: random.Random(m.SEED))
    serial: int = 0
    bank: dict[str, list[str]] = field(default_factory=m.sentences)

    def lang(self) -> str:
        return self.rng.choices(list(self.weights), weights=list(self.weights.values()))[0]

    def paragraphs(self, lang: str, size: int) -> list[list[str]]:
        """Paragraphs of 2-4 m.sentences until about `size` characters."""
        out: list[list[str]] = []
        while sum(len(" ".join(p)) + 2 for p in out) < size:
            out.append([self.rng.choice(self.bank[lang]) for _ in range(self.rng.randint(2, 4))])
        return out

    def article(
        self, lang: str, text: str, published: datetime, domain: str, **fields: Any
    ) -> EnrichedArticle:
        """An article of `domain`; `query` is appended to its URL (not the canonical one);
        a story of its own unless `story_id` is given."""
        rng = self.rng
        self.serial += 1
        path = f"{published:%Y/%m/%d}/{self.serial:07d}-{rng.getrandbits(32):08x}"
        url = f"https://{domain}/{path}"
        article_id = hashlib.sha256(url.encode()).hexdigest()[:32]  # as canonical.article_id
        tagged = fields.pop("topics", [])
        return EnrichedArticle(
            id=article_id, url=url + fields.pop("query", ""), canonical_url=url, domain=domain,
            feed_id=domain.split(".")[0], title=rng.choice(self.bank[lang]).rstrip("."),
            text=text, lang=lang, lang_confidence=round(rng.uniform(0.80, 1.0), 3), topics=tagged,
            topic_scores={t: round(rng.uniform(1.0, 9.0), 2) for t in tagged},
            fingerprint=f"{rng.getrandbits(64):016x}",
            story_id=fields.pop("story_id", None) or article_id, published=published,
            fetched_at=published + timedelta(seconds=rng.uniform(30, 900)), **fields,
        )  # fmt: skip

    def recent(self) -> datetime:
        """Published in the last hours, as live news are."""
        return datetime.now(UTC) - timedelta(seconds=self.rng.uniform(60, 6 * 3600))


@dataclass
class Bench:
    """A benchmark's stack, logs and settings; every phase makes its own namespace on it:
    its own topics, indices and consumer group, deleted when the phase ends."""

    base_env: dict[str, str]
    logs: Path
    es_pid: int | None = None  # the server JVM, not its launcher
    kafka_pid: int | None = None

    @property
    def settings(self) -> Settings:
        return settings_from(self.base_env)

    @asynccontextmanager
    async def phase(self, label: str, **overrides: str) -> AsyncIterator[Phase]:
        """A namespace of its own prepared as the worker would, its client; at the end its
        workers are stopped and, unless the phase failed, the namespace deleted."""
        namespace = f"b{uuid.uuid4().hex[:8]}-{label}-"
        env = {**self.base_env, "MEDIAMON_NAMESPACE": namespace, **overrides}
        settings = settings_from(env)
        await prepare(settings)
        phase = Phase(self, settings, env, make_client(settings))
        try:
            yield phase
        finally:
            for worker in phase.workers:
                worker.stop()
            await phase.es.close()
        await drop_namespace(settings)

    def pids(self, workers: Sequence[ServiceProcess], connector: Any = None) -> dict[str, int]:
        """The connector, the workers (`worker`, or `worker0`, `worker1`... when more than
        one), Elasticsearch, Kafka and this process, by name."""
        procs = {f"worker{n}" if len(workers) > 1 else "worker": w for n, w in enumerate(workers)}
        procs |= {"connector": connector} if connector else {}
        servers = {"elasticsearch": self.es_pid, "kafka": self.kafka_pid, "benchmark": os.getpid()}
        pids = {name: p.proc.pid for name, p in procs.items() if p.proc}
        return pids | {k: v for k, v in servers.items() if v}

    def header(self) -> dict[str, Any]:
        s = self.settings
        servers = {
            "kafka_version": s.kafka_version, "kafka_heap": s.kafka_heap, "es_version":
            s.es_version, "es_heap": s.es_heap, "partitions": s.topic_partitions,
            "refresh_interval": s.es_refresh_interval,
        }  # fmt: skip
        return {
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "code": m.code_state(), "machine": m.machine_info(),
            "load_before": m.loadavg(), "servers": servers, "logs": str(self.logs),
            "versions": m.versions("faust-streaming", "aiokafka", "elasticsearch", "pydantic"),
        }  # fmt: skip


@dataclass
class Phase:
    bench: Bench
    settings: Settings
    env: dict[str, str]
    es: AsyncElasticsearch
    workers: list[ServiceProcess] = field(default_factory=list)

    def worker(self, name: str) -> ServiceProcess:
        log = self.bench.logs / f"{name}.log"
        self.workers.append(ServiceProcess(name, ["worker"], self.env, log).start())
        return self.workers[-1]

    async def ready_workers(self, names: Sequence[str]) -> list[ServiceProcess]:
        """A worker per name, waited for until every one is ready."""
        procs = [self.worker(name) for name in names]

        def ready() -> bool:
            return all("Worker ready" in p.tail(500) for p in procs)

        await wait_until(ready, 180, procs[0], "every worker ready")
        return procs

    async def work(self) -> dict[str, float]:
        return await es_work(self.es, self.settings)

    async def paced(
        self, worker: ServiceProcess, count: int, rate: float, flight: Flight, message: Message
    ) -> tuple[float, dict[str, float]]:
        """`pace`; the seconds of sending, and the cores each process used meanwhile."""
        meter = m.CpuMeter(self.bench.pids([worker]))
        cpu0 = meter.read()
        seconds = await pace(self.settings, count, rate, flight, message)
        return seconds, m.CpuMeter.cores(cpu0, meter.read(), seconds)


def main(
    argv: Sequence[str] | None,
    name: str,
    doc: str | None,
    run: Callable[[Any, Bench], Coroutine[Any, Any, dict[str, Any]]],
    **options: tuple[Any, str],
) -> int:
    """A benchmark on the stack: its options and the stack's (`--code-ref` is handled by
    __main__.py); its run on the stack, after the header and before the load after it."""
    args = m.parser(
        name, doc, **options,
        state_dir=(m.DEFAULT_STATE, "the stack's state, logs and exported commits"),
        code_ref=(None, "measure this commit, exported under the state dir"),
        reuse=(False, "use the running benchmark stack"),
        keep=(False, "leave the stack running"),
    ).parse_args(argv)  # fmt: skip
    args.state_dir = args.state_dir.resolve()

    async def on_stack() -> dict[str, Any]:
        async with bench_stack(args.state_dir, args.reuse, args.keep) as bench:
            data = bench.header()
            data |= await run(args, bench)
            return data | {"load_after": m.loadavg()}

    return m.emit(args, asyncio.run(on_stack()))


@asynccontextmanager
async def bench_stack(state_dir: Path, reuse: bool, keep: bool) -> AsyncIterator[Bench]:
    """The benchmarks' Kafka and Elasticsearch on BENCH_PORTS (state in the absolute
    `state_dir`), started here (or, with `reuse`, already running) and stopped at the end
    unless `keep` or `reuse`."""
    base_env = {**BENCH_PORTS, "MEDIAMON_STATE_DIR": str(state_dir)}
    # no metrics ports for the workers and connectors: other stacks hold the defaults
    base_env |= {"MEDIAMON_CONNECTOR_METRICS_PORT": "0", "MEDIAMON_WORKER_METRICS_PORT": "0"}
    stack = Stack(settings_from(base_env))
    started_here = False
    if reuse:
        if not all(s.healthy for s in await asyncio.to_thread(stack.status)):
            raise SystemExit(f"--reuse: the stack in {state_dir} is not running")
    else:
        started_here = not any(s.running for s in await asyncio.to_thread(stack.status))
        m.progress("starting Kafka and Elasticsearch" if started_here else "stack already up")
        await asyncio.to_thread(stack.up)
    pids = {s.name: s.pid for s in await asyncio.to_thread(stack.status)}
    logs = state_dir / "logs" / time.strftime("%Y%m%dT%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    try:
        yield Bench(base_env, logs, pids.get("elasticsearch"), pids.get("kafka"))
    finally:
        if not keep and not reuse:
            m.progress("stopping the stack" + ("" if started_here else " (it was already up)"))
            stack.down()


async def drop_namespace(settings: Settings) -> None:
    """Delete a phase's indices and topics: repeated runs would otherwise fill the disk."""
    es = make_client(settings)
    try:
        # deletion by wildcard is refused (action.destructive_requires_name): name them
        found = await es.indices.get(index=f"{settings.namespace}*", features="settings")
        if found:
            await es.indices.delete(index=",".join(found))
        templates = await es.options(ignore_status=404).indices.get_index_template(
            name=f"{settings.namespace}*"
        )
        for template in templates.get("index_templates", []):
            await es.indices.delete_index_template(name=template["name"])
    except Exception as exc:  # clean-up must not hide the results
        m.progress(f"warning: could not delete the namespace's indices: {exc}")
    finally:
        await es.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.namespace)]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:
        m.progress(f"warning: could not delete the namespace's topics: {exc}")
    finally:
        await admin.close()


async def es_work(es: AsyncElasticsearch, settings: Settings) -> dict[str, float]:
    """Elasticsearch's own accounting for the namespace (summed thread time, ms): indexing,
    refreshes, merges and searches on the articles, alert records, and the node's GC. Read
    before and after a phase."""
    articles, alerts, nodes = await asyncio.gather(
        es.indices.stats(index=settings.articles_alias, metric="indexing,refresh,merge,search"),
        es.options(ignore_status=404).indices.stats(index=settings.alerts_index),
        es.nodes.stats(node_id="_local", metric="jvm"),
    )
    primaries = articles["_all"]["primaries"]
    work = {k: primaries[part][key] for k, (part, key) in ES_WORK.items()}
    alert_prim = alerts.get("_all", {}).get("primaries", {}).get("indexing", {})
    gc = next(iter(nodes["nodes"].values()))["jvm"]["gc"]["collectors"]
    return work | {
        "alert_records": alert_prim.get("index_total", 0),
        "alert_index_ms": alert_prim.get("index_time_in_millis", 0),
        "gc_ms": sum(c["collection_time_in_millis"] for c in gc.values()),
        "gcs": sum(c["collection_count"] for c in gc.values()),
    }  # fmt: skip


async def wait_until(
    check: Callable[[], Any], limit: float, worker: ServiceProcess, what: str
) -> None:
    """Poll `check` (a function or a coroutine function) until true; fail with the worker's
    log tail when it exits or `limit` seconds pass."""
    deadline = time.monotonic() + limit
    while not (await check() if asyncio.iscoroutinefunction(check) else check()):
        if not worker.running:
            raise SystemExit(f"the worker exited while waiting for {what}:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise SystemExit(f"no {what} after {limit:.0f}s:\n{worker.tail()}")
        await asyncio.sleep(0.5)


def index_batches(log_path: Path, offset: int = 0) -> list[tuple[float, int, int]]:
    """(log time, size, alerts) of the index agent's batches after `offset` bytes of a log."""
    with open(log_path, "rb") as log_file:
        log_file.seek(offset)
        text = log_file.read().decode("utf-8", "replace")
    return [
        (datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp(), int(m[2]), int(m[3]))
        for m in BATCH_LINE.finditer(text)  # the worker logs local time
    ]


def batch_stats(rows: list[tuple[float, int, int]]) -> dict[str, Any]:
    """The batches' sizes and alerts, and the time from one batch line to the next (the
    batch window plus the batch's own time)."""
    return {
        "batches": len(rows), "size": m.stats(r[1] for r in rows),
        "alerts_per_batch": m.stats(r[2] for r in rows),
        "cycle_seconds": m.stats(b[0] - a[0] for a, b in itertools.pairwise(rows)),
    }  # fmt: skip


@dataclass
class Flight:
    """Wall-clock times per article id of a paced run."""

    sent: dict[str, float] = field(default_factory=dict)  # taken just before producer.send
    seen: dict[str, float] = field(default_factory=dict)
    pending: dict[str, None] = field(default_factory=dict)  # sent, not yet seen, in order

    def arrivals(self, since: float = 0.0) -> list[tuple[str, float]]:
        """(id, time seen) of the records sent (at `since` or later) and seen, in order."""
        return [(i, self.seen[i]) for i, at in self.sent.items() if i in self.seen and at >= since]

    def latency(self, arrivals: Sequence[tuple[str, float]]) -> dict[str, float]:
        return m.stats(at - self.sent[i] for i, at in arrivals)

    def windows(self, arrivals: Sequence[tuple[str, float]], t0: float) -> list[dict[str, float]]:
        return m.per_ten_seconds(((self.sent[i], at - self.sent[i]) for i, at in arrivals), t0)

    def summary(self, arrivals: Sequence[tuple[str, float]], seconds: float) -> dict[str, Any]:
        """The records sent, their rate, latency from the send to each (id, arrival)."""
        sent, t0 = len(self.sent), min(self.sent.values())
        return {
            "sent": sent, "rate_achieved": round(sent / seconds, 1),
            "latency": self.latency(arrivals), "windows": self.windows(arrivals, t0),
        }  # fmt: skip


async def produce(
    settings: Settings, payloads: Sequence[tuple[str, bytes]], topic: str = topics.ENRICHED
) -> None:
    """Keyed records into the namespace's `topic`, in order, until all are acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        name = settings.topic(topic)
        await asyncio.gather(*[await producer.send(name, v, key=k.encode()) for k, v in payloads])
    finally:
        await producer.stop()


async def pace(
    settings: Settings, count: int, rate: float, flight: Flight, message: Message
) -> float:
    """Send `count` records at `rate`/s in bursts against the monotonic clock; `message(n,
    now)` gives record n's id and value. The producer is configured as Faust's (acks all, no
    linger, no compression). Returns the sending seconds."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=0)
    await producer.start()
    topic = settings.topic(topics.ENRICHED)
    futures = []
    try:
        started = time.monotonic()
        sent = 0
        while sent < count:
            due = min(count, int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                now = time.time()
                article_id, value = message(sent, now)
                flight.sent[article_id] = now
                flight.pending[article_id] = None
                futures.append(await producer.send(topic, value, key=article_id.encode()))
                sent += 1
            await asyncio.sleep(PACE_TICK)
        seconds = time.monotonic() - started
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return seconds


async def watch_visible(
    es: AsyncElasticsearch, alias: str, flight: Flight, done: asyncio.Event
) -> list[float]:
    """Every 0.1 s, ask for the ids sent and not yet seen (`ids` query, no source); a
    document's visible time is the answer's time. After `done`, stragglers are waited for
    DRAIN_SECONDS. Returns the search round trips."""
    polls: list[float] = []
    drain_deadline: float | None = None
    while True:
        tick = time.time()
        if done.is_set():
            drain_deadline = drain_deadline or tick + DRAIN_SECONDS
            if not flight.pending or tick > drain_deadline:
                return polls
        ids = list(flight.pending)
        for start in range(0, len(ids), 5_000):
            chunk = ids[start : start + 5_000]
            asked = time.time()
            resp = await es.search(index=alias, query={"ids": {"values": chunk}}, source=False,
                                   size=len(chunk), filter_path="hits.hits._id")  # fmt: skip
            answered = time.time()
            polls.append(answered - asked)
            for hit in resp.get("hits", {}).get("hits", []):
                if flight.pending.pop(hit["_id"], 0) is None:
                    flight.seen[hit["_id"]] = answered
        await asyncio.sleep(max(0.0, 0.1 - (time.time() - tick)))


def bulk_body(settings: Settings, articles: Sequence[EnrichedArticle]) -> bytes:
    """A bulk request of the articles as the worker's documents, in their monthly indices."""
    lines = []
    for a in articles:
        action = {"index": {"_index": monthly_index(settings, month_of(a)), "_id": a.id}}
        lines += [json.dumps(action), json.dumps(to_es_document(a), ensure_ascii=False)]
    return ("\n".join(lines) + "\n").encode()


async def ensure_months(
    es: AsyncElasticsearch, settings: Settings, articles: Sequence[EnrichedArticle],
    known: set[datetime] | None = None,
) -> None:  # fmt: skip
    """The articles' monthly indices, but those in `known` (which gets the new ones)."""
    known = set() if known is None else known
    for month in sorted({month_of(a) for a in articles} - known):
        await ensure_monthly_index(es, settings, month, lifecycle=False)
        known.add(month)


# The feed benchmarks (e2e, pages): local sites, the connector and workers on them


async def stage_offsets(settings: Settings) -> dict[str, int]:
    """Per stage topic: the workers' consumer lag."""
    rows = await partition_offsets(
        settings, [settings.topic(t) for t in STAGE_TOPICS], group=settings.app_id
    )
    lag = dict.fromkeys(STAGE_TOPICS, 0)
    for row in rows:
        logical = next(t for t in STAGE_TOPICS if settings.topic(t) == row.topic)
        lag[logical] += row.lag if row.lag is not None else row.messages
    return lag


# The feed benchmarks' options: the sites, the poll, the topics (pages takes the first two)
FEED_OPTIONS: dict[str, tuple[Any, str]] = {
    "hosts": (100, "sites (loopback addresses), one feed each"),
    "poll_interval": (2.0, "MEDIAMON_POLL_INTERVAL"),
    "feed_items": (20, "newest items a feed carries (more than a poll's worth)"),
    "partitions": (6, "MEDIAMON_TOPIC_PARTITIONS"),
}


def pipeline_env(urls: Sequence[str], poll_interval: float, **more: Any) -> dict[str, str]:
    """The connector's and workers' settings: the feeds polled every `poll_interval`; `more`
    as MEDIAMON_ names, lower-cased."""
    env = {
        "MEDIAMON_FEEDS": ",".join(urls), "MEDIAMON_POLL_INTERVAL": str(poll_interval),
        # the sites are on loopback addresses, which the guard refuses
        "MEDIAMON_FEEDS_REFUSE_PRIVATE": "false",
    }  # fmt: skip
    return env | {f"MEDIAMON_{k.upper()}": str(v).lower() for k, v in more.items()}


async def start_pipeline(
    bench: Bench, ph: Phase, names: Sequence[str], tag: str
) -> tuple[list[ServiceProcess], ServiceProcess]:
    """A worker per name, waited for until ready, then the connector (its state file and
    log named by `tag`); all stopped when the phase ends."""
    ph.env["MEDIAMON_CONNECTOR_STATE_PATH"] = str(bench.logs / f"c{tag}.sqlite")
    procs = await ph.ready_workers(names)
    log = bench.logs / f"connector-{tag}.log"
    ph.workers.append(ServiceProcess("connector", ["connectors", "run"], ph.env, log).start())
    return procs, ph.workers[-1]


@dataclass
class Item:
    url: str
    title: str
    summary: str
    page: bytes
    added: float
    served: float = 0.0  # when a feed first carried it


@dataclass
class Site:
    """Loopback hosts (127.1.0.x), one feed each carrying its newest items, and their pages
    (~3,000 characters from the corpus) answered after `delay`; with `inline`, the whole
    article in the feed item. While `measuring`, an item goes into `flight` the moment a
    feed first serves it (from the server threads)."""

    hosts: int
    delay: float
    corpus: Corpus
    inline: bool = False
    feed_items: int = 15
    feeds: dict[str, list[Item]] = field(default_factory=dict)
    pages: dict[str, Item] = field(default_factory=dict)
    added: dict[str, float] = field(default_factory=dict)  # article id -> when added
    flight: Flight = field(default_factory=Flight)
    measuring: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    servers: list[Any] = field(default_factory=list)

    def start(self) -> list[str]:
        for host in (f"127.1.0.{n}" for n in range(1, self.hosts + 1)):
            self.servers.append(m.serve(host, 256, self.answer))
            self.feeds[f"{host}:{self.servers[-1].server_address[1]}"] = []
        return [f"http://{host}/feed.xml" for host in self.feeds]

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def add(self) -> Item:
        """One new item on the next host (round robin)."""
        host = list(self.feeds)[len(self.added) % len(self.feeds)]
        lang = self.corpus.lang()
        bank = self.corpus.bank[lang]
        paragraphs = self.corpus.paragraphs(lang, 3_000)
        title = random.choice(bank).rstrip(".")[:120]
        path = f"/a/{len(self.added) + 1:07d}"
        body = "".join(f"<p>{escape(' '.join(p))}</p>" for p in paragraphs)
        page = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>'
            f"{escape(title)}</title></head><body><header><nav><a href='/'>Home</a> "
            "<a href='/world'>World</a> <a href='/economy'>Economy</a></nav></header>"
            f"<article><h1>{escape(title)}</h1>{body}</article>"
            "<footer>© Bench Herald</footer></body></html>"
        ).encode()
        summary = body if self.inline else random.choice(bank)
        item = Item(f"http://{host}{path}", title, summary, page, time.time())
        with self.lock:
            self.feeds[host] = [*self.feeds[host], item][-self.feed_items :]
            if not self.inline:  # nothing fetches the pages of inline items
                self.pages[item.url] = item
        self.added[article_id(item.url)] = item.added
        return item

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        ip, port = request.server.server_address[:2]  # type: ignore[index,str-unpack]  # TCP
        host = f"{ip!s}:{port}"
        if request.path == "/feed.xml":
            m.reply(request, 200, self.feed(host), "application/rss+xml")
        elif request.path == "/robots.txt":
            m.reply(request, 200, b"User-agent: *\nAllow: /\n", "text/plain")
        elif found := self.pages.get(f"http://{host}{request.path}"):
            time.sleep(self.delay)  # the site's own response time
            m.reply(request, 200, found.page, "text/html; charset=utf-8")
        else:
            m.reply(request, 404, b"", "text/plain")

    def feed(self, host: str) -> bytes:
        """The host's RSS, newest item first; an item served for the first time goes into
        `flight` while `measuring`."""
        with self.lock:
            items = self.feeds.get(host, [])
        now = time.time()
        for item in (i for i in items if not i.served):
            item.served = now
            if self.measuring:
                self.flight.sent[article_id(item.url)] = now
                self.flight.pending[article_id(item.url)] = None
        entries = "".join(
            f"<item><title>{escape(i.title)}</title><link>{i.url}</link>"
            f"<guid>{i.url}</guid><description>{escape(i.summary)}</description></item>"
            for i in reversed(items)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{host}</title><link>http://{host}/</link>{entries}</channel></rss>"
        ).encode()


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


async def measured(
    ph: Phase, site: Site, procs: list[ServiceProcess], connector: ServiceProcess,
    args: Any, rate: float, trees: Sequence[str] = (),
    at_end: Callable[[], Coroutine[Any, Any, Any]] | None = None,
) -> tuple[float, dict[str, float], Any]:  # fmt: skip
    """`args.warmup` seconds of items at `rate`, then `args.seconds` measured, each item from
    the moment a feed first served it until searchable: the rate achieved, the cores each
    process used meanwhile (`trees` with their children), and what `at_end` reads when the
    items stop (before the stragglers are waited for). Fails if a process exited."""
    m.progress(f"{len(procs)} worker(s), {rate:g} items/s: warming up {args.warmup:g} s")
    await generate(site, rate, args.warmup)
    meter = m.CpuMeter(ph.bench.pids(procs, connector), trees)
    site.flight, site.measuring, done = Flight(), True, asyncio.Event()
    watcher = asyncio.create_task(
        watch_visible(ph.es, ph.settings.articles_alias, site.flight, done)
    )
    cpu0, t0 = meter.read(), time.monotonic()
    m.progress(f"measuring {args.seconds:g} s")
    achieved = await generate(site, rate, args.seconds)
    cores = m.CpuMeter.cores(cpu0, meter.read(), time.monotonic() - t0)
    end = await at_end() if at_end else None
    site.measuring = False
    done.set()
    await watcher
    if dead := [p.name for p in [*procs, connector] if not p.running]:
        raise SystemExit(f"exited: {dead}\n{connector.tail()}\n{procs[0].tail()}")
    return achieved, cores, end
