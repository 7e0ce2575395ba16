"""Story grouping on a labelled near-duplicate set: in one process (`mediamon enrich`'s
path), with one worker, and with three workers on six partitions (issue 18).

The set (tests/fixtures/stories/near-duplicates.jsonl, README beside it) has 84 stories of
four items each: the original, an agency-credited copy, a re-titled and re-dated copy, and a
copy wrapped in "read more" links to other stories and a newsletter line. Originals are sent
first, then the copies in a seeded shuffle. Scored over pairs: precision (pairs put in one
story that are one story), recall (pairs of one story put together), and whether the story
ids themselves are identical between the runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
import re
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import measure as m
from benchmarks import stack as st
from pipeline import topics
from pipeline.schema import RawArticle
from pipeline.stages.enrich import Enricher
from pipeline.taxonomy import load_taxonomy

SET = m.REPO / "tests" / "fixtures" / "stories" / "near-duplicates.jsonl"
ENRICH_LINE = re.compile(r"enrich batch=\d+ published=(\d+)")


def load() -> list[dict[str, str]]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines()]


def sending_order(items: list[dict[str, str]], seed: int = 18) -> list[dict[str, str]]:
    originals = [i for i in items if i["kind"] == "original"]
    copies = [i for i in items if i["kind"] != "original"]
    random.Random(seed).shuffle(copies)
    return originals + copies


def raw(item: dict[str, str]) -> RawArticle:
    return RawArticle(id=item["id"], title=item["title"], content_html=item["html"])


def score(labels: dict[str, str], got: dict[str, str]) -> dict[str, Any]:
    """Pairwise precision and recall of `got` (id -> story id) against `labels`."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(labels), 2):
        same, together = labels[a] == labels[b], got.get(a) == got.get(b) is not None
        tp += same and together
        fp += together and not same
        fn += same and not together
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "false_pairs": fp, "missed_pairs": fn}  # fmt: skip


def in_process(order: Sequence[dict[str, str]]) -> dict[str, str]:
    enricher = Enricher(load_taxonomy())
    return {item["id"]: enricher.enrich(raw(item)).story_id for item in order}


async def send(settings: st.Settings, items: Sequence[dict[str, str]]) -> None:
    await st.produce(settings, [(i["id"], raw(i).to_json()) for i in items], topics.RAW)


async def stories_of(ph: st.Phase) -> dict[str, str]:
    alias = ph.settings.articles_alias
    await ph.es.indices.refresh(index=alias)
    resp = await ph.es.search(index=alias, size=10_000, source_includes=["story_id"])
    return {h["_id"]: h["_source"]["story_id"] for h in resp["hits"]["hits"]}


async def on_workers(
    bench: st.Bench, workers: int, partitions: int, order: list[dict[str, str]]
) -> tuple[dict[str, str], dict[str, Any]]:
    env = {"MEDIAMON_TOPIC_PARTITIONS": str(partitions)}
    async with bench.phase(f"stories{workers}", **env) as ph:
        started = time.monotonic()
        procs = await ph.ready_workers([f"stories-{workers}w-{n}" for n in range(workers)])
        await asyncio.sleep(5)  # the group's last rebalance settles
        originals = [i for i in order if i["kind"] == "original"]
        await send(ph.settings, originals)

        async def originals_in() -> bool:
            return len(await stories_of(ph)) >= len(originals)

        async def all_in() -> bool:
            return len(await stories_of(ph)) >= len(order)

        await st.wait_until(originals_in, 180, procs[0], "the originals")
        await send(ph.settings, order[len(originals) :])
        await st.wait_until(all_in, 180, procs[0], "the copies")
        got = await stories_of(ph)
        enriched = [sum(int(x) for x in ENRICH_LINE.findall(p.log_path.read_text())) for p in procs]
        facts = {"workers": workers, "partitions": partitions,
                 "enriched_per_worker": "/".join(map(str, enriched)),
                 "seconds": round(time.monotonic() - started, 1)}  # fmt: skip
        return got, facts


async def run(args: Any, bench: st.Bench) -> dict[str, Any]:
    items = load()
    labels = {i["id"]: i["story"] for i in items}
    order = sending_order(items)
    pairs = sum(labels[a] == labels[b] for a, b in itertools.combinations(labels, 2))
    data: dict[str, Any] = {"set": [{
        "items": len(items), "stories": len(set(labels.values())), "positive_pairs": pairs,
        "sha256": hashlib.sha256(SET.read_bytes()).hexdigest(),
    }]}  # fmt: skip
    m.progress("in process")
    reference = in_process(order)
    results = [{"run": "in process (mediamon enrich)", "workers": "-", "partitions": "-",
                **score(labels, reference)}]  # fmt: skip
    runs: dict[int, dict[str, str]] = {}
    for workers in (1, 3):
        m.progress(f"{workers} worker(s) on {args.partitions} partitions")
        got, facts = await on_workers(bench, workers, args.partitions, order)
        runs[workers] = got
        results.append({"run": f"{workers} worker(s)", **facts, **score(labels, got)})
    data["results"] = results
    data["identical"] = [{
        "in_process_vs_1": runs[1] == reference, "in_process_vs_3": runs[3] == reference,
        "1_vs_3": runs[1] == runs[3],
    }]  # fmt: skip
    data["differences_1_vs_3"] = sorted(k for k in labels if runs[1].get(k) != runs[3].get(k))
    return data


def main(argv: Sequence[str] | None = None) -> int:
    return st.main(
        argv, "stories", __doc__, run,
        partitions=(6, "partitions of every topic but the group stage's"),
    )  # fmt: skip
