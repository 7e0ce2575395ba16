"""Indexing: `articles.enriched` -> the real worker -> Elasticsearch; targets 2,000 documents/s
searchable, and p95 <= 2 s from send to searchable at 500/s. Phases: Elasticsearch warmed up,
throughput per batch size, Elasticsearch alone, latency per REFRESH:BATCH_SECONDS variant.
Method, results, how to read them: docs/benchmarks/indexing.md."""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch

from benchmarks import measure as m
from benchmarks import stack as st
from pipeline.schema import EnrichedArticle

TARGET_RATE = 2_000.0  # documents/s, sustained
TARGET_P95 = 2.0  # seconds, at the latency phase's rate
WARMUP_CHUNK = 10_000  # a fresh JVM costs up to 3x the CPU per document over its first ~50k
LATENCY_WARMUP_DOCS = 1_000
# Throughput articles are dated over ~3 months before this instant (three monthly indices);
# fixed so two runs index the same documents. A clock before it falls back to "now".
DATE_ANCHOR = datetime(2026, 10, 31, 20, tzinfo=UTC)
LANG_WEIGHTS = {"ru": 30, "en": 20, "tr": 10, "ar": 10, "fr": 10, "de": 10, "kk": 10}
AUTHORS = ("A. Karimova", "J. Smith", "M. Yilmaz", "S. Haddad", "P. Dubois", "K. Weber")
CATEGORIES = ("world", "politics", "middle-east", "diplomacy", "security", "economy")
WATCHED_CODE = [f"pipeline/{name}" for name in (
    "indexing/indexer.py", "indexing/bulk.py", "indexing/layout.py", "agents/index.py",
    "schema.py", "indexing/articles-template.json")]  # fmt: skip

TABLES: list[m.Spec] = [
    ("Targets", "targets", ("name", "target", "measured", "met")),
    ("Elasticsearch warm-up (bulk from here, 2 in flight)", "warmup",
     ("docs", "rate", "ES CPU ms/doc=cpu_ms_per_doc.elasticsearch")),
    ("Throughput (records produced first, then the worker started)", "throughput",
     ("batch_size", "refresh_interval", "docs", "rate_searchable", "rate_indexed",
      "rate_from_worker_start", "startup_seconds", "batches.batches", "batches.size.mean",
      "cpu_ms_per_doc", "cpu_cores")),
    ("Elasticsearch alone (pre-serialized bulk requests)", "ceiling",
     ("docs", "batch_size", "in_flight", "rate", "cpu_ms_per_doc", "cpu_cores")),
    ("Latency (paced production; enriched message sent -> searchable, s)", "latency",
     ("refresh_interval", "batch_seconds", "rate_achieved", "sent", "seen", "latency.p50",
      "latency.p95", "latency.p99", "latency.max", "latency_from_ack.p95", "kafka_ack.p95",
      "batches.batches", "batches.size.mean", "cpu_cores")),
]  # fmt: skip


@dataclass
class Generator:
    """Articles with evidence offsets, authors, categories; 15 % share an earlier story."""

    corpus: st.Corpus = field(default_factory=lambda: st.Corpus(LANG_WEIGHTS))
    stories: list[str] = field(default_factory=list)

    def article(self, recent: bool) -> EnrichedArticle:
        corpus, rng = self.corpus, self.corpus.rng
        lang = corpus.lang()
        text = "\n\n".join(" ".join(p) for p in corpus.paragraphs(lang, rng.randint(1700, 2500)))
        now = datetime.now(UTC)
        back = timedelta(days=rng.uniform(0, 85))
        published = corpus.recent() if recent else min(DATE_ANCHOR, now) - back
        n = rng.randint(1, 10)
        domain = f"news{n}.{lang}.example" if n <= 8 else f"daily{n - 8}.example.{lang}"
        tagged = [t for t in ("syria", "astana_process", "un") if rng.random() < 0.45]
        words = list(re.finditer(r"\w{4,}", text))
        evidence = {
            topic: [
                {"term": w.group().lower(), "text": w.group(), "field": "text"}
                | {"start": w.start(), "end": w.end()}
                for w in rng.sample(words, k=min(len(words), rng.randint(1, 4)))
            ]
            for topic in tagged
        }
        shared = self.stories and rng.random() < 0.15
        article = corpus.article(
            lang, text, published, domain,
            query="?utm_source=rss",
            story_id=rng.choice(self.stories[-200:]) if shared else None,
            topics=tagged,
            topic_evidence=evidence,
            source_name=f"{lang.upper()} {'News' if n <= 8 else 'Daily'} {n if n <= 8 else n - 8}",
            authors=rng.sample(AUTHORS, k=rng.randint(0, 2)),
            categories=rng.sample(CATEGORIES, k=rng.randint(0, 3)),
            enriched_at=published + timedelta(seconds=rng.uniform(901, 1200)),
        )  # fmt: skip
        self.stories.append(article.story_id)
        return article

    def payloads(self, count: int, recent: bool) -> list[tuple[str, bytes]]:
        """(id, the bytes the enrich agent would publish)."""
        return [(a.id, a.to_json()) for a in (self.article(recent) for _ in range(count))]


def per_doc_ms(cores: dict[str, float], rate: float) -> dict[str, float]:
    """CPU milliseconds per document by process: steadier than rates on a shared machine."""
    keys = ("worker", "elasticsearch", "kafka")
    return {k: round(1000 * cores[k] / rate, 3) for k in keys if cores.get(k) and rate}


async def counts(es: AsyncElasticsearch, alias: str) -> tuple[int, int]:
    """(searchable documents, index operations the primaries hold): the second needs no
    refresh, so it shows when Elasticsearch has a document, the first when search does."""
    count, stats = await asyncio.gather(
        es.count(index=alias),
        es.indices.stats(index=alias, metric="indexing", filter_path="_all.primaries"),
    )
    indexed = stats.get("_all", {}).get("primaries", {}).get("indexing", {}).get("index_total")
    return int(count["count"]), int(indexed or 0)


@dataclass(frozen=True)
class Probe:
    t: float  # seconds since the worker was started
    count: int  # searchable documents (_count)
    indexed: int  # index operations the primaries hold (before refresh)
    cpu: dict[str, float]


async def throughput_phase(
    bench: st.Bench, gen: Generator, label: str, docs: int, batch: int
) -> dict[str, Any]:
    env = {"MEDIAMON_INDEX_BATCH_SIZE": str(batch), "MEDIAMON_ES_REFRESH_INTERVAL": "1s"}
    probes: list[Probe] = []
    work: dict[str, float] = {}
    async with bench.phase(label, **env) as ph:
        payloads = gen.payloads(docs, recent=False)
        produce_seconds = await st.produce(ph.settings, payloads)
        work_before = await ph.work()
        worker = ph.worker(f"worker-{label}")
        meter = ph.meter(worker)
        started = time.monotonic()
        while time.monotonic() < started + max(180.0, docs / 100):
            count, indexed = await counts(ph.es, ph.settings.articles_alias)
            now = time.monotonic()
            probes.append(Probe(now - started, count, indexed, meter.read()))
            if count >= docs:
                work = m.work_delta(work_before, await ph.work())
                break
            if not worker.running:
                raise SystemExit(f"worker exited:\n{worker.tail()}")
            await asyncio.sleep(max(0.0, 0.2 - (time.monotonic() - now)))
    result = analyse_throughput(probes, docs) | {
        "label": label, "docs": docs, "batch_size": batch, "refresh_interval": "1s",
        "payload_kb_mean": round(sum(len(v) for _, v in payloads) / docs / 1024, 2),
        "produce_seconds": round(produce_seconds, 2),
        "batches": st.batch_stats(st.index_batches(worker.log_path)), "es_work": work,
    }  # fmt: skip
    if result.get("cpu_cores"):
        result["cpu_ms_per_doc"] = per_doc_ms(result["cpu_cores"], result["rate_indexed"])
    return result


def analyse_throughput(probes: list[Probe], docs: int) -> dict[str, Any]:
    """Rates from the first document counted to the last (those counted at the first poll
    are not credited), and from worker start (the start-up cost)."""
    first_indexed = next((p for p in probes if p.indexed > 0), None)
    all_indexed = next((p for p in probes if p.indexed >= docs), None)
    first_count = next((p for p in probes if p.count > 0), None)
    all_count = next((p for p in probes if p.count >= docs), None)
    out: dict[str, Any] = {
        "complete": all_count is not None, "final_count": probes[-1].count if probes else 0,
        "timeline": [[round(p.t, 2), p.count, p.indexed] for p in probes],
    }  # fmt: skip
    if not (first_indexed and all_indexed and first_count and all_count):
        return out

    def rate(a: Probe, b: Probe, added: int) -> float:
        return round(added / (b.t - a.t), 1) if b.t > a.t else math.nan

    seconds = all_indexed.t - first_indexed.t
    return out | {
        "startup_seconds": round(first_indexed.t, 2),
        "first_searchable_seconds": round(first_count.t, 2),
        "all_indexed_seconds": round(all_indexed.t, 2),
        "all_searchable_seconds": round(all_count.t, 2),
        "rate_searchable": rate(first_count, all_count, all_count.count - first_count.count),
        "rate_indexed": rate(
            first_indexed, all_indexed, all_indexed.indexed - first_indexed.indexed
        ),
        "rate_from_worker_start": round(docs / all_count.t, 1),
        "cpu_cores": m.CpuMeter.cores(first_indexed.cpu, all_indexed.cpu, seconds),
    }


async def ceiling_phase(
    bench: st.Bench, gen: Generator, docs: int, batch: int, in_flight: int
) -> dict[str, Any]:
    """Elasticsearch alone: the worker's documents, serialized beforehand exactly as it
    would send them, bulk-indexed from here; the gap to the worker is the worker's cost."""
    gate, errors = asyncio.Semaphore(in_flight), 0
    async with bench.phase(f"es{in_flight}") as ph:
        settings, es = ph.settings, ph.es
        articles = [gen.article(recent=False) for _ in range(docs)]
        await st.ensure_months(es, settings, articles)
        bodies = [st.bulk_body(settings, articles[n : n + batch]) for n in range(0, docs, batch)]

        async def send(body: bytes) -> None:
            nonlocal errors
            async with gate:
                # pre-encoded NDJSON: the client's NdjsonSerializer forwards bytes unchanged
                resp = await es.bulk(operations=body, filter_path="errors")  # type: ignore[arg-type]
                errors += bool(resp.get("errors"))

        meter = ph.meter(None)
        work_before = await ph.work()
        cpu0, started = meter.read(), time.monotonic()
        await asyncio.gather(*(send(b) for b in bodies))
        seconds = time.monotonic() - started
        cpu = m.CpuMeter.cores(cpu0, meter.read(), seconds)
        await es.indices.refresh(index=settings.articles_alias)
        count = (await counts(es, settings.articles_alias))[0]
        work = m.work_delta(work_before, await ph.work())
    return {
        "docs": docs, "batch_size": batch, "in_flight": in_flight, "seconds": round(seconds, 2),
        "rate": round(docs / seconds, 1), "bulk_mb": round(sum(map(len, bodies)) / 1e6, 1),
        "requests_with_errors": errors, "count": count, "cpu_cores": cpu,
        "cpu_ms_per_doc": per_doc_ms(cpu, docs / seconds), "es_work": work,
    }  # fmt: skip


async def latency_phase(
    bench: st.Bench, gen: Generator, args: Any, refresh: str, window: float
) -> dict[str, Any]:
    label = f"lat{refresh}-w{window:g}"
    env = {"MEDIAMON_ES_REFRESH_INTERVAL": refresh, "MEDIAMON_INDEX_BATCH_SECONDS": str(window)}
    async with bench.phase(label, **env) as ph:
        es, alias = ph.es, ph.settings.articles_alias
        warm = gen.payloads(LATENCY_WARMUP_DOCS, recent=True)
        payloads = gen.payloads(int(args.rate * args.seconds), recent=True)
        worker = ph.worker(f"worker-{label}")

        async def warmed() -> bool:
            return (await counts(es, alias))[0] >= LATENCY_WARMUP_DOCS

        await st.produce(ph.settings, warm)
        await st.wait_until(warmed, 180, worker, "searchable warm-up documents")
        await asyncio.sleep(2)  # let the warm-up's last batch and commit settle
        log_offset = worker.log_path.stat().st_size
        flight, done = st.Flight(), asyncio.Event()
        watcher = asyncio.create_task(st.watch_visible(es, alias, flight, done))
        seconds, cpu = await ph.paced(
            worker, len(payloads), args.rate, flight, lambda n, _now: payloads[n]
        )
        done.set()
        polls = sorted(await watcher)
    seen = flight.arrivals()
    return flight.summary(seen, seconds) | {
        "refresh_interval": refresh, "batch_seconds": window, "rate_target": args.rate,
        "seen": len(seen), "unseen": len(flight.sent) - len(seen), "polls": len(polls),
        "poll_round_trip_p50": round(m.percentile(polls, 50), 4),
        "poll_round_trip_p95": round(m.percentile(polls, 95), 4), "cpu_cores": cpu,
        "batches": st.batch_stats(st.index_batches(worker.log_path, log_offset)),
        "namespace": ph.settings.namespace,
    }  # fmt: skip


def tables(data: dict[str, Any]) -> list[m.Spec]:
    return TABLES + [
        (f"Latency {r['refresh_interval']}:{r['batch_seconds']:g}, per 10 s of sending",
         f"latency.{n}.windows", ("from_s", "p50", "p95"))
        for n, r in enumerate(data["latency"])
    ]  # fmt: skip


async def run(args: Any) -> dict[str, Any]:
    extra = dict(kv.split("=", 1) for kv in args.env)
    async with st.bench_stack(args.state_dir, args.reuse, args.keep, **extra) as bench:
        data = bench.header(WATCHED_CODE) | {"extra_env": extra}
        data |= {"warmup": [], "throughput": [], "ceiling": [], "latency": []}
        gen = Generator(st.Corpus(LANG_WEIGHTS, random.Random(m.SEED)))
        for start in range(0, args.warmup, WARMUP_CHUNK):
            chunk = await ceiling_phase(bench, gen, min(WARMUP_CHUNK, args.warmup - start), 500, 2)
            data["warmup"].append(chunk)
            m.progress(f"warm-up: {chunk['rate']} docs/s, {chunk['cpu_ms_per_doc']} CPU ms/doc")
        for n in range(args.repeat):
            for size in [int(s) for s in args.batch_sizes.split(",") if s.strip()]:
                r = await throughput_phase(bench, gen, f"b{size}r{n}", args.docs, size)
                data["throughput"].append(r)
                m.progress(f"throughput batch={size}: {r.get('rate_searchable')} docs/s")
        for in_flight in () if args.no_ceiling else (1, 2):
            c = await ceiling_phase(bench, gen, min(args.docs, 10_000), 500, in_flight)
            data["ceiling"].append(c)
            m.progress(f"Elasticsearch alone, {in_flight} in flight: {c['rate']} docs/s")
        for variant in [v.strip() for v in args.latency_variants.split(",") if v.strip()]:
            refresh, _, window = variant.partition(":")
            r = await latency_phase(bench, gen, args, refresh, float(window or 1))
            data["latency"].append(r)
            m.progress(f"latency {variant}: {r['latency']} seen {r['seen']}/{r['sent']}")
        data["load_after"] = m.loadavg()
    rates = sorted(r["rate_searchable"] for r in data["throughput"] if r["batch_size"] == 500
                   and r.get("rate_searchable"))  # fmt: skip
    first: dict[str, Any] = data["latency"][0] if data["latency"] else {"unseen": 1}
    data["targets"] = {
        "documents/s searchable, batch 500": m.target(
            rates[len(rates) // 2] if rates else None, TARGET_RATE
        ),
        f"p95 s at {args.rate:g}/s, all seen": m.target(
            None if first["unseen"] else first["latency"]["p95"], TARGET_P95, at_least=False
        ),
    }
    return data


def main(argv: Sequence[str] | None = None) -> int:
    return st.main(
        argv, "indexing", __doc__, run, tables,
        docs=(20_000, "records per throughput phase"),
        batch_sizes=("500,1000,2000", "MEDIAMON_INDEX_BATCH_SIZE, a throughput phase each"),
        repeat=(1, "throughput runs per batch size"),
        rate=(500.0, "latency phases: records/s"),
        seconds=(60.0, "latency phases: seconds of sending"),
        latency_variants=("1s:1,500ms:1,1s:0.25", "REFRESH:BATCH_SECONDS, a latency phase each"),
        no_ceiling=(False, "skip the Elasticsearch-alone phase"),
        warmup=(50_000, "documents to warm the JVM up"),
        env=([], "MEDIAMON_X=VALUE for every phase's worker (repeatable)"),
    )  # fmt: skip
