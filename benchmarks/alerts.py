"""Alert latency: `articles.enriched` -> the real worker (index, match 1,000 rules, deliver) ->
a local webhook; target p95 <= 2 s at 200 articles/s. Phase 1 times the matcher alone, phase 2
each alert from its send to its webhook POST, per batch window. Method, results, how to read
them: docs/benchmarks/alerts.md."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import hmac
import itertools
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import AsyncElasticsearch

from benchmarks import measure as m
from benchmarks import stack as st
from pipeline import topics
from pipeline.alerts.matching import RuleMatcher, RulesFile
from pipeline.alerts.rules import KeywordRule, load_rules
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.query import article_query
from pipeline.schema import AlertEvent, EnrichedArticle
from tests.support.topics import topic_consumer
from tests.support.webhook import Received, WebhookReceiver

HOOK_SECRET_ENV = "BENCH_HOOK_SECRET"  # not MEDIAMON_: st.Settings would refuse it
HOOK_SECRET = "bench-hook-secret"  # a local receiver's key, not a credential
TARGET_P95 = 2.0  # seconds
QUIET_SECONDS = 5.0  # after the last send: no new alert for this long ends the drain...
DRAIN_SECONDS = 90.0  # ...or this long after the last send
GENEROUS_THROTTLE = {"max": 100_000, "window": "1h"}  # throttling must hide no latency
LANG_WEIGHTS = {"ru": 30, "en": 25, "tr": 12, "ar": 11, "fr": 11, "de": 11}
TOPICS = ("syria", "astana_process", "un")  # the default taxonomy's topic ids
FORMS = ("word", "and", "or", "not", "wildcard", "proximity", "phrase")
Pair = tuple[str, str]  # (rule id, article id)
MATCHER_BATCHES = 5  # timed batches of 200 in the matcher-alone phase
# An alert's path: sent -> batch done in the index agent (window, bulk, refresh, match,
# produce) -> note built (alerts topic, alerts agent) -> webhook (HTTP POST); matched_at is
# stamped per _msearch request, before the batch is done
STAGES = [("sent", "batch done"), ("batch done", "note built"), ("note built", "webhook"),
          ("sent", "matched_at"), ("matched_at", "note built")]  # fmt: skip
# Vocabulary and rules. Cold terms do not occur in the sentence bank (checked here); hot terms
# occur only in their planted sentences.


@dataclass(frozen=True)
class Plant:  # a sentence planted into hot articles and what hot rules look for in it
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


def write_rules(path: Path, rules: list[RuleSpec], url: str) -> list[KeywordRule]:
    """The rules file for the worker (webhook at `url`); returns the rules as the pipeline
    loads them."""
    entries = []
    for r in rules:
        entry: dict[str, Any] = {"id": r.id, "name": r.name, "query": r.query}
        entry |= {"languages": r.languages} if r.languages else {}
        entry |= {"topics": r.topics} if r.topics else {}
        entry |= {"channels": ["hook"], "throttle": GENEROUS_THROTTLE}
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
    by_plant: dict[int, list[RuleSpec]] = field(default_factory=dict)

    def __post_init__(self) -> None:
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

    def designed(self, articles: Sequence[EnrichedArticle]) -> set[Pair]:
        """The pairs that must match by construction."""
        ids = [a.id for a in articles if a.id in self.planted]
        return {(r.id, a) for a in ids for r in self.by_plant[self.planted[a]]}


# The webhook receiver, the alerts topic, the phases


@dataclass(frozen=True)
class Arrival:
    at: float  # wall clock when the POST reached the handler
    kind: str  # alert | digest
    note_at: float | None  # the note's `sent_at`: when the deliverer built it


class Receiver(WebhookReceiver):
    """The webhook (tests/support's receiver), keeping no request but the first arrival of
    every (rule id, article id), how many times each arrived, bad signatures."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.first: dict[Pair, Arrival] = {}
        self.copies: Counter[Pair] = Counter()
        self.posts = self.bad_signatures = 0
        self.last_at = 0.0
        self.hook = self.url("/hook")
        self.start()

    def _record(self, request: Received) -> int:
        at, body = time.time(), request.body
        signature = request.headers.get("x-mediamon-signature", "")
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
        return 200

    def has(self, pairs: set[Pair]) -> bool:
        with self.lock:
            return all(p in self.first for p in pairs)


async def watch_alert_events(settings: st.Settings, matched: dict[Pair, float]) -> None:
    """The `matched_at` of every AlertEvent on the namespace's `alerts` topic (stamped when
    its rule's _msearch answered), until cancelled."""
    async with topic_consumer(settings, settings.topic(topics.ALERTS)) as consumer:
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for event in (AlertEvent.from_json(r.value) for r in records):
                    pair = (event.rule_id, event.article_id)
                    matched.setdefault(pair, event.matched_at.timestamp())


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
            q["bool"]["filter"] += [{"ids": {"values": list(ids)}}] if ids else []
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
    bench: st.Bench, specs: list[RuleSpec], vocab: Vocabulary, hot_share: float
) -> dict[str, Any]:
    """Batches indexed with the pipeline's ArticleIndexer, then the refresh and
    `RuleMatcher.match()` timed, its pairs checked against the rules run one by one."""
    path = bench.logs / "rules-matcher.yaml"
    rules = write_rules(path, specs, "http://127.0.0.1:9/unused")
    gen = Generator(specs, vocab, hot_share, st.Corpus(LANG_WEIGHTS, random.Random(m.SEED + 2)))
    timings: dict[str, list[float]] = {}
    found = missed = disagree = 0
    async with bench.phase("match") as ph:
        es, alias = ph.es, ph.settings.articles_alias
        indexer = ArticleIndexer(es, ph.settings)
        matcher = RuleMatcher(es, ph.settings, RulesFile(path))
        every = RuleMatcher(es, ph.settings, RulesFile(path))  # the peer: all rules, always
        every.presearch = False
        for n, size in enumerate([200] * (MATCHER_BATCHES + 1) + [50, 50, 500, 500]):
            articles = gen.batch(size)
            t0 = time.perf_counter()
            report = await indexer.index(articles)
            t1 = time.perf_counter()
            await es.indices.refresh(index=alias)
            t2 = time.perf_counter()
            result = await matcher.match(articles, report.indices)
            t3 = time.perf_counter()
            unselected = await every.match(articles, report.indices)
            t4 = time.perf_counter()
            if n == 0:  # the first batch warms up (and builds the pre-selection)
                continue
            got = {(e.rule_id, e.article_id) for e in result.events}
            disagree += got != {(e.rule_id, e.article_id) for e in unselected.events}
            found += len(got)
            missed += len(gen.designed(articles) - got)
            disagree += got != await rule_hits(es, alias, rules, [a.id for a in articles])
            for name, seconds in (
                (f"bulk index {size} (ArticleIndexer.index)", t1 - t0),
                (f"refresh ({size})", t2 - t1),
                (f"RuleMatcher.match() ({size} articles)", t3 - t2),
                (f"every rule, no pre-selection ({size} articles)", t4 - t3),
            ):
                timings.setdefault(name, []).append(seconds)
    return {
        "batches": MATCHER_BATCHES, "rules": len(rules), "pairs_found": found,
        "designed_pairs_missed": missed, "batches_where_rules_one_by_one_disagree": disagree,
        "seconds": {k: m.stats(v) for k, v in timings.items()},
    }  # fmt: skip


async def latency_phase(
    bench: st.Bench, specs: list[RuleSpec], vocab: Vocabulary, args: Any, window: float,
    presearch: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """The worker, warmed with `--warmup` seconds of paced articles (their alerts must
    arrive), then `--seconds` of articles at `--rate`; each alert timed to its POST."""
    label = f"w{window:g}" + ("" if presearch else "-every-rule")
    receiver = Receiver()
    path = bench.logs / f"rules-{label}.yaml"
    rules = write_rules(path, specs, receiver.hook)
    corpus = st.Corpus(LANG_WEIGHTS, random.Random(m.SEED + 1))
    gen = Generator(specs, vocab, args.hot_share, corpus)
    warm = gen.batch(int(args.rate * args.warmup))
    articles = gen.batch(int(args.rate * args.seconds))

    def stamped(batch: list[EnrichedArticle]) -> st.Message:
        def message(n: int, now: float) -> tuple[str, bytes]:  # enriched_at = the send time
            at = datetime.fromtimestamp(now, UTC)
            return batch[n].id, batch[n].model_copy(update={"enriched_at": at}).to_json()

        return message

    env = {"MEDIAMON_RULES_FILE": str(path), "MEDIAMON_INDEX_BATCH_SECONDS": str(window),
           "MEDIAMON_ALERT_PRESEARCH": str(presearch).lower()}  # fmt: skip
    matched: dict[Pair, float] = {}
    async with bench.phase(label.replace(".", "_"), **env, **{HOOK_SECRET_ENV: HOOK_SECRET}) as ph:
        settings, es = ph.settings, ph.es
        watcher = asyncio.create_task(watch_alert_events(settings, matched))
        worker = ph.worker(f"worker-{label}")
        try:
            await st.pace(settings, len(warm), args.rate, st.Flight(), stamped(warm))
            warm_pairs = gen.designed(warm)
            await st.wait_until(lambda: receiver.has(warm_pairs), 240, worker, "warm-up alerts")
            await asyncio.sleep(3)  # the warm-up's last batches and commits settle
            log_offset = worker.log_path.stat().st_size
            work0, flight = await ph.work(), st.Flight()
            m.progress(f"{label}: sending {len(articles):,} articles at {args.rate:g}/s")
            send = stamped(articles)
            seconds, cpu = await ph.paced(worker, len(articles), args.rate, flight, send)
            end, designed = time.time(), gen.designed(articles)
            while time.time() < end + DRAIN_SECONDS:
                if receiver.has(designed) and time.time() - receiver.last_at > QUIET_SECONDS:
                    break
                await asyncio.sleep(0.5)
            work = m.work_delta(work0, await ph.work())
            await es.indices.refresh(index=settings.articles_alias)
            measured = {a.id for a in articles}
            hits = await rule_hits(es, settings.articles_alias, rules)
            truth = {p for p in hits if p[1] in measured}
            with contextlib.suppress(SystemExit):  # an accidental match may still be on its way
                await st.wait_until(lambda: receiver.has(truth), 20, worker, "accidental pairs")
        finally:
            watcher.cancel()
            receiver.close()
    rows = st.index_batches(worker.log_path, log_offset)
    result = analyse(flight, receiver, matched, truth, designed, [r[0] for r in rows], seconds)
    lat = result["latency"]
    met = bool(lat["n"]) and lat["p95"] <= TARGET_P95 and not result["missing_pairs"]
    return result | {
        "label": label, "batch_seconds": window, "presearch": presearch, "rules": len(rules),
        "rate": args.rate, "target_p95_met": met, "warmup_articles": len(warm),
        "cpu_cores": cpu, "es_work": work, "worker_batches": worker_batches(rows, flight, end),
        "namespace": settings.namespace,
        "worker_log": str(worker.log_path),
    }  # fmt: skip


def worker_batches(rows: list[tuple[float, int, int]], flight: st.Flight, end: float) -> Any:
    """The index agent's batches while measured, and whether it kept up: the articles not yet
    processed when sending ended, and how long it took to catch up."""
    start, sent = min(flight.sent.values()), len(flight.sent)
    rows = [r for r in rows if r[0] >= start]
    done = sum(size for at, size, _ in rows if at <= end)
    totals = itertools.accumulate(size for _, size, _ in rows)
    caught_up = next(
        (round(r[0] - end, 2) for r, t in zip(rows, totals, strict=False) if t >= sent), None
    )
    return st.batch_stats(rows) | {
        "backlog_when_sending_ended": sent - done, "caught_up_after_seconds": caught_up
    }  # fmt: skip


def analyse(
    flight: st.Flight, receiver: Receiver, matched: dict[Pair, float], truth: set[Pair],
    designed: set[Pair], batch_ends: list[float], seconds: float,
) -> dict[str, Any]:  # fmt: skip
    delivered = {p for p in receiver.first if p[1] in flight.sent}
    alerts = {p: receiver.first[p] for p in delivered & truth if receiver.first[p].kind == "alert"}
    # matched_at is stamped per request, but the batch's events are produced after its last
    # one: the batch's log line (written after the produce) splits the path more fairly; it
    # is the first batch line at or after matched_at (ms resolution).
    after = {p: bisect.bisect_left(batch_ends, matched[p] - 0.001) for p in alerts if p in matched}
    points: dict[str, dict[Pair, float]] = {  # per alert, in the order of its path
        "sent": {p: flight.sent[p[1]] for p in alerts},
        "matched_at": {p: matched[p] for p in alerts if p in matched},
        "batch done": {p: batch_ends[i] for p, i in after.items() if i < len(batch_ends)},
        "note built": {p: a.note_at for p, a in alerts.items() if a.note_at},
        "webhook": {p: a.at for p, a in alerts.items()},
    }
    return flight.summary([(p[1], a.at) for p, a in alerts.items()], seconds) | {
        "articles_matching": len({a for _, a in truth}),
        "hot_articles": len({a for _, a in designed}),
        "expected_pairs": len(truth), "designed_pairs": len(designed),
        "designed_not_found": len(designed - truth), "accidental_pairs": len(truth - designed),
        "delivered_pairs": len(delivered & truth), "delivered_as_alert": len(alerts),
        "missing_pairs": len(truth - delivered), "unexpected_pairs": len(delivered - truth),
        "duplicate_deliveries": sum(receiver.copies[p] - 1 for p in delivered),
        "posts": receiver.posts, "bad_signatures": receiver.bad_signatures,
        "stages": {f"{a} -> {b}": m.stats(points[b][p] - points[a][p] for p in points[a]
                                          if p in points[b]) for a, b in STAGES},
    }  # fmt: skip


async def run(args: Any, bench: st.Bench) -> dict[str, Any]:
    corpus = st.Corpus(LANG_WEIGHTS)
    vocab = Vocabulary.load({lang: corpus.bank[lang] for lang in LANG_WEIGHTS})
    specs = make_rules(args.rules, vocab, random.Random(m.SEED))
    rules_json = json.dumps([r.__dict__ for r in specs], ensure_ascii=False, indent=1)
    (bench.logs / "rules.json").write_text(rules_json)
    data: dict[str, Any] = {"latency": []}
    data["settings"] = {
        "rules": len(specs), "hot_rules": sum(r.plant is not None for r in specs),
        "rule_forms": dict(Counter(r.form for r in specs)),
        "with_language_filter": sum(bool(r.languages) for r in specs),
        "with_topic_filter": sum(bool(r.topics) for r in specs),
        "index_batch_size": bench.settings.index_batch_size, "seed": m.SEED,
    } | {k: vars(args)[k] for k in ("rate", "seconds", "warmup", "hot_share")}  # fmt: skip
    if not args.no_matcher:
        data["matcher"] = await matcher_phase(bench, specs, vocab, args.hot_share)
        m.progress(f"matcher: {data['matcher']['seconds']}")
    windows = [float(w) for w in args.windows.split(",") if w.strip()]
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.presearch]
    for window, presearch in [(w, p) for w in windows for p in modes]:
        r = await latency_phase(bench, specs, vocab, args, window, presearch)
        data["latency"].append(r)
        m.progress(f"{r['label']}: {r['latency']}; {r['delivered_pairs']} delivered")
    SUMMARY[:] = [summary_line(r) for r in data["latency"]]
    return data


SUMMARY: list[str] = []  # what main() prints last, one line per measured run


def summary_line(r: dict[str, Any]) -> str:
    """The figure in one line, as `make bench-alerts` ends."""
    p95 = r["latency"].get("p95")
    shown = "n/a" if p95 is None else f"{p95:.2f}"
    mode = "" if r["presearch"] else " (every rule searched, no pre-selection)"
    return (
        f"alerts p95 {shown} s, delivered {r['delivered_pairs']}/{r['expected_pairs']}, "
        f"duplicates {r['duplicate_deliveries']}, rules {r['rules']}, rate {r['rate']:g}/s{mode}"
    )


OPTIONS: dict[str, tuple[Any, str]] = {
    "rate": (200.0, "articles/s"),
    "seconds": (60.0, "seconds of measured sending"),
    "warmup": (20.0, "seconds of paced warm-up"),
    "rules": (1_000, "enabled keyword rules"),
    "hot_share": (0.05, "share of articles planted"),
    "windows": ("0.25,1.0", "MEDIAMON_INDEX_BATCH_SECONDS, a run each"),
    "no_matcher": (False, "skip the matcher-alone phase"),
    "presearch": ("both", "the worker's rule pre-selection: on | off | both (off first)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    code = st.main(argv, "alerts", __doc__, run, **OPTIONS)
    for line in SUMMARY:
        print(line)
    return code
