"""Alert latency benchmark: `articles.enriched` -> the real worker (index, match 1,000 rules,
deliver) -> a local webhook; p95 <= 2 s at 200 articles/s is the target.

Method and results: docs/benchmarks/alerts.md. Rules: one hot rule per planted sentence
(`data/alert-vocabulary.jsonl`), a second for every fourth, the rest cold (vocabulary absent
from the sentence bank), all with a webhook to the benchmark's receiver and a generous
throttle. Phase 1 times the matcher alone and prototypes of other ways to run the rules;
phase 2 sends paced articles per batch window and times each alert to its webhook POST.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer
from elasticsearch import AsyncElasticsearch

from benchmarks import measure as m
from benchmarks import stack as st
from pipeline import topics
from pipeline.alerts.matching import RuleMatcher, RulesFile
from pipeline.alerts.rules import KeywordRule, load_rules
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.query import article_query
from pipeline.schema import AlertEvent, EnrichedArticle

HOOK_SECRET_ENV = "BENCH_HOOK_SECRET"  # not MEDIAMON_: st.Settings would refuse it
HOOK_SECRET = "bench-hook-secret"  # a local receiver's key, not a credential
TARGET_P95 = 2.0  # seconds
QUIET_SECONDS = 5.0  # after the last send: no new alert for this long ends the drain...
DRAIN_SECONDS = 90.0  # ...or this long after the last send
GENEROUS_THROTTLE = {"max": 100_000, "window": "1h"}  # throttling must hide no latency
LANG_WEIGHTS = {"ru": 30, "en": 25, "tr": 12, "ar": 11, "fr": 11, "de": 11}
TOPICS = ("syria", "astana_process", "un")  # the default taxonomy's topic ids
RULES_PER_REQUEST = 200  # pipeline/alerts/matching.py
FORMS = ("word", "and", "or", "not", "wildcard", "proximity", "phrase")
WATCHED_CODE = (
    "pipeline/agents/index.py",
    "pipeline/agents/alerts.py",
    "pipeline/alerts/matching.py",
    "pipeline/alerts/delivery.py",
    "pipeline/indexing/indexer.py",
    "pipeline/indexing/bulk.py",
    "pipeline/query.py",
)
Pair = tuple[str, str]  # (rule id, article id)


# ---------------------------------------------------------------------------------------------
# Vocabulary and rules. Cold terms do not occur in the sentence bank (checked here); hot terms
# occur only in their planted sentences.


@dataclass(frozen=True)
class Plant:
    """A sentence planted into hot articles and what hot rules look for in it."""

    lang: str
    entity: str  # a company: one word or two
    context: str  # a word that follows the entity within a few positions
    alt: str  # a competitor named in OR clauses, never planted
    neg: str  # a word excluded by NOT clauses, never planted
    sentence: str


@dataclass
class Vocabulary:
    cold_words: dict[str, list[str]]
    cold_phrases: dict[str, list[str]]
    concepts: list[list[str]]  # one concept in several languages: multilingual ORs
    plants: list[Plant]

    @classmethod
    def load(cls, bank: dict[str, list[str]]) -> Vocabulary:
        rows = [json.loads(line) for line in (m.DATA / "alert-vocabulary.jsonl").open()]
        words = {w for text in bank.values() for s in text for w in re.findall(r"\w+", s.lower())}

        def absent(term: str) -> bool:  # no word, nor a stem of one (inflected forms)
            return not any(
                w in words or any(b.startswith(w[: max(4, len(w) - 2)]) for b in words)
                for w in re.findall(r"\w+", term.lower())
            )

        langs = [r for r in rows if "lang" in r]
        return cls(
            {r["lang"]: [w for w in r["cold_words"] if absent(w)] for r in langs},
            {r["lang"]: [p for p in r["cold_phrases"] if absent(p)] for r in langs},
            [c for c in ([t for t in c if absent(t)] for c in rows[-1]["concepts"]) if len(c) > 2],
            [
                Plant(r["lang"], e, c, r["hot_alternatives"][n % 3], r["hot_negations"][n % 3],
                      r["hot_frame"].format(E=e, C=c))
                for r in langs
                for n, (e, c) in enumerate(r["hot_pairs"])
            ],
        )  # fmt: skip


@dataclass
class RuleSpec:
    id: str
    name: str
    query: str
    languages: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    plant: int | None = None  # index into Vocabulary.plants: the hot sentence it finds
    form: str = ""


def quoted(term: str) -> str:
    return f'"{term}"' if " " in term else term


def hot_query(form: str, p: Plant) -> str:
    e = quoted(p.entity)
    queries = {
        "and": f"{e} AND {p.context}",
        "or": f"({e} OR {quoted(p.alt)}) AND {p.context}",
        "not": f"{e} AND NOT {p.neg}",
        "proximity": f'"{p.entity} {p.context}"~6',
        "phrase": f'"{p.entity}"' if " " in p.entity else f"{e} AND {p.context}",
    }
    if form == "wildcard" and " " not in p.entity and len(p.entity) >= 6:
        return p.entity[:-2] + "*"
    return queries.get(form, e)


def cold_query(rng: random.Random, vocab: Vocabulary, lang: str) -> tuple[str, str]:
    words, phrases = vocab.cold_words[lang], vocab.cold_phrases[lang]
    form = rng.choices(
        ("word", "phrase", "and", "or", "not", "wildcard", "proximity", "multilingual"),
        weights=(20, 16, 18, 14, 8, 8, 6, 10),
    )[0]
    a, b, c = rng.sample(words, 3)
    if form == "word":
        return form, a
    if form == "phrase":
        return form, f'"{rng.choice(phrases)}"'
    if form == "and":
        return form, f"{a} AND {rng.choice([b, quoted(rng.choice(phrases))])}"
    if form == "or":
        return form, f"({a} OR {b}) AND {c}" if rng.random() < 0.5 else f"{a} OR {b} OR {c}"
    if form == "not":
        return form, f"{a} AND NOT {b}"
    if form == "wildcard":
        w = rng.choice([w for w in words if len(w) >= 7] or words)
        return form, w[: max(5, len(w) - 3)] + "*"
    if form == "proximity":
        phrase = rng.choice(phrases)
        return form, f'"{phrase}"~3' if " " in phrase else f'"{a} {b}"~5'
    concept = rng.choice(vocab.concepts)
    terms = " OR ".join(quoted(t) for t in rng.sample(concept, k=min(len(concept), 4)))
    return form, f"({terms}) AND ({quoted(rng.choice(phrases))} OR {b})"


def make_rules(count: int, vocab: Vocabulary, rng: random.Random) -> list[RuleSpec]:
    """`count` rules, hot first then cold, shuffled: hot rules fall into every request of
    the matcher's _msearch."""
    hot: list[RuleSpec] = []
    for n, p in enumerate(vocab.plants):
        forms = [FORMS[n % len(FORMS)]] + ([FORMS[(n + 3) % len(FORMS)]] if n % 4 == 0 else [])
        for k, form in enumerate(forms):
            spec = RuleSpec("", f"{p.entity} ({p.lang})", hot_query(form, p), plant=n, form=form)
            spec.languages = [p.lang] if (n + k) % 3 == 0 else []
            spec.topics = ["un"] if (n + k) % 5 == 1 else []  # planted articles get it
            hot.append(spec)
    cold: list[RuleSpec] = []
    langs = list(LANG_WEIGHTS)
    while len(hot) + len(cold) < count:
        lang = rng.choices(langs, weights=list(LANG_WEIGHTS.values()))[0]
        form, query = cold_query(rng, vocab, lang)
        spec = RuleSpec("", f"Client {rng.randint(1, 120)}: {query[:40]}", query, form=form)
        if rng.random() < 0.3:
            spec.languages = sorted({lang, *rng.sample(langs, k=rng.randint(0, 1))})
        if rng.random() < 0.15:
            spec.topics = [rng.choice(TOPICS)]
        cold.append(spec)
    rules = hot[:count] + cold
    rng.shuffle(rules)
    for n, rule in enumerate(rules, 1):
        rule.id = f"r{n:04d}-{'hot' if rule.plant is not None else 'cold'}-{rule.form}"
    return rules


def write_rules(path: Path, rules: list[RuleSpec], url: str, throttle: Any) -> list[KeywordRule]:
    """The rules file for the worker; returns the rules as the pipeline loads them."""
    entries = []
    for r in rules:
        entry: dict[str, Any] = {"id": r.id, "name": r.name, "query": r.query}
        entry |= {"languages": r.languages} if r.languages else {}
        entry |= {"topics": r.topics} if r.topics else {}
        entry |= {"channels": ["hook"]} | ({"throttle": throttle} if throttle else {})
        entries.append(entry)
    hook = {"type": "webhook", "url": url, "secret_env": HOOK_SECRET_ENV}
    data = {"channels": {"hook": hook}, "rules": entries}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200))
    ruleset = load_rules(path)
    if ruleset.problems:
        raise SystemExit("the generated rules do not load:\n" + "\n".join(ruleset.problems[:10]))
    return [r for r in ruleset.enabled() if isinstance(r, KeywordRule)]


@dataclass
class Generator:
    """Articles of one story each (so "once per story" suppresses nothing); a hot article
    carries one plant's sentence, in its language, with its rules' topics."""

    rules: list[RuleSpec]
    vocab: Vocabulary
    hot_share: float
    corpus: st.Corpus
    planted: dict[str, int] = field(default_factory=dict)  # article id -> plant index

    def __post_init__(self) -> None:
        self.by_plant: dict[int, list[RuleSpec]] = {}
        for rule in self.rules:
            if rule.plant is not None:
                self.by_plant.setdefault(rule.plant, []).append(rule)

    def article(self) -> EnrichedArticle:
        rng = self.corpus.rng
        hot = self.by_plant and rng.random() < self.hot_share
        plant = rng.choice(sorted(self.by_plant)) if hot else None
        lang = self.vocab.plants[plant].lang if plant is not None else self.corpus.lang()
        paragraphs = self.corpus.paragraphs(lang, rng.randint(1_700, 2_400))
        tagged = [t for t in TOPICS if rng.random() < 0.45]
        if plant is not None:
            para = rng.choice(paragraphs)
            para.insert(rng.randint(0, len(para)), self.vocab.plants[plant].sentence)
            tagged += [t for r in self.by_plant[plant] for t in r.topics if t not in tagged]
        domain = f"news{rng.randint(1, 9)}.{lang}.example"
        text = "\n\n".join(" ".join(p) for p in paragraphs)
        article = self.corpus.article(
            lang, text, self.corpus.recent(), domain, topics=tagged,
            source_name=f"{lang.upper()} News {domain[4]}",
        )  # fmt: skip
        if plant is not None:
            self.planted[article.id] = plant
        return article

    def batch(self, count: int) -> list[EnrichedArticle]:
        return [self.article() for _ in range(count)]

    def designed(self, article_ids: Sequence[str]) -> set[Pair]:
        """The pairs that must match by construction."""
        return {(r.id, a) for a in article_ids if a in self.planted for r in self.by_plant[
            self.planted[a]]}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The webhook receiver and the alerts topic


@dataclass(frozen=True)
class Arrival:
    at: float  # wall clock when the POST reached the handler
    kind: str  # alert | digest
    note_at: float | None  # the note's `sent_at`: when the deliverer built it


class Receiver:
    """A threaded HTTP/1.1 webhook (keep-alive, as a real endpoint would be): the first
    arrival of every (rule id, article id), how many times each arrived, bad signatures."""

    def __init__(self, delay: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.first: dict[Pair, Arrival] = {}
        self.copies: Counter[Pair] = Counter()
        self.posts = self.bad_signatures = 0
        self.last_at = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.record(at, body, self.headers.get("x-mediamon-signature", ""))
                time.sleep(delay)  # a remote endpoint's round trip, after the arrival
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # the default 5 drops connections under bursts

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, at: float, body: bytes, signature: str) -> None:
        expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        note = json.loads(body)
        note_at = datetime.fromisoformat(note["sent_at"]).timestamp() if "sent_at" in note else None
        with self.lock:
            self.posts += 1
            self.last_at = at
            self.bad_signatures += not hmac.compare_digest(expected, signature)
            for article in note.get("articles", []):
                key = (note["rule"]["id"], article["id"])
                self.copies[key] += 1
                self.first.setdefault(key, Arrival(at, note["kind"], note_at))

    def has(self, pairs: set[Pair]) -> bool:
        with self.lock:
            return all(p in self.first for p in pairs)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def watch_alert_events(settings: st.Settings, matched: dict[Pair, float]) -> None:
    """Every AlertEvent on the namespace's `alerts` topic: its `matched_at`, set when its
    rule's _msearch answered. Runs until cancelled."""
    consumer = AIOKafkaConsumer(
        settings.topic(topics.ALERTS),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for message in records:
                    event = AlertEvent.from_json(message.value)
                    key = (event.rule_id, event.article_id)
                    matched.setdefault(key, event.matched_at.timestamp())
    finally:
        await consumer.stop()


# ---------------------------------------------------------------------------------------------
# Phase 1: the matcher alone


async def rule_hits(
    es: AsyncElasticsearch, alias: str, rules: list[KeywordRule], ids: Sequence[str] = ()
) -> set[Pair]:
    """The pairs the rules find, each rule one search of an _msearch of 200 (without `ids`:
    over the whole alias, the ground truth once everything is indexed)."""
    pairs = set()
    for n in range(0, len(rules), 200):
        searches: list[dict[str, Any]] = []
        for rule in rules[n : n + 200]:
            q = article_query(
                rule.query, topics=rule.topics, langs=rule.languages, feeds=rule.feeds
            )
            if ids:
                q["bool"]["filter"].append({"ids": {"values": list(ids)}})
            searches += [
                {"index": alias},
                {"query": q, "size": len(ids) or 10_000, "_source": False},
            ]
        resp = await es.msearch(searches=searches)
        for rule, answer in zip(rules[n : n + 200], resp["responses"], strict=True):
            if "error" in answer:
                raise SystemExit(f"rule {rule.id} refused: {answer['error']}")
            pairs |= {(rule.id, h["_id"]) for h in answer["hits"]["hits"]}
    return pairs


async def matcher_phase(
    bench: st.Bench, specs: list[RuleSpec], vocab: Vocabulary, args: argparse.Namespace
) -> dict[str, Any]:
    """Batches of articles indexed with the pipeline's ArticleIndexer, then timed: the
    refresh and `RuleMatcher.match()`, whose pairs are checked against the rules run one by
    one. (Prototypes of other ways to run the rules, measured before named queries were
    adopted, are in this file's history: docs/benchmarks/alerts.md.)"""
    settings, _ = bench.namespace("match")
    await st.prepare(settings)
    path = bench.logs / "rules-matcher.yaml"
    rules = write_rules(path, specs, "http://127.0.0.1:9/unused", GENEROUS_THROTTLE)
    corpus = st.Corpus(LANG_WEIGHTS, random.Random(m.SEED + 2))
    gen = Generator(specs, vocab, args.hot_share, corpus)
    es = st.make_client(settings)
    alias = settings.articles_alias
    indexer, matcher = ArticleIndexer(es, settings), RuleMatcher(es, settings, RulesFile(path))
    timings: dict[str, list[float]] = {}
    found = missed = disagree = 0
    try:
        sizes = [200] * (args.matcher_batches + 1) + [50, 50, 500, 500]
        for n, size in enumerate(sizes):
            articles = gen.batch(size)
            ids = [a.id for a in articles]
            t0 = time.perf_counter()
            await indexer.index(articles)
            t1 = time.perf_counter()
            await es.indices.refresh(index=alias)
            t2 = time.perf_counter()
            result = await matcher.match(articles)
            t3 = time.perf_counter()
            if n == 0:  # the first batch warms up
                continue
            got = {(e.rule_id, e.article_id) for e in result.events}
            found += len(got)
            missed += len(gen.designed(ids) - got)
            disagree += got != await rule_hits(es, alias, rules, ids)
            for name, seconds in (
                (f"bulk index {size} (ArticleIndexer.index)", t1 - t0),
                (f"refresh ({size})", t2 - t1),
                (f"RuleMatcher.match() ({size} articles)", t3 - t2),
            ):
                timings.setdefault(name, []).append(seconds)  # fmt: skip
    finally:
        await es.close()
    await st.drop_namespace(settings)
    return {
        "batches": args.matcher_batches,
        "rules": len(rules),
        "pairs_found": found,
        "designed_pairs_missed": missed,
        "batches_where_rules_one_by_one_disagree": disagree,
        "seconds": {k: m.stats(v) for k, v in timings.items()},
    }


# ---------------------------------------------------------------------------------------------
# Phase 2: end-to-end latency


async def latency_phase(
    bench: st.Bench,
    specs: list[RuleSpec],
    vocab: Vocabulary,
    args: argparse.Namespace,
    window: float,
    default: bool,
) -> dict[str, Any]:
    """The worker, warmed with `--warmup` seconds of paced articles (their alerts must
    arrive), then `--seconds` of articles at `--rate`; each alert timed to its POST."""
    label = f"w{window:g}" + ("-default-throttle" if default else "")
    label += f"-hook{args.hook_delay * 1000:g}ms" if args.hook_delay else ""
    receiver = Receiver(args.hook_delay)
    path = bench.logs / f"rules-{label}.yaml"
    throttle = None if default else GENEROUS_THROTTLE
    rules = write_rules(path, specs, receiver.url, throttle)
    settings, env = bench.namespace(
        label.replace(".", "_"),
        MEDIAMON_RULES_FILE=str(path),
        MEDIAMON_INDEX_BATCH_SECONDS=str(window),
        **{HOOK_SECRET_ENV: HOOK_SECRET},
    )
    await st.prepare(settings)
    gen = Generator(
        specs, vocab, args.hot_share, st.Corpus(LANG_WEIGHTS, random.Random(m.SEED + 1))
    )
    warm = gen.batch(int(args.rate * args.warmup))
    articles = gen.batch(int(args.rate * args.seconds))

    def stamped(batch: list[EnrichedArticle]) -> Any:
        def message(n: int, now: float) -> tuple[str, bytes]:  # enriched_at = the send time
            at = datetime.fromtimestamp(now, UTC)
            return batch[n].id, batch[n].model_copy(update={"enriched_at": at}).to_json()

        return message

    matched: dict[Pair, float] = {}
    watcher = asyncio.create_task(watch_alert_events(settings, matched))
    es = st.make_client(settings)
    worker = bench.worker(env, f"worker-{label}")
    try:
        await st.pace(settings, len(warm), args.rate, st.Flight(), stamped(warm))
        warm_pairs = gen.designed([a.id for a in warm])
        await st.wait_until(lambda: receiver.has(warm_pairs), 240, worker, "warm-up alerts")
        await asyncio.sleep(3)  # the warm-up's last batches and commits settle
        log_offset = worker.log_path.stat().st_size
        meter = m.CpuMeter(bench.pids(worker))
        work0, cpu0 = await st.es_work(es, settings), meter.read()
        flight = st.Flight()
        m.progress(f"{label}: sending {len(articles):,} articles at {args.rate:g}/s")
        send_seconds = await st.pace(settings, len(articles), args.rate, flight, stamped(articles))
        cpu = m.CpuMeter.cores(cpu0, meter.read(), send_seconds)
        sent_ids = [a.id for a in articles]
        designed = gen.designed(sent_ids)
        end = time.time()
        while time.time() < end + DRAIN_SECONDS:
            if receiver.has(designed) and time.time() - receiver.last_at > QUIET_SECONDS:
                break
            await asyncio.sleep(0.5)
        work = m.work_delta(work0, await st.es_work(es, settings))
        await es.indices.refresh(index=settings.articles_alias)
        measured = set(sent_ids)
        truth = {p for p in await rule_hits(es, settings.articles_alias, rules)
                 if p[1] in measured}  # fmt: skip
        if not default:  # an accidental match may still be on its way
            with contextlib.suppress(SystemExit):
                await st.wait_until(lambda: receiver.has(truth), 20, worker, "accidental pairs")
        records = await alert_records(es, settings, measured)
        batches = worker_batches(worker.log_path, log_offset, flight, end)
    finally:
        watcher.cancel()
        worker.stop()
        receiver.close()
        await es.close()
    await st.drop_namespace(settings)
    batch_ends = [at for at, _, _ in st.index_batches(worker.log_path, log_offset)]
    result = analyse(flight, receiver, matched, truth, designed, send_seconds, batch_ends)
    return result | {
        "label": label,
        "batch_seconds": window,
        "throttle": "default (10 per 1h)" if default else "100,000 per 1h",
        "hook_delay": args.hook_delay,
        "warmup_articles": len(warm),
        "cpu_cores": cpu,
        "st.es_work": work,
        "worker_batches": batches,
        "alert_records": records,
        "namespace": settings.namespace,
        "worker_log": str(worker.log_path),
    }


def worker_batches(log_path: Path, offset: int, flight: st.Flight, sent_until: float) -> Any:
    """The index agent's batches while measured: sizes, alerts, the time between batch
    lines (the window plus the batch's own time); whether it kept up (articles not yet
    processed when sending stopped, and how long it took to catch up)."""
    start, sent = min(flight.sent.values()), len(flight.sent)
    rows = [r for r in st.index_batches(log_path, offset) if r[0] >= start]
    done = sum(size for at, size, _ in rows if at <= sent_until)
    totals = itertools.accumulate(size for _, size, _ in rows)
    caught_up = next(
        (round(r[0] - sent_until, 2) for r, t in zip(rows, totals, strict=False) if t >= sent), None
    )
    return {
        "backlog_when_sending_ended": sent - done,
        "caught_up_after_seconds": caught_up,
        "batches": len(rows),
        "size": m.stats(r[1] for r in rows),
        "alerts_per_batch": m.stats(r[2] for r in rows),
        "cycle_seconds": m.stats(b[0] - a[0] for a, b in itertools.pairwise(rows)),
    }


async def alert_records(es: AsyncElasticsearch, settings: st.Settings, ids: set[str]) -> Any:
    """The alerts index: status counts and the worker's own latency (enrichment to
    handling, before delivery) for the measured articles."""
    await es.indices.refresh(index=settings.alerts_index)
    resp = await es.search(
        index=settings.alerts_index,
        size=10_000,
        source_includes=["article_id", "status", "latency_ms"],
        query={"match_all": {}},
    )
    docs = [h["_source"] for h in resp["hits"]["hits"] if h["_source"]["article_id"] in ids]
    return {
        "status": dict(Counter(d["status"] for d in docs)),
        "latency_ms": m.stats(d["latency_ms"] for d in docs if d.get("latency_ms") is not None),
    }


def analyse(
    flight: st.Flight,
    receiver: Receiver,
    matched: dict[Pair, float],
    truth: set[Pair],
    designed: set[Pair],
    send_seconds: float,
    batch_ends: list[float],
) -> dict[str, Any]:
    delivered = {p for p in receiver.first if p[1] in flight.sent}
    alerts = {p: receiver.first[p] for p in delivered & truth if receiver.first[p].kind == "alert"}
    latency = {p: a.at - flight.sent[p[1]] for p, a in alerts.items()}
    # matched_at is stamped per request, but the batch's events are produced after its last
    # one: the batch's log line (written after the produce) splits the path more fairly; it
    # is the first batch line at or after matched_at (ms resolution).
    after = {p: bisect.bisect_left(batch_ends, matched[p] - 0.001) for p in alerts if p in matched}
    done = {p: batch_ends[i] for p, i in after.items() if i < len(batch_ends)}
    notes = {p: a.note_at for p, a in alerts.items() if a.note_at}
    t0 = min(flight.sent.values())
    raw = [
        [round(x - t0, 3) for x in (flight.sent[p[1]], matched.get(p, math.nan),
                                    done.get(p, math.nan), a.note_at or math.nan, a.at)]
        for p, a in sorted(alerts.items(), key=lambda kv: flight.sent[kv[0][1]])
    ]  # fmt: skip
    return {
        "sent": len(flight.sent),
        "rate_achieved": round(len(flight.sent) / send_seconds, 1),
        "articles_matching": len({a for _, a in truth}),
        "hot_articles": len({a for _, a in designed}),
        "expected_pairs": len(truth),
        "designed_pairs": len(designed),
        "designed_not_found": len(designed - truth),
        "accidental_pairs": len(truth - designed),
        "delivered_pairs": len(delivered & truth),
        "delivered_as_alert": len(alerts),
        "missing_pairs": len(truth - delivered),
        "unexpected_pairs": len(delivered - truth),
        "duplicate_deliveries": sum(receiver.copies[p] - 1 for p in delivered),
        "posts": receiver.posts,
        "bad_signatures": receiver.bad_signatures,
        "latency": m.stats(latency.values()),
        "latency_from_ack": m.stats(
            a.at - flight.acked[p[1]] for p, a in alerts.items() if p[1] in flight.acked
        ),
        "kafka_ack": m.stats(flight.acked[i] - flight.sent[i] for i in flight.acked),
        "stages": {
            "sent -> batch done (index agent: window, bulk, refresh, match, produce)": m.stats(
                done[p] - flight.sent[p[1]] for p in done
            ),
            "batch done -> note built (alerts topic, alerts agent)": m.stats(
                n - done[p] for p, n in notes.items() if p in done
            ),
            "note built -> webhook (HTTP POST)": m.stats(
                alerts[p].at - n for p, n in notes.items()
            ),
            "(sent -> matched_at, stamped per request)": m.stats(
                matched[p] - flight.sent[p[1]] for p in alerts if p in matched
            ),
            "(matched_at -> note built)": m.stats(
                n - matched[p] for p, n in notes.items() if p in matched
            ),
        },
        "windows": m.per_ten_seconds(((flight.sent[p[1]], v) for p, v in latency.items()), t0),
        # per alert, seconds from the first send: sent, matched_at, batch done, note, arrival
        "raw": raw,
    }


# ---------------------------------------------------------------------------------------------
# Report


def verdict(run: dict[str, Any]) -> str:
    lat = run["latency"]
    if not lat["n"]:
        return f"- {run['label']}: no alert arrived."
    checked = run["throttle"].startswith("100,000")
    met = lat["p95"] <= TARGET_P95 and not run["missing_pairs"]
    target = (
        f"target p95 <= {TARGET_P95:g} s: {'met' if met else 'NOT met'} "
        f"({lat['p95'] / TARGET_P95:.2f}x the limit); "
        if checked
        else ""
    )
    throttled = run["alert_records"]["status"].get("throttled", 0)
    return (
        f"- Batch window {run['batch_seconds']:g} s, throttle {run['throttle']}: p50 "
        f"**{lat['p50']:.2f} s**, p95 **{lat['p95']:.2f} s**, p99 {lat['p99']:.2f} s, max "
        f"{lat['max']:.2f} s over {lat['n']:,} alerts at {run['rate_achieved']:g} articles/s; "
        f"{target}{run['delivered_pairs']:,}/{run['expected_pairs']:,} expected alerts "
        f"delivered, {run['missing_pairs']} missing"
        + ("" if checked else f" ({throttled} throttled into the hourly digest, as configured)")
        + f", {run['duplicate_deliveries']} duplicates."
    )


def report(data: dict[str, Any]) -> str:
    s = data["settings"]
    out = [f"# Alert latency benchmark ({data['started']})", ""]
    out += [*map(verdict, data["latency"]), "", *st.context_lines(data)]
    out += [
        f"- Rules: {s['rules']} enabled ({s['hot_rules']} hot), seed {m.SEED}; articles at "
        f"{s['rate']:g}/s for {s['seconds']:g} s after {s['warmup']:g} s of warm-up, hot "
        f"share {s['hot_share']:g}.",
        m.code_line(data["code"]),
        f"- Versions: {', '.join(f'{k} {v}' for k, v in data['versions'].items())}.",
        f"- Logs: {data['logs']}",
    ]
    if matcher := data.get("matcher"):
        out += [
            "",
            f"## Matcher alone ({matcher['rules']} rules, {matcher['batches']} batches of 200)",
            "",
            f"Pairs found by RuleMatcher: {matcher['pairs_found']}; designed pairs it missed: "
            f"{matcher['designed_pairs_missed']}; batches where the rules run one by one found "
            f"other pairs: {matcher['batches_where_rules_one_by_one_disagree']}.",
            "",
            m.md_table(
                ("step", "p50 s", "mean s", "max s"),
                [(k, v["p50"], v["mean"], v["max"]) for k, v in matcher["seconds"].items()],
            ),
        ]
    head = ("run", "window s", "sent", "matching articles", "expected", "delivered", "missing",
            "dup", "p50 s", "p95 s", "p99 s", "max s", "p95 from ack",
            "batches: size p50, cycle p50/p95 s", "CPU cores")  # fmt: skip
    rows = []
    for r in data["latency"]:
        lat, wb = r["latency"], r["worker_batches"]
        cycle = f"{wb['size']['p50']}, {wb['cycle_seconds']['p50']}/{wb['cycle_seconds']['p95']}"
        rows.append((r["label"], r["batch_seconds"], f"{r['sent']:,}", r["articles_matching"],
                     r["expected_pairs"], r["delivered_pairs"], r["missing_pairs"],
                     r["duplicate_deliveries"], lat["p50"], lat["p95"], lat["p99"], lat["max"],
                     r["latency_from_ack"]["p95"], cycle, m.fmt_cores(r["cpu_cores"])))  # fmt: skip
    title = "## End to end (article sent to `articles.enriched` -> webhook POST received)"
    out += ["", title, "", m.md_table(head, rows)]
    for r in data["latency"]:
        wb, work, rec = r["worker_batches"], r["st.es_work"], r["alert_records"]
        out += ["", f"### {r['label']}: where the time goes (p50 / p95 / max s)", ""]
        out += [f"- {k}: {v['p50']} / {v['p95']} / {v['max']}" for k, v in r["stages"].items()]
        out += [
            f"- Elasticsearch during the phase: {work['searches']:,.0f} searches, query "
            f"{work['query_ms']:,.0f} ms + fetch {work['fetch_ms']:,.0f} ms; "
            f"{work['refreshes']:,.0f} refreshes, {work['refresh_ms']:,.0f} ms; indexing "
            f"{work['index_ms']:,.0f} ms; {work['alert_records']:,.0f} alert records; "
            f"GC {work['gc_ms']:,.0f} ms.",
            f"- Alerts index: {rec['status']}; the worker's own latency_ms (enrichment to "
            f"handling) p50 {rec['latency_ms']['p50']}, p95 {rec['latency_ms']['p95']}.",
            f"- Index agent: {wb['batches']} batches, size p50 {wb['size']['p50']} max "
            f"{wb['size']['max']}, cycle p50 {wb['cycle_seconds']['p50']} s; "
            f"{wb['backlog_when_sending_ended']:,} articles not yet processed when sending "
            f"ended, caught up {wb['caught_up_after_seconds']} s later.",
            f"- Hot articles {r['hot_articles']}, designed pairs {r['designed_pairs']} "
            f"({r['designed_not_found']} not found by the rules), accidental pairs "
            f"{r['accidental_pairs']}, unexpected deliveries {r['unexpected_pairs']}, "
            f"POSTs {r['posts']}, bad signatures {r['bad_signatures']}.",
            "- p50/p95 s per 10 s of sending: "
            + "; ".join(f"{w['from_s']}s {w['p50']}/{w['p95']}" for w in r["windows"]),
        ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks alerts", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--rate", type=float, default=200.0, help="articles/s")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of measured sending")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds of paced warm-up")
    p.add_argument("--rules", type=int, default=1_000, help="enabled keyword rules")
    p.add_argument("--hot-share", type=float, default=0.05, help="share of articles planted")
    p.add_argument("--windows", default="0.25,1.0", help="MEDIAMON_INDEX_BATCH_SECONDS, a run each")
    p.add_argument(
        "--default-throttle",
        action="store_true",
        help="one more run (first window) with the rules' default throttle, 10 per hour",
    )
    p.add_argument("--hook-delay", type=float, default=0.0, help="seconds the webhook waits")
    p.add_argument("--no-matcher", action="store_true", help="skip the matcher-alone phase")
    p.add_argument("--matcher-batches", type=int, default=5)
    st.stack_options(p)
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # the worker's metrics port (9465 by default) may be taken by another worker
    async with st.bench_stack(
        args.state_dir, args.reuse, args.keep, MEDIAMON_WORKER_METRICS_PORT="0"
    ) as bench:
        corpus = st.Corpus(LANG_WEIGHTS)
        vocab = Vocabulary.load({lang: corpus.bank[lang] for lang in LANG_WEIGHTS})
        specs = make_rules(args.rules, vocab, random.Random(m.SEED))
        (bench.logs / "rules.json").write_text(
            json.dumps([r.__dict__ for r in specs], ensure_ascii=False, indent=1)
        )
        data = bench.header(started) | {"code": m.code_state(WATCHED_CODE), "latency": []}
        data["settings"] = {
            "rules": len(specs),
            "hot_rules": sum(r.plant is not None for r in specs),
            "rule_forms": dict(Counter(r.form for r in specs)),
            "with_language_filter": sum(bool(r.languages) for r in specs),
            "with_topic_filter": sum(bool(r.topics) for r in specs),
            "index_batch_size": bench.settings.index_batch_size,
        } | {k: vars(args)[k] for k in ("rate", "seconds", "warmup", "hot_share")}
        if not args.no_matcher:
            data["matcher"] = await matcher_phase(bench, specs, vocab, args)
            seconds = data["matcher"]["seconds"]
            m.progress("matcher: " + "; ".join(f"{k} {v['p50']}" for k, v in seconds.items()))
        windows = [float(w) for w in args.windows.split(",") if w.strip()]
        runs = [(w, False) for w in windows] + [(windows[0], True)] * args.default_throttle
        for window, default in runs:
            r = await latency_phase(bench, specs, vocab, args, window, default)
            data["latency"].append(r)
            m.progress(
                f"{r['label']}: {r['latency']}; {r['delivered_pairs']}/{r['expected_pairs']}"
            )
        data["load_after"] = m.loadavg()
        (bench.logs / "result.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    data = asyncio.run(run(args))
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    if args.save:
        args.save.write_text(text + "\n")
    print(text if args.json else report(data))
    return 0
