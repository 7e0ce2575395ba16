"""End to end under a rising load (issue 18): new items appear in local feeds, the real
connector polls them, N real workers enrich, group and index them; measured from the moment
a polled feed first served an item to the moment it is searchable.

Each item carries its whole article in the feed (~3,000 characters in 7 languages, from the
sentence bank), so no page is fetched: this measures the pipeline, not a site's answer time
(benchmarks/pages.py does that). For each worker count and each rate: the rate achieved,
latency p50/p95/p99, the cores of every process, and each stage's consumer lag at the end of
the measured window. The bottleneck is named from those: a stage whose lag is still growing
at the end, or the process that used its whole core budget. Results: docs/benchmarks/e2e.md.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import measure as m
from benchmarks import stack as st
from benchmarks.indexing import watch_visible
from benchmarks.pages import LANG_WEIGHTS, Site, generate
from pipeline import topics
from pipeline.adapters.kafka_admin import partition_offsets

# articles.tagged exists since the group stage (a --code-ref before it has none)
TAGGED = getattr(topics, "TAGGED", "articles.tagged")
STAGE_TOPICS = (topics.RAW, TAGGED, topics.ENRICHED)
WATCHED_CODE = ["connectors/rss.py", "pipeline/agents/enrich.py", "pipeline/agents/stories.py",
                "pipeline/agents/index.py", "pipeline/indexing/bulk.py"]  # fmt: skip
TABLES: list[m.Spec] = [
    ("Targets", "targets", ("name", "target", "measured", "met")),
    ("Steps: first served in a feed -> searchable", "steps",
     ("workers", "rate", "achieved", "items", "unseen", "p50", "p95", "p99", "max",
      "lag_raw", "lag_tagged", "lag_enriched", "bottleneck")),
    ("Cores used while measuring", "cores",
     ("workers", "rate", "connector", "workers_total", "elasticsearch", "kafka", "benchmark",
      "others")),
]  # fmt: skip


async def lag(settings: st.Settings) -> dict[str, int]:
    return (await stage_offsets(settings))[0]


async def stage_offsets(settings: st.Settings) -> tuple[dict[str, int], dict[str, int]]:
    """Per stage topic: the workers' consumer lag, and the records written to it so far."""
    rows = await partition_offsets(
        settings, [settings.topic(t) for t in STAGE_TOPICS], group=settings.app_id
    )
    out, written = dict.fromkeys(STAGE_TOPICS, 0), dict.fromkeys(STAGE_TOPICS, 0)
    for row in rows:
        logical = next(t for t in STAGE_TOPICS if settings.topic(t) == row.topic)
        out[logical] += row.lag if row.lag is not None else row.messages
        written[logical] += row.end
    return out, written


def bottleneck(step: dict[str, Any], cores: dict[str, float], workers: int) -> str:
    """The machine's CPU when it is spent (and which process spent most), else the stage
    that fell behind (lag at the end), else none."""
    procs = ("connector", "workers_total", "elasticsearch", "kafka")
    busiest = max(procs, key=lambda name: cores.get(name, 0.0))
    used, machine = cores.get(busiest, 0.0), cores.get("machine", 0.0)
    budget = workers if busiest == "workers_total" else 1.0
    if used >= 0.9 * budget or machine >= 1.8:
        return f"CPU: machine {machine:.2f} of 2 cores, most in {busiest} ({used:.2f})"
    behind = {"enrich": step["lag_raw"], "group": step["lag_tagged"], "index": step["lag_enriched"]}
    stage, most = max(behind.items(), key=lambda kv: kv[1])
    if step["unseen"] or most > step["rate"]:  # more than a second's worth waiting
        return f"{stage} ({most} waiting)"
    return "none"


def pipeline_env(urls: Sequence[str], args: Any) -> dict[str, str]:
    """The connector's and workers' settings: the feeds polled every `--poll-interval`, each
    item's article inline (no page fetched), no metrics ports (other stacks hold them)."""
    return {
        "MEDIAMON_FEEDS": ",".join(urls),
        "MEDIAMON_POLL_INTERVAL": str(args.poll_interval),
        "MEDIAMON_HOST_SPACING": "0",
        "MEDIAMON_FETCH_PAGES": "false",
        "MEDIAMON_FEEDS_REFUSE_PRIVATE": "false",
        "MEDIAMON_TOPIC_PARTITIONS": str(args.partitions),
        "MEDIAMON_CONNECTOR_METRICS_PORT": "0",
        "MEDIAMON_WORKER_METRICS_PORT": "0",
    }


async def start_pipeline(
    bench: st.Bench, ph: st.Phase, names: Sequence[str], tag: str
) -> tuple[list[st.ServiceProcess], st.ServiceProcess]:
    """A worker per name, waited for until ready, then the connector (its state file and
    log named by `tag`); all stopped when the phase ends."""
    ph.env["MEDIAMON_CONNECTOR_STATE_PATH"] = str(bench.logs / f"c{tag}.sqlite")
    procs = [ph.worker(name) for name in names]

    def ready() -> bool:
        return all("Worker ready" in p.tail(500) for p in procs)

    await st.wait_until(ready, 180, procs[0], "every worker ready")
    connector = st.ServiceProcess(
        "connector", ["connectors", "run"], ph.env, bench.logs / f"connector-{tag}.log"
    ).start()
    ph.workers.append(connector)
    return procs, connector


async def step(
    bench: st.Bench, site: Site, urls: list[str], workers: int, rate: float, args: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    env = pipeline_env(urls, args)
    async with bench.phase(f"e2e{workers}w{int(rate)}", **env) as ph:
        names = [f"e2e-{workers}w-{rate:g}-{n}" for n in range(workers)]
        procs, connector = await start_pipeline(bench, ph, names, f"{workers}-{rate:g}")
        site.flight = st.Flight()
        m.progress(f"{workers} worker(s), {rate:g} items/s: warming up {args.warmup:g} s")
        await generate(site, rate, args.warmup)
        site.measuring = True
        done = asyncio.Event()
        watcher = asyncio.create_task(
            watch_visible(ph.es, ph.settings.articles_alias, site.flight, done)
        )
        pids = {f"worker{n}": p.proc.pid if p.proc else None for n, p in enumerate(procs)}
        meter = m.CpuMeter({**bench.pids(None), **pids})
        # the connector with its feed-parsing processes (children)
        connector_pid = connector.proc.pid if connector.proc else 0
        cpu0, tree0, t0 = meter.read(), m.tree_stats(connector_pid)[0], time.monotonic()
        m.progress(f"measuring {args.seconds:g} s")
        achieved = await generate(site, rate, args.seconds)
        took = time.monotonic() - t0
        cores = m.CpuMeter.cores(cpu0, meter.read(), took)
        cores["connector"] = round((m.tree_stats(connector_pid)[0] - tree0) / took, 2)
        cores["others"] = round(cores["others"] - cores["connector"], 2)
        cores["workers_total"] = round(
            sum(v for k, v in cores.items() if k.startswith("worker")), 2
        )
        lags = await lag(ph.settings)
        site.measuring = False
        done.set()
        await watcher
        dead = [p.name for p in [*procs, connector] if not p.running]
        if dead:
            raise SystemExit(f"exited: {dead}\n{connector.tail()}\n{procs[0].tail()}")
    flight = site.flight
    seen = [(i, flight.seen[i]) for i in flight.sent if i in flight.seen]
    latency = m.stats(at - flight.sent[i] for i, at in seen)
    row: dict[str, Any] = {
        "workers": workers, "rate": rate, "achieved": round(achieved, 1),
        "items": len(flight.sent), "unseen": len(flight.sent) - len(seen),
        **{k: latency.get(k) for k in ("p50", "p95", "p99", "max")},
        "lag_raw": lags[topics.RAW], "lag_tagged": lags[TAGGED],
        "lag_enriched": lags[topics.ENRICHED],
    }  # fmt: skip
    row["bottleneck"] = bottleneck(row, cores, workers)
    return row, {"workers": workers, "rate": rate, **cores}, latency


async def run(args: Any) -> dict[str, Any]:
    site = Site(
        [f"127.1.0.{n}" for n in range(1, args.hosts + 1)], 0.0,
        st.Corpus(LANG_WEIGHTS, random.Random(m.SEED)), inline=True, feed_items=args.feed_items,
    )  # fmt: skip
    urls = site.start()
    steps: list[dict[str, Any]] = []
    cores: list[dict[str, Any]] = []
    try:
        async with st.bench_stack(args.state_dir, args.reuse, args.keep) as bench:
            data = bench.header(WATCHED_CODE)
            for workers in (int(w) for w in args.workers.split(",")):
                for rate in (float(r) for r in args.rates.split(",")):
                    row, used, _ = await step(bench, site, urls, workers, rate, args)
                    steps.append(row)
                    cores.append(used)
                    m.progress(
                        f"-> p95 {row['p95']} s, unseen {row['unseen']}, {row['bottleneck']}"
                    )
    finally:
        site.stop()
    data["steps"], data["cores"] = steps, cores
    sustained = [s["achieved"] for s in steps if not s["unseen"] and (s["p95"] or 99) <= 5.0]
    at_200 = [s["p95"] for s in steps if s["rate"] == 200 and not s["unseen"]]
    data["targets"] = {
        "articles/s sustained, p95 <= 5 s": m.target(max(sustained, default=None), 1_000.0),
        "p95 s at 200 articles/s": m.target(min(at_200, default=None), 2.0, at_least=False),
    }
    data["load_after"] = m.loadavg()
    return data


def main(argv: Sequence[str] | None = None) -> int:
    return st.main(
        argv, "e2e", __doc__, run, lambda data: TABLES,
        rates=("100,200,400", "items/s per step, comma-separated, rising"),
        workers=("1,2", "worker counts, comma-separated"),
        seconds=(45.0, "seconds measured per step"),
        warmup=(15.0, "seconds of items before measuring, per step"),
        hosts=(100, "sites (loopback addresses), one feed each"),
        feed_items=(20, "newest items a feed carries (more than a poll's worth)"),
        poll_interval=(2.0, "MEDIAMON_POLL_INTERVAL"),
        partitions=(6, "MEDIAMON_TOPIC_PARTITIONS"),
    )  # fmt: skip
