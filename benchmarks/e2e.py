"""End to end under a rising load (issue 18): new items appear in local feeds, the real
connector polls them, N real workers enrich, group and index them; measured from the moment
a polled feed first served an item to the moment it is searchable.

Each item carries its whole article in the feed (~3,000 characters in 7 languages, from the
sentence bank), so no page is fetched: this measures the pipeline, not a site's answer time
(benchmarks/pages.py does that). For each worker count and each rate: the rate achieved,
latency p50/p95/p99, the cores of every process, and each stage's consumer lag at the end of
the measured window: what limits the pipeline shows in those. Results:
docs/benchmarks/e2e.md.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from benchmarks import measure as m
from benchmarks import stack as st
from benchmarks.pages import LANG_WEIGHTS
from pipeline import topics


async def step(
    bench: st.Bench, site: st.Site, env: dict[str, str], workers: int, rate: float, args: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    async with bench.phase(f"e2e{workers}w{int(rate)}", **env) as ph:
        names = [f"e2e-{workers}w-{rate:g}-{n}" for n in range(workers)]
        procs, connector = await st.start_pipeline(bench, ph, names, f"{workers}-{rate:g}")
        # the connector with its feed-parsing processes (children)
        achieved, cores, lags = await st.measured(
            ph, site, procs, connector, args, rate, ["connector"],
            lambda: st.stage_offsets(ph.settings),
        )  # fmt: skip
    cores["workers_total"] = round(sum(v for k, v in cores.items() if k.startswith("worker")), 2)
    seen = site.flight.arrivals()
    latency = site.flight.latency(seen)
    row: dict[str, Any] = {
        "workers": workers, "rate": rate, "achieved": round(achieved, 1),
        "items": len(site.flight.sent), "unseen": len(site.flight.sent) - len(seen),
        **{k: latency.get(k) for k in ("p50", "p95", "p99", "max")},
        "lag_raw": lags[topics.RAW], "lag_tagged": lags[st.TAGGED],
        "lag_enriched": lags[topics.ENRICHED],
    }  # fmt: skip
    return row, {"workers": workers, "rate": rate, **cores}


async def run(args: Any, bench: st.Bench) -> dict[str, Any]:
    # each item's whole article in its feed: no page fetched, no spacing between requests
    corpus = st.Corpus(LANG_WEIGHTS, random.Random(m.SEED))
    site = st.Site(args.hosts, 0.0, corpus, inline=True, feed_items=args.feed_items)
    env = st.pipeline_env(site.start(), args.poll_interval, host_spacing=0, fetch_pages=False,
                          topic_partitions=args.partitions)  # fmt: skip
    steps: list[dict[str, Any]] = []
    cores: list[dict[str, Any]] = []
    try:
        for workers in (int(w) for w in args.workers.split(",")):
            for rate in (float(r) for r in args.rates.split(",")):
                row, used = await step(bench, site, env, workers, rate, args)
                steps.append(row)
                cores.append(used)
                m.progress(f"-> p95 {row['p95']} s, unseen {row['unseen']}")
    finally:
        site.stop()
    sustained = [s["achieved"] for s in steps if not s["unseen"] and (s["p95"] or 99) <= 5.0]
    at_200 = [s["p95"] for s in steps if s["rate"] == 200 and not s["unseen"]]
    return {"steps": steps, "cores": cores, "targets": {
        "articles/s sustained, p95 <= 5 s": m.target(max(sustained, default=None), 1_000.0),
        "p95 s at 200 articles/s": m.target(min(at_200, default=None), 2.0, at_least=False),
    }}  # fmt: skip


OPTIONS: dict[str, tuple[Any, str]] = {
    "rates": ("100,200,400", "items/s per step, comma-separated, rising"),
    "workers": ("1,2", "worker counts, comma-separated"),
    "seconds": (45.0, "seconds measured per step"),
    "warmup": (15.0, "seconds of items before measuring, per step"),
    **st.FEED_OPTIONS,
}


def main(argv: Sequence[str] | None = None) -> int:
    return st.main(argv, "e2e", __doc__, run, **OPTIONS)
