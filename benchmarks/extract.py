"""Article extraction as whole processes: `mediamon extract` against trafilatura 2.3 with its
defaults (`trafilatura.extract(html)`), on the 121 hand-marked pages in
tests/fixtures/extraction, alternating, 3 passes each, the median; scored with the
benchmark's own method (pipeline/extraction_score.py) on dev, held-out and all pages."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import measure as m
from pipeline.extraction_score import ground_truth, held_out_hash, score, split

PAGES = m.REPO / "tests" / "fixtures" / "extraction"
PEER = """
import gzip, json, sys
from pathlib import Path
import trafilatura
for path in sorted(Path(sys.argv[1]).glob("*.html.gz")):
    text = trafilatura.extract(gzip.open(path).read()) or ""
    print(json.dumps({"path": str(path), "text": text}, ensure_ascii=False))
"""


def texts_of(out: bytes) -> dict[str, str]:
    """Page key -> extracted text, from a process's JSON lines."""
    lines = map(json.loads, out.decode("utf-8").splitlines())
    return {Path(i["path"]).name.removesuffix(".html.gz"): i.get("text") or "" for i in lines}


def run(args: Any) -> dict[str, Any]:
    pin = ["taskset", "-c", str(args.cpu)] if args.cpu >= 0 else []
    html, venv = str(PAGES / "html"), m.REPO / ".venv" / "bin"
    systems = {
        "mediamon extract": [*pin, str(venv / "mediamon"), "extract", html],
        "trafilatura 2.3 defaults": [*pin, str(venv / "python"), "-c", PEER, html],
    }
    truth = ground_truth(PAGES)
    dev, held = split(list(truth))
    results: dict[str, dict[str, Any]] = {name: {"passes": []} for name in systems}
    texts: dict[str, dict[str, str]] = {}
    for _ in range(args.passes):  # alternating, so a busy spell hurts both
        for name, command in systems.items():
            timing, out = m.run_process(command, output=True)
            results[name]["passes"].append({k: timing[k] for k in ("wall", "cpu")})
            texts[name] = texts_of(out)
    for name, r in results.items():
        r["scores"] = {}
        for part, keys in (("dev", dev), ("held_out", held), ("all", list(truth))):
            found = score({k: truth[k] for k in keys}, texts[name])
            r["scores"][part] = {"precision": found.precision, "recall": found.recall,
                                 "f1": found.f1}  # fmt: skip
        for kind in ("wall", "cpu"):
            seconds = statistics.median(p[kind] for p in r["passes"])
            r[f"pages_per_s_{kind}"] = len(truth) / seconds
    return {
        "machine": m.machine_info(), "pages": len(truth), "dev_pages": len(dev),
        "held_out_pages": len(held), "held_out_sha256": held_out_hash(list(truth), truth),
        "results": results,
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    return m.main(
        argv, "extract", __doc__, run, passes=(3, "passes per system"),
        cpu=(1, "pin both to this core (-1: no pin)"),
    )  # fmt: skip
