"""Indexing benchmark: `articles.enriched` -> the real worker -> Elasticsearch, on a local stack.

    .venv/bin/python benchmarks/indexing.py [--docs 20000] [--batch-sizes 500,1000,2000]
        [--rate 500] [--seconds 60] [--latency-variants 1s:1,500ms:1,1s:0.25]
        [--warmup 50000] [--json] [--save PATH] [--reuse] [--keep] [--py-spy BIN]
        [--code-ref REF]

A benchmark, not a test: it is never collected by pytest. It starts its own Kafka and
Elasticsearch through `deploy.stack.Stack` (state in /tmp/mediamon-bench-indexing, ports
29092/29093 and 29200/29300, so a demo on 9092/9200 and the test stack on 19092/19200 are left
alone) unless `--reuse` is given, and stops them at the end unless `--keep` is given. Every
phase uses a fresh namespace (`MEDIAMON_NAMESPACE`): its own topics, monthly indices, alias and
consumer group, deleted when the phase ends. About 8 minutes with the defaults.

Input: EnrichedArticle records built with a fixed seed (`SEED`), serialized with the project's
own `EnrichedArticle.to_json` and keyed by article id, as the enrich agent publishes them: about
2,200 characters of text in 4-7 paragraphs (sentences from `benchmarks/enrich.py`, read with
`ast`, not imported), languages ru en tr ar fr de kk (kk has no language analyzer in the
template, the others get their `text_<lang>` copy), topics with scores and evidence offsets
into the text, story ids (15 % share an earlier article's), 70 sources, URLs, authors,
categories. About 4.2 KB per Kafka message.

Phases:
1. warm-up: `--warmup` documents bulk-indexed straight from the benchmark (see WARMUP_DOCS:
   a fresh Elasticsearch JVM costs up to 3x the CPU per document). Reported, not measured.
2. throughput, once per batch size: `--docs` records (published over ~3 months, so three
   monthly indices are written) are produced to `articles.enriched` first; then the real
   worker (`mediamon worker`, the index agent among its agents) is started. Every 0.2 s the
   benchmark reads the alias's `_count` (searchable) and its primaries' `indexing.index_total`
   (held by Elasticsearch, visible before any refresh), plus the CPU time of the worker, the
   Elasticsearch JVM, the Kafka JVM, itself and the whole machine from /proc. Rates: from the
   first document counted to the last (documents counted at the first poll are not credited),
   and from worker start (the start-up cost). The searchable rate is what the issue asks
   for; the indexed rate does not move with the refresh interval (with a 30 s refresh the
   searchable rate is meaningless: all documents appear at once).
3. Elasticsearch alone: documents serialized beforehand exactly as the worker would send them
   (`to_es_document`, monthly index, id), bulk-indexed straight from this process in requests
   of 500, one and two in flight: what the server does without the worker's Python around it.
4. latency, once per REFRESH:BATCH_SECONDS variant: a fresh namespace and worker, warmed with
   1,000 records; then records (published in the last hours, as live news are) are produced
   at a paced `--rate` per second for `--seconds`, in bursts every 10 ms against the monotonic
   clock, by a producer configured as Faust's (acks all, no linger, no compression). Each id's
   send time is taken just before `producer.send` (so the producer's own queueing counts) and
   its acknowledgement time is kept too. A poller asks the alias every 100 ms for the ids sent
   and not yet seen (`ids` query, `_source: false`); a document's visible time is the poll's
   response time. Latency = visible - sent. The poll adds 0-100 ms (plus one search round
   trip); the refresh interval adds up to a whole interval and the worker's batch window
   (`MEDIAMON_INDEX_BATCH_SECONDS`, 1 s by default) up to another.

`--code-ref REF` measures a commit instead of the working tree (other people edit the working
tree while a run goes on): it is exported once under the state dir, and both this script and
the workers import from there.

With `--py-spy BIN` the worker is sampled (`py-spy record --nonblocking`, 100 Hz) during each
throughput phase, from the first document indexed to the last, and the report splits the
worker's busy time into parsing, document building, bulk request, Kafka and Faust.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import hashlib
import json
import math
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STATE = Path("/tmp/mediamon-bench-indexing")


def export_code(argv: Sequence[str]) -> tuple[Path, str | None]:
    """With `--code-ref REF`, the code measured (by this script and by the worker it starts)
    is that commit, exported once under the state dir; without it, the working tree. People
    edit the working tree while benchmarks run: a half-saved module breaks or skews a run."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--code-ref")
    pre.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    known, _ = pre.parse_known_args(argv)
    if not known.code_ref:
        return REPO, None
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{known.code_ref}^{{commit}}"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    dest = known.state_dir.resolve() / "code" / sha[:12]
    if not (dest / "pipeline").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "pipeline", "deploy", "connectors"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest, sha


CODE, CODE_SHA = export_code(sys.argv[1:]) if __name__ == "__main__" else (REPO, None)
sys.path.insert(0, str(CODE))

from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402
from elasticsearch import AsyncElasticsearch  # noqa: E402
from measure import CpuMeter, loadavg, percentile, progress, row, work_delta  # noqa: E402

from deploy.processes import ServiceProcess  # noqa: E402
from deploy.stack import Stack  # noqa: E402
from pipeline import topics  # noqa: E402
from pipeline.adapters.elastic import (  # noqa: E402
    ensure_monthly_index,
    make_client,
    month_of,
    monthly_index,
    to_es_document,
)
from pipeline.schema import EnrichedArticle  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.worker import prepare  # noqa: E402

SEED = 20170123  # the first Astana meeting on Syria
BENCH_PORTS = {
    "MEDIAMON_KAFKA_PORT": "29092",
    "MEDIAMON_KAFKA_CONTROLLER_PORT": "29093",
    "MEDIAMON_ES_PORT": "29200",
    "MEDIAMON_ES_TRANSPORT_PORT": "29300",
    "MEDIAMON_KAFKA_BOOTSTRAP": "127.0.0.1:29092",
    "MEDIAMON_ES_URL": "http://127.0.0.1:29200",
}
TARGET_RATE = 2_000.0  # documents/s, sustained
TARGET_P95 = 2.0  # seconds, at TARGET_LATENCY_RATE
TARGET_LATENCY_RATE = 500.0
COUNT_POLL = 0.2  # seconds between _count polls in the throughput phase
VISIBLE_POLL = 0.1  # seconds between ids polls in the latency phase
PACE_TICK = 0.01  # 500/s arrives as bursts of 5 every 10 ms
# A fresh Elasticsearch JVM spent 1.2-1.6 CPU ms per document over its first 10-20k documents
# and 0.5 after ~50k (JIT compilation, itself slowed by the neighbours' load): the warm-up
# bulk-indexes this many documents straight from the benchmark before anything is measured.
WARMUP_DOCS = 50_000
WARMUP_CHUNK = 10_000
LATENCY_WARMUP_DOCS = 1_000
DRAIN_SECONDS = 30.0  # after the last send, how long stragglers are waited for
# Throughput articles are dated over ~3 months before this instant (three monthly indices);
# fixed so two runs index the same documents. A clock before it falls back to "now".
DATE_ANCHOR = datetime(2026, 10, 31, 20, tzinfo=UTC)
SPREAD_DAYS = 85
LANG_WEIGHTS = {"ru": 30, "en": 20, "tr": 10, "ar": 10, "fr": 10, "de": 10, "kk": 10}
TOPICS = ("syria", "astana_process", "un")
WATCHED_CODE = (
    "pipeline/indexing.py",
    "pipeline/agents/index.py",
    "pipeline/adapters/elastic.py",
    "pipeline/schema.py",
    "pipeline/indexing/articles-template.json",
)
BATCH_LINE = re.compile(r"index batch=(\d+) indexed=(\d+)")


def load_sentences() -> dict[str, tuple[str, ...]]:
    """The sentence bank of the enrich benchmark (ru en fr de tr ar kk, ~40 each), read as a
    literal: importing that script would run its set-up (thread-pool variables) here."""
    tree = ast.parse((REPO / "benchmarks" / "enrich.py").read_text("utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "SENTENCES"
            and node.value is not None
        ):
            bank: dict[str, tuple[str, ...]] = ast.literal_eval(node.value)
            return bank
    raise SystemExit("benchmarks/enrich.py has no SENTENCES literal")


SENTENCES = load_sentences()
SOURCES: dict[str, list[tuple[str, str]]] = {
    lang: [(f"{lang.upper()} News {n}", f"news{n}.{lang}.example") for n in range(1, 9)]
    + [(f"{lang.upper()} Daily {n}", f"daily{n}.example.{lang}") for n in range(1, 3)]
    for lang in LANG_WEIGHTS
}
AUTHORS = ("A. Karimova", "J. Smith", "M. Yilmaz", "S. Haddad", "P. Dubois", "K. Weber")
CATEGORIES = ("world", "politics", "middle-east", "diplomacy", "security", "economy")
WORD = re.compile(r"\w{4,}")


# ---------------------------------------------------------------------------------------------
# Input


@dataclass
class Generator:
    """Deterministic EnrichedArticle records; ids stay unique across phases of one run."""

    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    serial: int = 0
    stories: list[str] = field(default_factory=list)

    def article(self, recent: bool) -> EnrichedArticle:
        rng = self.rng
        self.serial += 1
        lang = rng.choices(list(LANG_WEIGHTS), weights=list(LANG_WEIGHTS.values()))[0]
        bank = SENTENCES[lang]
        size = rng.randint(1_700, 2_500)
        paragraphs: list[str] = []
        while sum(len(p) + 2 for p in paragraphs) < size:
            paragraphs.append(" ".join(rng.choice(bank) for _ in range(rng.randint(2, 4))))
        text = "\n\n".join(paragraphs)
        now = datetime.now(UTC)
        if recent:
            published = now - timedelta(seconds=rng.uniform(60, 6 * 3600))
        else:
            published = min(DATE_ANCHOR, now) - timedelta(days=rng.uniform(0, SPREAD_DAYS))
        source, domain = rng.choice(SOURCES[lang])
        url = f"https://{domain}/{published:%Y/%m/%d}/{self.serial:07d}-{rng.getrandbits(32):08x}"
        article_id = hashlib.sha256(url.encode()).hexdigest()[:32]  # as canonical.article_id
        tagged = [t for t in TOPICS if rng.random() < 0.45]
        words = list(WORD.finditer(text))
        evidence = {
            topic: [
                {"term": m.group().lower(), "text": m.group(), "field": "text"}
                | {"start": m.start(), "end": m.end()}
                for m in rng.sample(words, k=min(len(words), rng.randint(1, 4)))
            ]
            for topic in tagged
        }
        story = article_id
        if self.stories and rng.random() < 0.15:
            story = rng.choice(self.stories[-200:])
        self.stories.append(story)
        return EnrichedArticle(
            id=article_id,
            url=url + "?utm_source=rss",
            canonical_url=url,
            domain=domain,
            feed_id=domain.split(".")[0],
            source_name=source,
            title=rng.choice(bank).rstrip("."),
            text=text,
            lang=lang,
            lang_confidence=round(rng.uniform(0.80, 1.0), 3),
            topics=tagged,
            topic_scores={t: round(rng.uniform(1.0, 9.0), 2) for t in tagged},
            topic_evidence=evidence,
            fingerprint=f"{rng.getrandbits(64):016x}",
            story_id=story,
            authors=rng.sample(AUTHORS, k=rng.randint(0, 2)),
            categories=rng.sample(CATEGORIES, k=rng.randint(0, 3)),
            published=published,
            fetched_at=published + timedelta(seconds=rng.uniform(30, 900)),
            enriched_at=published + timedelta(seconds=rng.uniform(901, 1200)),
        )

    def batch(self, count: int, recent: bool) -> list[EnrichedArticle]:
        return [self.article(recent) for _ in range(count)]


def encoded(articles: Iterable[EnrichedArticle]) -> list[tuple[str, bytes]]:
    """(id, payload): the bytes the enrich agent would publish."""
    return [(a.id, a.to_json()) for a in articles]


# ---------------------------------------------------------------------------------------------
# Measuring processes and the machine


def machine_info() -> dict[str, Any]:
    model, mem_kb = "", 0
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "")
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        mem_kb = int(meminfo.readline().split()[1])
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def code_state() -> dict[str, Any]:
    """The numbers belong to one state of the indexing code, which people are editing: the
    commit measured (`--code-ref`), or HEAD and, per watched file of the working tree, its
    hash and whether it differs from HEAD."""
    if CODE_SHA:
        return {"head": CODE_SHA[:12], "exported": str(CODE), "files": {}}
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    files = {}
    for rel in WATCHED_CODE:
        path = REPO / rel
        changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", rel], cwd=REPO)
        files[rel] = {
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:12],
            "modified": changed.returncode != 0,
        }
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "pipeline", "deploy", "connectors"],
        cwd=REPO, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    return {"head": head, "working_tree_changes": len(dirty), "files": files}


def versions() -> dict[str, str]:
    out = {}
    for dist in ("faust-streaming", "aiokafka", "elasticsearch", "pydantic", "pydantic-core"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


# ---------------------------------------------------------------------------------------------
# Namespaces, workers, Kafka and Elasticsearch helpers


@dataclass
class Bench:
    """The stack and what every phase needs to make its own namespace."""

    base_env: dict[str, str]
    stack: Stack
    logs: Path
    py_spy: str | None
    es_pid: int | None = None  # the server JVM, not its launcher
    kafka_pid: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # --env, for every phase

    def namespace(self, label: str, **overrides: str) -> tuple[Settings, dict[str, str]]:
        namespace = f"b{uuid.uuid4().hex[:8]}-{label}-"
        env = {**self.base_env, **self.extra_env, "MEDIAMON_NAMESPACE": namespace, **overrides}
        return settings_from(env), env

    def pids(self, worker: ServiceProcess | None) -> dict[str, int | None]:
        return {
            "worker": worker.proc.pid if worker and worker.proc else None,
            "elasticsearch": self.es_pid,
            "kafka": self.kafka_pid,
            "benchmark": os.getpid(),
        }


def settings_from(env: dict[str, str]) -> Settings:
    # as tests/integration/conftest.py does: explicit values, the MEDIAMON_ names lower-cased
    values: dict[str, Any] = {k.removeprefix("MEDIAMON_").lower(): v for k, v in env.items()}
    return Settings(**values)


def start_worker(bench: Bench, env: dict[str, str], name: str) -> ServiceProcess:
    return ServiceProcess(name, ["worker"], env, bench.logs / f"{name}.log").start()


async def produce(
    settings: Settings, payloads: Sequence[tuple[str, bytes]], bulk_load: bool
) -> float:
    """Produce keyed records to the namespace's articles.enriched; seconds until all acked.
    A bulk load uses large batches (it only fills the topic before the clock starts)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=20 if bulk_load else 0,
        max_batch_size=512 * 1024 if bulk_load else 16_384,
    )
    await producer.start()
    started = time.monotonic()
    try:
        topic = settings.topic(topics.ENRICHED)
        futures = []
        for article_id, value in payloads:
            futures.append(await producer.send(topic, value, key=article_id.encode()))
            if len(futures) >= 2_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.monotonic() - started


async def counts(es: AsyncElasticsearch, alias: str) -> tuple[int, int]:
    """(searchable documents, index operations held by the primaries): the second needs no
    refresh, so it shows when Elasticsearch has a document, the first when search does."""
    count, stats = await asyncio.gather(
        es.count(index=alias),
        es.indices.stats(index=alias, metric="indexing", filter_path="_all.primaries"),
    )
    indexed = stats.get("_all", {}).get("primaries", {}).get("indexing", {}).get("index_total")
    return int(count["count"]), int(indexed or 0)


async def es_work(es: AsyncElasticsearch, alias: str) -> dict[str, float]:
    """Where Elasticsearch spends its time on the namespace's indices (summed thread time, in
    ms, from index stats) and the node's garbage collection: read before and after a phase."""
    stats, nodes = await asyncio.gather(
        es.indices.stats(index=alias, metric="indexing,refresh,merge,flush,search"),
        es.nodes.stats(node_id="_local", metric="jvm"),
    )
    prim = stats["_all"]["primaries"]
    gc = next(iter(nodes["nodes"].values()))["jvm"]["gc"]["collectors"]
    return {
        "index_ms": prim["indexing"]["index_time_in_millis"],
        "refresh_ms": prim["refresh"]["total_time_in_millis"],
        "refreshes": prim["refresh"]["total"],
        "merge_ms": prim["merges"]["total_time_in_millis"],
        "merges": prim["merges"]["total"],
        "flush_ms": prim["flush"]["total_time_in_millis"],
        "search_ms": prim["search"]["query_time_in_millis"]
        + prim["search"]["fetch_time_in_millis"],
        "searches": prim["search"]["query_total"],
        "gc_ms": sum(c["collection_time_in_millis"] for c in gc.values()),
        "gcs": sum(c["collection_count"] for c in gc.values()),
    }


def per_doc_ms(cores: dict[str, float], rate: float) -> dict[str, float]:
    """CPU milliseconds per document by process: steadier than rates when the machine is
    shared, since a busy neighbour stretches the wall clock more than the work."""
    keys = ("worker", "elasticsearch", "kafka")
    return {k: round(1000 * cores[k] / rate, 3) for k in keys if cores.get(k) and rate}


async def wait_searchable(
    es: AsyncElasticsearch, alias: str, at_least: int, worker: ServiceProcess, limit: float
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if (await counts(es, alias))[0] >= at_least:
            return
        if not worker.running:
            raise SystemExit(f"worker exited:\n{worker.tail()}")
        await asyncio.sleep(0.5)
    raise SystemExit(f"fewer than {at_least} searchable after {limit:.0f}s:\n{worker.tail()}")


async def drop_namespace(settings: Settings) -> None:
    """Delete the phase's indices and topics: a long run would otherwise fill the disk."""
    es = make_client(settings)
    try:
        # everything named with the phase's unique prefix (articles, alerts, whatever setup
        # adds); deletion by wildcard is refused (action.destructive_requires_name): name them
        found = await es.indices.get(index=f"{settings.namespace}*", features="settings")
        if found:
            await es.indices.delete(index=",".join(found))
        templates = await es.options(ignore_status=404).indices.get_index_template(
            name=f"{settings.namespace}*"
        )
        for template in templates.get("index_templates", []):
            await es.indices.delete_index_template(name=template["name"])
    except Exception as exc:  # clean-up must not hide the results
        print(f"warning: could not delete the namespace's indices: {exc}", file=sys.stderr)
    finally:
        await es.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.namespace)]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:
        print(f"warning: could not delete the namespace's topics: {exc}", file=sys.stderr)
    finally:
        await admin.close()


def worker_batches(log_path: Path, offset: int) -> list[int]:
    """Sizes of the index agent's batches logged after `offset` bytes of the worker log."""
    with open(log_path, "rb") as log_file:
        log_file.seek(offset)
        text = log_file.read().decode("utf-8", "replace")
    return [int(m.group(1)) for m in BATCH_LINE.finditer(text)]


# ---------------------------------------------------------------------------------------------
# py-spy: where the worker's busy time goes

PROFILE_BUCKETS = (
    # (label, markers; the first bucket whose marker is on a sample's stack takes the sample)
    ("parse: EnrichedArticle.from_json", ("from_json (pipeline/schema.py",)),
    ("document: to_es_document", ("to_es_document (",)),
    ("stray-copy search", ("remove_stray_copies (", "_remove_strays (")),
    ("bulk: serialize request", ("_chunk_actions (", "expand_action (", "dumps (")),
    ("bulk: parse response", ("loads (",)),
    ("bulk: HTTP and client", ("async_streaming_bulk (", "bulk_index (", "perform_request (")),
    ("Kafka fetch and decode", ("aiokafka/",)),
    # the event loop's poll: samples here are near-idle (py-spy counts a thread returning
    # from epoll as busy); kept apart so the Faust share below is Faust's own work
    ("event loop poll (epoll)", ("EpollSelector.select (",)),
    ("index agent, rest of its loop", ("index_articles (",)),
    # every stack runs under mode's worker: only faust's own frames mark Faust's work
    ("Faust consumer, stream, acks", ("faust/",)),
)  # the rest: "other" (asyncio scheduling, logging)


class Profiler:
    """`py-spy record` on the worker, stopped with SIGINT (which makes it write its output)."""

    def __init__(self, binary: str, pid: int, out: Path) -> None:
        self.out = out
        cmd = [binary, "record", "--pid", str(pid), "--rate", "100", "--nonblocking"]
        cmd += ["--format", "raw", "--output", str(out)]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> dict[str, Any]:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return {"error": "py-spy did not stop"}
        if not self.out.exists():
            return {"error": err.decode(errors="replace")[-500:]}
        return summarize_profile(self.out.read_text(errors="replace"))


def summarize_profile(collapsed: str) -> dict[str, Any]:
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        leaves[re.sub(r":\d+\)$", ")", frames[-1])] += count
        label = next(
            (name for name, marks in PROFILE_BUCKETS if any(m in stack for m in marks)), "other"
        )
        buckets[label] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "buckets": {k: round(100 * v / total, 1) for k, v in buckets.most_common()},
        "top_leaves": [[k, round(100 * v / total, 1)] for k, v in leaves.most_common(12)],
    }


# ---------------------------------------------------------------------------------------------
# Phases


async def throughput_phase(
    bench: Bench, gen: Generator, label: str, docs: int, batch_size: int, refresh: str
) -> dict[str, Any]:
    settings, env = bench.namespace(
        label,
        MEDIAMON_INDEX_BATCH_SIZE=str(batch_size),
        MEDIAMON_ES_REFRESH_INTERVAL=refresh,
    )
    await prepare(settings)
    payloads = encoded(gen.batch(docs, recent=False))
    payload_bytes = sum(len(v) for _, v in payloads)
    produce_seconds = await produce(settings, payloads, bulk_load=True)
    es = make_client(settings)
    alias = settings.articles_alias
    work_before = await es_work(es, alias)
    worker = start_worker(bench, env, f"worker-{label}")
    meter = CpuMeter(bench.pids(worker))
    started = time.monotonic()
    probes: list[Probe] = []
    profiler: Profiler | None = None
    profile: dict[str, Any] | None = None
    work: dict[str, float] = {}
    deadline = started + max(180.0, docs / 100)
    try:
        while time.monotonic() < deadline:
            count, indexed = await counts(es, alias)
            now = time.monotonic()
            probes.append(Probe(now - started, count, indexed, meter.read()))
            if indexed and profiler is None and bench.py_spy and worker.proc:
                profiler = Profiler(
                    bench.py_spy, worker.proc.pid, bench.logs / f"profile-{label}.txt"
                )
            if indexed >= docs and profiler is not None and profile is None:
                profile = profiler.stop()
            if count >= docs:
                work = work_delta(work_before, await es_work(es, alias))
                break
            if not worker.running:
                raise SystemExit(f"worker exited:\n{worker.tail()}")
            await asyncio.sleep(max(0.0, COUNT_POLL - (time.monotonic() - now)))
    finally:
        if profiler is not None and profile is None:
            profile = profiler.stop()
        worker.stop()
        await es.close()
    result = analyse_throughput(probes, docs)
    batches = worker_batches(worker.log_path, 0)
    result |= {
        "label": label,
        "docs": docs,
        "batch_size": batch_size,
        "refresh_interval": refresh,
        "payload_kb_mean": round(payload_bytes / docs / 1024, 2),
        "produce_seconds": round(produce_seconds, 2),
        "batches": len(batches),
        "batch_mean": round(sum(batches) / len(batches), 1) if batches else None,
        "profile": profile,
        "es_work": work,
        "namespace": settings.namespace,
    }
    if result.get("cpu_cores"):
        result["cpu_ms_per_doc"] = per_doc_ms(result["cpu_cores"], result["rate_indexed"])
    await drop_namespace(settings)
    return result


@dataclass(frozen=True)
class Probe:
    """One poll of the throughput phase."""

    t: float  # seconds since the worker was started
    count: int  # searchable documents (_count)
    indexed: int  # index operations the primaries hold (before refresh)
    cpu: dict[str, float]


def analyse_throughput(probes: list[Probe], docs: int) -> dict[str, Any]:
    def first(reached: Callable[[Probe], bool]) -> Probe | None:
        return next((p for p in probes if reached(p)), None)

    first_indexed = first(lambda p: p.indexed > 0)
    all_indexed = first(lambda p: p.indexed >= docs)
    first_count = first(lambda p: p.count > 0)
    all_count = first(lambda p: p.count >= docs)
    out: dict[str, Any] = {
        "complete": all_count is not None,
        "final_count": probes[-1].count if probes else 0,
        "timeline": [[round(p.t, 2), p.count, p.indexed] for p in probes],
    }
    if not (first_indexed and all_indexed and first_count and all_count):
        return out

    def rate(a: Probe, b: Probe, searchable: bool) -> float:
        # documents added between two polls over the time between them: those already there
        # at the first poll are not credited to the interval
        added = b.count - a.count if searchable else b.indexed - a.indexed
        return added / (b.t - a.t) if b.t > a.t else math.nan

    return out | {
        "startup_seconds": round(first_indexed.t, 2),
        "first_searchable_seconds": round(first_count.t, 2),
        "all_indexed_seconds": round(all_indexed.t, 2),
        "all_searchable_seconds": round(all_count.t, 2),
        "rate_searchable": round(rate(first_count, all_count, True), 1),
        "rate_indexed": round(rate(first_indexed, all_indexed, False), 1),
        "rate_from_worker_start": round(docs / all_count.t, 1),
        "cpu_cores": CpuMeter.cores(
            first_indexed.cpu, all_indexed.cpu, all_indexed.t - first_indexed.t
        ),
    }


async def ceiling_phase(
    bench: Bench, gen: Generator, docs: int, batch_size: int, in_flight: int
) -> dict[str, Any]:
    """Elasticsearch alone: the worker's documents, serialized beforehand, bulk-indexed from
    here. The gap between this and the worker's rate is what the worker itself costs."""
    settings, _ = bench.namespace(f"es{in_flight}")
    await prepare(settings)
    articles = gen.batch(docs, recent=False)
    es = make_client(settings)
    for month in {month_of(a) for a in articles}:
        await ensure_monthly_index(es, settings, month, lifecycle=False)
    bodies = []
    for start in range(0, docs, batch_size):
        lines = []
        for a in articles[start : start + batch_size]:
            action = {"index": {"_index": monthly_index(settings, month_of(a)), "_id": a.id}}
            lines += [json.dumps(action), json.dumps(to_es_document(a), ensure_ascii=False)]
        bodies.append(("\n".join(lines) + "\n").encode())
    meter = CpuMeter(bench.pids(None))
    gate = asyncio.Semaphore(in_flight)
    errors = 0

    async def send(body: bytes) -> None:
        nonlocal errors
        async with gate:
            # pre-encoded NDJSON: the client's NdjsonSerializer forwards bytes unchanged
            resp = await es.bulk(operations=body, filter_path="errors")  # type: ignore[arg-type]
            errors += bool(resp.get("errors"))

    work_before = await es_work(es, settings.articles_alias)
    cpu0, started = meter.read(), time.monotonic()
    try:
        await asyncio.gather(*(send(b) for b in bodies))
        seconds = time.monotonic() - started
        cpu = CpuMeter.cores(cpu0, meter.read(), seconds)
        await es.indices.refresh(index=settings.articles_alias)
        count = (await counts(es, settings.articles_alias))[0]
        work = work_delta(work_before, await es_work(es, settings.articles_alias))
    finally:
        await es.close()
    await drop_namespace(settings)
    return {
        "docs": docs,
        "batch_size": batch_size,
        "in_flight": in_flight,
        "seconds": round(seconds, 2),
        "rate": round(docs / seconds, 1),
        "bulk_mb": round(sum(map(len, bodies)) / 1e6, 1),
        "requests_with_errors": errors,
        "count": count,
        "cpu_cores": cpu,
        "cpu_ms_per_doc": per_doc_ms(cpu, docs / seconds),
        "es_work": work,
    }


@dataclass
class Flight:
    sent: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    pending: dict[str, None] = field(default_factory=dict)  # sent, not yet seen, in order
    polls: list[float] = field(default_factory=list)  # search round-trip seconds


async def pace(
    settings: Settings, payloads: Sequence[tuple[str, bytes]], rate: float, flight: Flight
) -> float:
    """Send at `rate`/s in bursts against the monotonic clock; returns the sending seconds.
    The producer is configured as Faust's (acks all, no linger, no compression)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=0)
    await producer.start()
    topic = settings.topic(topics.ENRICHED)
    futures = []
    try:
        started = time.monotonic()
        sent = 0
        while sent < len(payloads):
            due = min(len(payloads), int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                article_id, value = payloads[sent]
                flight.sent[article_id] = time.monotonic()
                flight.pending[article_id] = None
                future = await producer.send(topic, value, key=article_id.encode())
                future.add_done_callback(
                    lambda _f, i=article_id: flight.acked.setdefault(i, time.monotonic())
                )
                futures.append(future)
                sent += 1
            await asyncio.sleep(PACE_TICK)
        seconds = time.monotonic() - started
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return seconds


async def watch_visible(
    es: AsyncElasticsearch, alias: str, flight: Flight, done: asyncio.Event
) -> None:
    """Every VISIBLE_POLL seconds, ask for the ids sent and not yet seen."""
    drain_deadline: float | None = None
    while True:
        tick = time.monotonic()
        if done.is_set():
            drain_deadline = drain_deadline or tick + DRAIN_SECONDS
            if not flight.pending or tick > drain_deadline:
                return
        ids = list(flight.pending)
        for start in range(0, len(ids), 5_000):
            chunk = ids[start : start + 5_000]
            asked = time.monotonic()
            resp = await es.search(
                index=alias,
                query={"ids": {"values": chunk}},
                source=False,
                size=len(chunk),
                filter_path="hits.hits._id",
            )
            answered = time.monotonic()
            flight.polls.append(answered - asked)
            for hit in resp.get("hits", {}).get("hits", []):
                if hit["_id"] in flight.pending:
                    del flight.pending[hit["_id"]]
                    flight.seen[hit["_id"]] = answered
        await asyncio.sleep(max(0.0, VISIBLE_POLL - (time.monotonic() - tick)))


async def latency_phase(
    bench: Bench, gen: Generator, rate: float, seconds: float, refresh: str, window: float
) -> dict[str, Any]:
    label = f"lat{refresh}-w{window:g}"
    settings, env = bench.namespace(
        label,
        MEDIAMON_ES_REFRESH_INTERVAL=refresh,
        MEDIAMON_INDEX_BATCH_SECONDS=str(window),
    )
    await prepare(settings)
    es = make_client(settings)
    alias = settings.articles_alias
    warm = encoded(gen.batch(LATENCY_WARMUP_DOCS, recent=True))
    payloads = encoded(gen.batch(int(rate * seconds), recent=True))
    worker = start_worker(bench, env, f"worker-{label}")
    try:
        await produce(settings, warm, bulk_load=True)
        await wait_searchable(es, alias, LATENCY_WARMUP_DOCS, worker, 180)
        await asyncio.sleep(2)  # let the warm-up's last batch and commit settle
        log_offset = worker.log_path.stat().st_size
        meter = CpuMeter(bench.pids(worker))
        cpu0 = meter.read()
        flight, done = Flight(), asyncio.Event()
        watcher = asyncio.create_task(watch_visible(es, alias, flight, done))
        send_seconds = await pace(settings, payloads, rate, flight)
        cpu = CpuMeter.cores(cpu0, meter.read(), send_seconds)
        done.set()
        await watcher
        batches = worker_batches(worker.log_path, log_offset)
    finally:
        worker.stop()
        await es.close()
    await drop_namespace(settings)
    return analyse_latency(flight, rate, send_seconds, refresh) | {
        "batch_seconds": window,
        "cpu_cores": cpu,
        "batches": len(batches),
        "batch_mean": round(sum(batches) / len(batches), 1) if batches else None,
        "namespace": settings.namespace,
    }


def analyse_latency(
    flight: Flight, rate: float, send_seconds: float, refresh: str
) -> dict[str, Any]:
    ids = list(flight.sent)
    lat = sorted(flight.seen[i] - flight.sent[i] for i in ids if i in flight.seen)
    from_ack = sorted(
        flight.seen[i] - flight.acked[i] for i in ids if i in flight.seen and i in flight.acked
    )
    ack = sorted(flight.acked[i] - flight.sent[i] for i in ids if i in flight.acked)
    t0 = flight.sent[ids[0]] if ids else 0.0

    def stats(values: Sequence[float]) -> dict[str, float]:
        return {
            "p50": round(percentile(values, 50), 3),
            "p95": round(percentile(values, 95), 3),
            "p99": round(percentile(values, 99), 3),
            "max": round(values[-1], 3) if values else math.nan,
        }

    windows = []
    for w in range(0, int(send_seconds) + 1, 10):
        part = sorted(
            flight.seen[i] - flight.sent[i]
            for i in ids
            if i in flight.seen and w <= flight.sent[i] - t0 < w + 10
        )
        if part:
            windows.append({"from_s": w, "n": len(part)} | stats(part))
    polls = sorted(flight.polls)
    return {
        "refresh_interval": refresh,
        "rate_target": rate,
        "sent": len(ids),
        "rate_achieved": round(len(ids) / send_seconds, 1) if send_seconds else None,
        "seen": len(lat),
        "unseen": len(ids) - len(lat),
        "latency": stats(lat),
        "latency_mean": round(sum(lat) / len(lat), 3) if lat else None,
        "latency_from_ack": stats(from_ack),
        "kafka_ack": stats(ack),
        "windows": windows,
        "polls": len(polls),
        "poll_round_trip_p50": round(percentile(polls, 50), 4),
        "poll_round_trip_p95": round(percentile(polls, 95), 4),
    }


# ---------------------------------------------------------------------------------------------
# Report


def fmt_cores(cpu: dict[str, float] | None) -> str:
    if not cpu:
        return ""
    keys = ("worker", "elasticsearch", "kafka", "benchmark", "others", "machine")
    return ", ".join(f"{k} {cpu[k]:.2f}" for k in keys if k in cpu)


def fmt_ms(per_doc: dict[str, float] | None) -> str:
    if not per_doc:
        return ""
    return f"{per_doc.get('worker', 0):.2f}, {per_doc.get('elasticsearch', 0):.2f}"


def others_note(runs: list[dict[str, Any]]) -> str:
    """How much CPU other people's processes took meanwhile: the context of every rate."""
    others = [r["cpu_cores"]["others"] for r in runs if "others" in r.get("cpu_cores", {})]
    if not others:
        return ""
    cores = os.cpu_count()
    return f"; other processes used {min(others):.2f}-{max(others):.2f} of {cores} cores meanwhile"


def verdict(data: dict[str, Any]) -> list[str]:
    lines = []
    done = [r for r in data["throughput"] if r.get("rate_searchable")]
    default = [r["rate_searchable"] for r in done if r["batch_size"] == 500]
    if default:
        got = sorted(default)[len(default) // 2]
        met = "met" if got >= TARGET_RATE else "NOT met"
        lines.append(
            f"- Throughput, batch 500, refresh 1s: **{got:,.0f} documents/s** searchable; "
            f"target ≥ {TARGET_RATE:,.0f}: {met} ({got / TARGET_RATE:.2f}× the target)"
            f"{others_note([r for r in done if r['batch_size'] == 500])}."
        )
    best = max(done, key=lambda r: r["rate_searchable"], default=None)
    if best and best["batch_size"] != 500:
        lines.append(
            f"- Best batch size: {best['batch_size']}, {best['rate_searchable']:,.0f} documents/s."
        )
    for n, lat in enumerate(data["latency"]):
        if not lat["seen"]:
            continue
        p50, p95 = lat["latency"]["p50"], lat["latency"]["p95"]
        met = "met" if p95 <= TARGET_P95 and not lat["unseen"] else "NOT met"
        lines.append(
            f"- Latency at {lat['rate_achieved']:,.0f}/s, refresh {lat['refresh_interval']}, "
            f"batch window {lat['batch_seconds']:g} s{'' if n else ' (the settings checked)'}: "
            f"p50 **{p50:.2f} s**, p95 **{p95:.2f} s**; target p95 ≤ {TARGET_P95:.0f} s: {met} "
            f"({p95 / TARGET_P95:.2f}× the limit); {lat['seen']:,}/{lat['sent']:,} seen"
            f"{others_note([lat])}."
        )
    return lines


def report(data: dict[str, Any]) -> str:
    m, s, code = data["machine"], data["settings"], data["code"]
    files = ", ".join(
        f"{k} {v['sha256']}{' (modified)' if v['modified'] else ''}"
        for k, v in code["files"].items()
    )
    out = [f"# Indexing benchmark ({data['started']})", "", *verdict(data), ""]
    out += [
        f"- Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GB, "
        f"Linux {m['kernel']}, Python {m['python']}.",
        f"- Load average {data['load_before']} before, {data.get('load_after')} after "
        "(other sessions share this machine).",
        f"- Servers: Kafka {s['kafka_version']} (heap {s['kafka_heap']}), Elasticsearch "
        f"{data.get('es_version')} (heap {data.get('es_heap_mb')} MB); one node each, "
        f"{s['partitions']} partitions, 1 shard, 0 replicas.",
        f"- Code: commit {code['head']}, exported to {code['exported']} (not the working tree)."
        if code.get("exported")
        else f"- Code: the working tree at HEAD {code['head']} with "
        f"{code['working_tree_changes']} changed files under pipeline/, deploy/, connectors/; "
        f"{files}.",
        f"- Extra settings: {s.get('extra_env') or 'none'}.",
        f"- Logs: {data['logs']}",
        "- Elasticsearch warm-up (bulk from the benchmark, 2 in flight), per chunk: "
        + ", ".join(
            f"{w['docs']:,} docs {w['rate']:,.0f}/s "
            f"{w['cpu_ms_per_doc'].get('elasticsearch')} CPU ms/doc"
            for w in data["warmup"]
        )
        + ".",
        "",
        "## Throughput (records produced first, then the worker started)",
        "",
        row(
            "batch", "refresh", "docs", "searchable docs/s", "indexed docs/s",
            "from worker start", "start-up s", "batches (mean)", "CPU ms/doc worker, ES",
            "CPU cores while indexing",
        ),
        row(*["---:"] * 9, "---"),
    ]  # fmt: skip
    for r in data["throughput"]:
        batch = r["batch_size"]
        if not r.get("rate_searchable"):
            out.append(row(batch, r["refresh_interval"], r["docs"], "incomplete", *[""] * 6))
            continue
        out.append(
            row(
                batch,
                r["refresh_interval"],
                f"{r['docs']:,}",
                f"{r['rate_searchable']:,.0f}",
                f"{r['rate_indexed']:,.0f}",
                f"{r['rate_from_worker_start']:,.0f}",
                r["startup_seconds"],
                f"{r['batches']} ({r['batch_mean']})",
                fmt_ms(r.get("cpu_ms_per_doc")),
                fmt_cores(r["cpu_cores"]),
            )
        )
    if data["ceiling"]:
        out += [
            "",
            "## Elasticsearch alone (pre-serialized bulk requests from the benchmark)",
            "",
            row("docs", "batch", "in flight", "docs/s", "CPU ms/doc ES", "CPU cores"),
            row(*["---:"] * 5, "---"),
        ]
        for c in data["ceiling"]:
            out.append(
                row(
                    f"{c['docs']:,}",
                    c["batch_size"],
                    c["in_flight"],
                    f"{c['rate']:,.0f}",
                    c["cpu_ms_per_doc"].get("elasticsearch"),
                    fmt_cores(c["cpu_cores"]),
                )
            )
    out += [
        "",
        "## Latency (paced production; enriched message sent -> document searchable)",
        "",
        row(
            "refresh", "batch window s", "rate", "sent", "seen", "p50 s", "p95 s", "p99 s",
            "max s", "p95 from ack", "Kafka ack p95", "batches (mean)", "CPU cores",
        ),
        row(*["---:"] * 12, "---"),
    ]  # fmt: skip
    for r in data["latency"]:
        lat = r["latency"]
        out.append(
            row(
                r["refresh_interval"],
                r["batch_seconds"],
                r["rate_achieved"],
                f"{r['sent']:,}",
                f"{r['seen']:,}",
                lat["p50"],
                lat["p95"],
                lat["p99"],
                lat["max"],
                r["latency_from_ack"]["p95"],
                r["kafka_ack"]["p95"],
                f"{r['batches']} ({r['batch_mean']})",
                fmt_cores(r["cpu_cores"]),
            )
        )
    for r in data["latency"]:
        windows = "; ".join(f"{w['from_s']}s {w['p50']}/{w['p95']}" for w in r["windows"])
        variant = f"Refresh {r['refresh_interval']}, window {r['batch_seconds']:g} s"
        out += ["", f"{variant}, p50/p95 s per 10 s of sending: {windows}"]
    for r in data["throughput"]:
        prof = r.get("profile")
        if not prof:
            continue
        if not prof.get("samples"):
            out += ["", f"Profile {r['label']}: {prof.get('error', 'no samples')}"]
            continue
        out += [
            "",
            f"## Worker profile, {r['label']} (py-spy, {prof['samples']} samples of busy time)",
            "",
            *(f"- {k}: {v} %" for k, v in prof["buckets"].items()),
            "",
            "Top functions (self time):",
            "",
            *(f"- {pct} % `{name}`" for name, pct in prof["top_leaves"]),
        ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--docs", type=int, default=20_000, help="records per throughput phase")
    p.add_argument(
        "--batch-sizes", default="500,1000,2000", help="MEDIAMON_INDEX_BATCH_SIZE values"
    )
    p.add_argument("--repeat", type=int, default=1, help="throughput runs per batch size")
    p.add_argument(
        "--rate", type=float, default=TARGET_LATENCY_RATE, help="latency phase: records/s"
    )
    p.add_argument("--seconds", type=float, default=60.0, help="latency phase: seconds of sending")
    p.add_argument(
        "--latency-variants",
        default="1s:1,500ms:1,1s:0.25",
        help="latency phases as REFRESH:BATCH_SECONDS (MEDIAMON_ES_REFRESH_INTERVAL and "
        "MEDIAMON_INDEX_BATCH_SECONDS); the first is checked against the target",
    )
    p.add_argument("--no-ceiling", action="store_true", help="skip the Elasticsearch-alone phase")
    p.add_argument(
        "--warmup",
        type=int,
        default=WARMUP_DOCS,
        help="documents bulk-indexed to warm Elasticsearch up before measuring (0: none)",
    )
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    p.add_argument(
        "--code-ref",
        help="measure this commit (exported under the state dir) instead of the working tree",
    )
    p.add_argument("--reuse", action="store_true", help="use the running benchmark stack")
    p.add_argument("--keep", action="store_true", help="leave the stack running")
    p.add_argument("--py-spy", help="py-spy binary: profile the worker in throughput phases")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="MEDIAMON_X=VALUE",
        help="extra setting for every phase's worker (repeatable), e.g. "
        "MEDIAMON_RULES_FILE=deploy/samples/rules.yaml (paths relative to the code measured)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--save", type=Path, help="also write the JSON here")
    return p.parse_args(argv)


async def run_phases(bench: Bench, args: argparse.Namespace, data: dict[str, Any]) -> None:
    gen = Generator()
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    for start in range(0, args.warmup, WARMUP_CHUNK):
        chunk = await ceiling_phase(bench, gen, min(WARMUP_CHUNK, args.warmup - start), 500, 2)
        data["warmup"].append(chunk)
        progress(f"warm-up: {chunk['rate']} docs/s, {chunk['cpu_ms_per_doc']} CPU ms/doc")
    for n in range(args.repeat):
        for size in sizes:
            r = await throughput_phase(bench, gen, f"b{size}r{n}", args.docs, size, "1s")
            data["throughput"].append(r)
            cores = fmt_cores(r.get("cpu_cores"))
            progress(f"throughput batch={size}: {r.get('rate_searchable')} docs/s; {cores}")
    if not args.no_ceiling:
        for in_flight in (1, 2):
            c = await ceiling_phase(bench, gen, min(args.docs, 10_000), 500, in_flight)
            data["ceiling"].append(c)
            progress(f"Elasticsearch alone, {in_flight} in flight: {c['rate']} docs/s")
    for variant in [v.strip() for v in args.latency_variants.split(",") if v.strip()]:
        refresh, _, window = variant.partition(":")
        r = await latency_phase(bench, gen, args.rate, args.seconds, refresh, float(window or 1))
        data["latency"].append(r)
        progress(f"latency {variant}: {r['latency']} seen {r['seen']}/{r['sent']}")


async def server_facts(settings: Settings) -> tuple[str, int]:
    es = make_client(settings)
    try:
        # the integ-test distribution answers GET / with 405: ask the node instead
        info = await es.nodes.info(node_id="_local", metric="jvm")
        node = next(iter(info["nodes"].values()))
        return str(node["version"]), int(node["jvm"]["mem"]["heap_max_in_bytes"]) // 2**20
    finally:
        await es.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    # the workers run `python -m mediamon.main`, which imports from the current directory
    # first: from here they run the code this script measures
    os.chdir(CODE)
    base_env = {**BENCH_PORTS, "MEDIAMON_STATE_DIR": str(args.state_dir)}
    base_settings = settings_from(base_env)
    stack = Stack(base_settings)
    logs = args.state_dir / "logs" / time.strftime("%Y%m%dT%H%M%S")
    data: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "load_before": loadavg(),
        "versions": versions(),
        "code": code_state(),
        "settings": {
            "kafka_version": base_settings.kafka_version,
            "kafka_heap": base_settings.kafka_heap,
            "es_heap": base_settings.es_heap,
            "partitions": base_settings.topic_partitions,
            "index_batch_seconds": base_settings.index_batch_seconds,
            "docs": args.docs,
            "rate": args.rate,
            "seconds": args.seconds,
            "seed": SEED,
        },
        "warmup": [],
        "throughput": [],
        "ceiling": [],
        "latency": [],
        "logs": str(logs),
    }
    started_here = False
    if args.reuse:
        if not all(s.healthy for s in stack.status()):
            raise SystemExit(f"--reuse: the stack in {args.state_dir} is not running")
    else:
        started_here = not any(s.running for s in stack.status())
        progress("starting Kafka and Elasticsearch" if started_here else "stack already up")
        stack.up()
    pids = {s.name: s.pid for s in stack.status()}
    bench = Bench(base_env, stack, logs, args.py_spy, pids.get("elasticsearch"), pids.get("kafka"))
    bench.extra_env = dict(kv.split("=", 1) for kv in args.env)
    data["settings"]["extra_env"] = bench.extra_env
    try:
        data["es_version"], data["es_heap_mb"] = asyncio.run(server_facts(base_settings))
        asyncio.run(run_phases(bench, args, data))
    finally:
        data["load_after"] = loadavg()
        if not args.keep and not args.reuse:
            progress("stopping the stack" + ("" if started_here else " (it was already up)"))
            stack.down()
    text = json.dumps(data, indent=2, default=str)
    if args.save:
        args.save.write_text(text + "\n")
    print(text if args.json else report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
