"""Soak (issue 18): a long run at a steady rate with 1,000 alert rules, sampled every 10 s.
The feeds, connector, workers and latency watch are benchmarks/e2e.py's (in stack.py); the
rules and the webhook benchmarks/alerts.py's, and a share of the items carries one of their planted
sentences, so alerts are delivered all along.

Every sample: the RSS of each process (the connector with its feed-parsing children, the
worker, the Elasticsearch and Kafka JVMs) from /proc, each stage's consumer lag, items put in
the feeds, written to `articles.raw` and searchable, alert deliveries. After the drain: every
item searchable exactly once (counted by id), every (rule, article) the rules find delivered
once. Verdicts: RSS flat within `--flat-pct` after the warm-up, lag bounded, nothing lost,
nothing doubled. Method and results: docs/benchmarks/soak.md."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_scan

from benchmarks import measure as m
from benchmarks import stack as st
from benchmarks.alerts import (
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    Plant,
    Receiver,
    Vocabulary,
    make_rules,
    rule_hits,
    write_rules,
)
from benchmarks.alerts import LANG_WEIGHTS as RULE_LANGS
from benchmarks.pages import LANG_WEIGHTS
from pipeline import topics

STAGES = {topics.RAW: "enrich", st.TAGGED: "group", topics.ENRICHED: "index"}  # input -> stage
QUIET_SECONDS = 5.0  # the drain ends when everything is searchable and no alert came for this
REF_WINDOW = 60.0  # seconds of samples averaged for the warm-up's and the end's RSS
# the options that are not the run's settings: the stack's, the output's
NOT_SETTINGS = ("state_dir", "code_ref", "reuse", "keep", "save_json")


@dataclass
class PlantingCorpus(st.Corpus):
    """Hands the site a plant's language and, with its paragraphs, the plant's sentence
    (benchmarks/alerts.py's hot rules find it)."""

    plants: list[Plant] = field(default_factory=list)
    hot_share: float = 0.0
    current: Plant | None = None

    def lang(self) -> str:
        hot = self.plants and self.rng.random() < self.hot_share
        self.current = self.rng.choice(self.plants) if hot else None
        return self.current.lang if self.current else super().lang()

    def paragraphs(self, lang: str, size: int) -> list[list[str]]:
        out = super().paragraphs(lang, size)
        if self.current is not None:
            para = self.rng.choice(out)
            para.insert(self.rng.randint(0, len(para)), self.current.sentence)
            self.current = None
        return out


# The verdicts: pure functions of the samples (tests/unit/test_soak.py)


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 1) if values else math.nan


def flatness(
    points: Sequence[tuple[float, float]], warmup: float, end: float, limit_pct: float,
    window: float = REF_WINDOW,
) -> dict[str, Any]:  # fmt: skip
    """RSS over (t, MB) samples: the warm-up's value (mean of the `window` seconds before
    `warmup`), the end's (the last `window` seconds up to `end`), the change between them,
    and the largest deviation of any sample from `warmup` to `end` from the warm-up's value.
    Flat: that deviation within `limit_pct`."""
    window = min(window, warmup) or 1.0
    ref = _mean([v for t, v in points if warmup - window < t <= warmup])
    last = _mean([v for t, v in points if end - window < t <= end])
    after = [v for t, v in points if warmup <= t <= end]
    if not after or not ref or math.isnan(ref):
        return {"warmup_mb": ref, "end_mb": last, "change_pct": None, "max_dev_pct": None,
                "min_mb": None, "max_mb": None, "flat": None}  # fmt: skip
    dev = max(abs(v - ref) for v in after) / ref * 100
    return {
        "warmup_mb": ref, "end_mb": last, "change_pct": round((last - ref) / ref * 100, 1),
        "max_dev_pct": round(dev, 1), "min_mb": min(after), "max_mb": max(after),
        "flat": dev <= limit_pct,
    }  # fmt: skip


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (t seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    ts, vs = [p[0] for p in points], [p[1] for p in points]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    den = sum((t - mt) ** 2 for t in ts)
    return round(sum((t - mt) * (v - mv) for t, v in zip(ts, vs, strict=True)) / den * 60, 2)


def boundedness(
    points: Sequence[tuple[float, float]], warmup: float, end: float, floor: float
) -> dict[str, Any]:
    """Consumer lag over (t, records) samples. Bounded: after the warm-up, the second half's
    highest lag is no more than `floor` records (a few seconds of input) or 1.5 times the
    first half's: a lag that keeps growing fails, a lag that comes and goes does not."""
    after = [(t, v) for t, v in points if warmup <= t <= end]
    mid = (warmup + end) / 2
    first = max((v for t, v in after if t < mid), default=0.0)
    second = max((v for t, v in after if t >= mid), default=0.0)
    return {
        "max": max((v for _, v in points), default=0.0),
        "max_after_warmup": max((v for _, v in after), default=0.0),
        "first_half_max": first, "second_half_max": second, "slope_per_min": slope(after),
        "at_end": after[-1][1] if after else None,
        "bounded": bool(after) and second <= max(floor, 1.5 * first),
    }  # fmt: skip


# Sampling


@dataclass
class Watched:
    """What a sample reads: the processes, the namespace, the site, the webhook."""

    pids: dict[str, int]  # name -> pid (the connector's and workers' trees are followed)
    settings: st.Settings
    es: AsyncElasticsearch
    site: st.Site
    receiver: Receiver
    t0: float  # monotonic start of the items
    cpu: dict[str, float] = field(default_factory=dict)
    last: float = 0.0

    def trees(self) -> list[str]:  # the connector's parse workers are its children
        return [n for n in self.pids if n == "connector" or n.startswith("worker")]

    async def sample(self, phase: str) -> dict[str, Any]:
        now, trees = time.monotonic(), self.trees()
        procs = {n: m.descendants(pid) if n in trees else [pid] for n, pid in self.pids.items()}
        mem = {name: m.memory(pids) for name, pids in procs.items()}
        cpu = m.CpuMeter(dict(self.pids), trees).read()
        # "others": the other sessions and stacks sharing the machine
        cores = m.CpuMeter.cores(self.cpu, cpu, now - self.last) if self.cpu else {}
        self.cpu, self.last = cpu, now
        lag, written = await st.stage_offsets(self.settings)
        count = await self.es.count(index=self.settings.articles_alias)
        site, receiver = self.site, self.receiver
        with receiver.lock:
            posts, pairs = receiver.posts, len(receiver.first)
            doubled = sum(c - 1 for c in receiver.copies.values())
        return {
            "t": round(now - self.t0, 1), "phase": phase,
            "rss_mb": {k: v["rss"] for k, v in mem.items()},
            "anon_mb": {k: v["anon"] for k, v in mem.items()},
            "processes": {k: len(v) for k, v in procs.items()}, "cores": cores,
            "lag": {STAGES[k]: v for k, v in lag.items()},
            "added": len(site.added), "served": len(site.flight.sent),
            "raw_written": written[topics.RAW], "searchable": int(count["count"]),
            "seen": len(site.flight.seen), "alert_posts": posts, "alert_pairs": pairs,
            "alert_copies_doubled": doubled,
        }  # fmt: skip


async def sampler(
    watched: Watched, every: float, out: list[dict[str, Any]], phase: list[str]
) -> None:
    """A sample every `every` seconds against the monotonic clock, until cancelled; `phase`
    holds the current phase's name (run, drain)."""
    n = 0
    while True:
        try:
            out.append(await watched.sample(phase[0]))
        except Exception as exc:  # a slow answer must not end the soak; the gap shows
            m.progress(f"sample failed: {exc!r}")
        n += 1
        await asyncio.sleep(max(0.0, watched.t0 + n * every - time.monotonic()))


# The checks after the drain


async def ids_in(es: AsyncElasticsearch, alias: str) -> Counter[str]:
    """How many documents carry each id, over every index behind the alias."""
    found: Counter[str] = Counter()
    async for hit in async_scan(es, index=alias, query={"query": {"match_all": {}}},
                                _source=False, size=5_000):  # fmt: skip
        found[hit["_id"]] += 1
    return found


async def drained(watched: Watched, quiet: float) -> bool:
    """Every item served and searchable, no stage lagging, no alert for `quiet` seconds."""
    site = watched.site
    if len(site.flight.sent) < len(site.added) or site.flight.pending:
        return False
    lag, _ = await st.stage_offsets(watched.settings)
    return not any(lag.values()) and time.time() - watched.receiver.last_at > quiet


async def alert_records(es: AsyncElasticsearch, index: str) -> list[dict[str, Any]]:
    """Every record of the alerts index: rule, article, status, and the worker's own latency
    (enrichment to handling, before delivery)."""
    await es.indices.refresh(index=index)
    fields = ["rule_id", "article_id", "status", "latency_ms"]
    query: dict[str, Any] = {"query": {"match_all": {}}}
    scan = async_scan(es, index=index, query=query, _source=fields, size=5_000)
    return [hit["_source"] async for hit in scan]


def verdicts(data: dict[str, Any], limit_pct: float) -> dict[str, Any]:
    """The issue's four criteria; the benchmark's own process is shown, not judged (it keeps
    every item's times by design)."""
    lag, items, alerts = data["lag"], data["items"], data["alerts"]
    rss = {k: v for k, v in data["rss"].items() if k != "benchmark"}
    not_flat = {k: v["max_dev_pct"] for k, v in rss.items() if not v["flat"]}
    unbounded = [k for k, v in lag.items() if not v["bounded"]]
    return {
        f"RSS of every process flat within {limit_pct:g} % after warm-up": {
            "met": not not_flat,
            "detail": "largest deviation " + ", ".join(
                f"{k} {v['max_dev_pct']} %" for k, v in rss.items()),
        },
        "consumer lag bounded": {
            "met": not unbounded,
            "detail": ", ".join(f"{k} max {v['max']:g}" for k, v in lag.items())
            + (f"; growing: {', '.join(unbounded)}" if unbounded else ""),
        },
        "nothing lost": {
            "met": not items["missing"] and not alerts["missing_pairs"],
            "detail": f"{items['missing']} of {items['added']} items not searchable, "
            f"{alerts['missing_pairs']} of {alerts['expected_pairs']} alert pairs unaccounted",
        },
        "nothing doubled": {
            "met": not items["duplicate_documents"] and not alerts["duplicate_deliveries"],
            "detail": f"{items['duplicate_documents']} duplicate documents, "
            f"{alerts['duplicate_deliveries']} duplicate deliveries",
        },
    }  # fmt: skip


def summarise(data: dict[str, Any], samples: list[dict[str, Any]], args: Any, end: float) -> None:
    """RSS flatness and lag boundedness from the samples, into `data`."""
    procs = list(samples[0]["rss_mb"]) if samples else []
    data["rss"] = {}
    for name in procs:
        rss = [(s["t"], s["rss_mb"][name]) for s in samples if name in s["rss_mb"]]
        anon = [(s["t"], s["anon_mb"][name]) for s in samples if name in s["anon_mb"]]
        flat = flatness(rss, args.warmup, end, args.flat_pct)
        anon_flat = flatness(anon, args.warmup, end, args.flat_pct)
        data["rss"][name] = flat | {
            "anon_warmup_mb": anon_flat["warmup_mb"], "anon_end_mb": anon_flat["end_mb"],
            "anon_change_pct": anon_flat["change_pct"],
        }  # fmt: skip
    # a few seconds of input (5 s) as the least lag worth calling growth
    data["lag"] = {
        stage: boundedness([(s["t"], s["lag"][stage]) for s in samples], args.warmup, end,
                           args.rate * 5)
        for stage in STAGES.values()
    }  # fmt: skip


async def run(args: Any, bench: st.Bench) -> dict[str, Any]:
    vocab = Vocabulary.load({lang: m.sentences()[lang] for lang in RULE_LANGS})
    corpus = PlantingCorpus(
        LANG_WEIGHTS, random.Random(m.SEED), plants=vocab.plants, hot_share=args.hot_share
    )
    site, env = st.inline_site(corpus, args)
    receiver = Receiver()
    samples: list[dict[str, Any]] = []
    try:
        specs = make_rules(args.rules, vocab, random.Random(m.SEED))
        path = bench.logs / "rules-soak.yaml"
        rules = write_rules(path, specs, receiver.hook)
        env["MEDIAMON_RULES_FILE"] = str(path)
        async with bench.phase("soak", **env, **{HOOK_SECRET_ENV: HOOK_SECRET}) as ph:
            names = [f"soak-{n}" for n in range(args.workers)]
            procs, connector = await st.start_pipeline(bench, ph, names, "soak")
            pids = bench.pids(procs, connector)
            site.flight, site.measuring = st.Flight(), True
            t0_wall, t0 = time.time(), time.monotonic()
            watched = Watched(pids, ph.settings, ph.es, site, receiver, t0)
            phase = ["run"]
            sampling = asyncio.create_task(sampler(watched, args.sample, samples, phase))
            done = asyncio.Event()
            watcher = asyncio.create_task(
                st.watch_visible(ph.es, ph.settings.articles_alias, site.flight, done)
            )
            m.progress(f"{args.rate:g} items/s for {args.seconds:g} s, {len(rules)} rules")
            achieved = await st.generate(site, args.rate, args.seconds)
            end = time.monotonic() - t0
            phase[0] = "drain"
            m.progress(f"items stopped ({len(site.added):,}); draining <= {args.drain:g} s")
            while time.monotonic() - t0 < end + args.drain:
                if await drained(watched, QUIET_SECONDS):
                    break
                await asyncio.sleep(1.0)
            drain_s = time.monotonic() - t0 - end
            samples.append(await watched.sample("drained"))
            sampling.cancel()
            done.set()
            await watcher
            dead = [p.name for p in [*procs, connector] if not p.running]
            m.progress("checking every id and every alert")
            await ph.es.indices.refresh(index=ph.settings.articles_alias)
            found = await ids_in(ph.es, ph.settings.articles_alias)
            truth = await rule_hits(ph.es, ph.settings.articles_alias, rules)
            records = Counter(
                (r["rule_id"], r["article_id"], r["status"])
                for r in await alert_records(ph.es, ph.settings.alerts_index)
            )
    finally:
        site.stop()
        receiver.close()
    added, flight = set(site.added), site.flight
    seen = flight.arrivals()
    data: dict[str, Any] = {}
    data["settings"] = {k: v for k, v in vars(args).items() if k not in NOT_SETTINGS}
    data["settings"] |= {"hot_rules": sum(r.plant is not None for r in specs),
                         "rules_loaded": len(rules)}  # fmt: skip
    data["items"] = {
        "added": len(added), "rate_achieved": round(achieved, 2), "served": len(flight.sent),
        "never_served": len(added - set(flight.sent)),
        "documents": sum(found.values()), "distinct_ids": len(found),
        "missing": len(added - set(found)), "duplicate_documents": sum(found.values()) - len(found),
        "unknown_ids": len(set(found) - added), "drain_seconds": round(drain_s, 1),
        "processes_exited": dead,
    }  # fmt: skip
    delivered = {p for p in receiver.first if p[1] in added}
    recorded = {(r, a) for (r, a, _) in records}
    data["alerts"] = {
        "expected_pairs": len(truth), "delivered_pairs": len(delivered & truth),
        "posts": receiver.posts,
        "duplicate_deliveries": sum(receiver.copies[p] - 1 for p in delivered),
        "bad_signatures": receiver.bad_signatures,
        "unexpected_pairs": len(delivered - truth),
        "not_delivered": len(truth - delivered),
        "not_delivered_but_recorded": len((truth - delivered) & recorded),
        # a pair neither delivered nor recorded (e.g. as another outlet's copy of a story)
        "missing_pairs": len(truth - delivered - recorded),
        "records_by_status": dict(Counter(status for (_, _, status) in records.elements())),
        "records_doubled": sum(c - 1 for c in records.values()),
    }  # fmt: skip
    data["latency"] = flight.latency(seen)
    data["latency_after_warmup"] = flight.latency(flight.arrivals(t0_wall + args.warmup))
    data["latency_windows"] = flight.windows(seen, t0_wall)
    data["samples"], data["items_stopped_s"] = samples, round(end, 1)
    summarise(data, samples, args, end)
    data["verdicts"] = verdicts(data, args.flat_pct)
    return data


def main(argv: Sequence[str] | None = None) -> int:
    return st.main(
        argv, "soak", __doc__, run,
        rate=(50.0, "items/s added to the feeds (half the maximum in docs/benchmarks/e2e.md)"),
        seconds=(1800.0, "seconds of items, warm-up included"),
        warmup=(300.0, "the first seconds, not judged (JIT, caches, heaps growing to size)"),
        sample=(10.0, "seconds between samples"),
        rules=(1_000, "enabled keyword rules (benchmarks/alerts.py's)"),
        hot_share=(0.05, "share of items planted with a sentence the hot rules find"),
        workers=(1, "workers"),
        **st.FEED_OPTIONS,
        drain=(180.0, "seconds at most, after the items stop, for everything to arrive"),
        flat_pct=(10.0, "RSS band after warm-up, percent"),
    )  # fmt: skip
