"""Article extraction as whole processes: `mediamon extract` against trafilatura 2.3 with its
defaults (`trafilatura.extract(html)`), on the 121 hand-marked pages in
tests/fixtures/extraction, alternating, 3 passes each, the median; scored with the
benchmark's own method (pipeline/extraction_score.py) on dev, held-out and all pages."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
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


def run(command: list[str]) -> tuple[dict[str, float], dict[str, str]]:
    """One process: wall and CPU seconds, and page key -> extracted text."""
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=m.REPO)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed with status {status}")
    texts = {}
    for line in out.decode("utf-8").splitlines():
        item = json.loads(line)
        texts[Path(item["path"]).name.removesuffix(".html.gz")] = item.get("text") or ""
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime}, texts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks extract")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=1, help="pin both to this core (-1: no pin)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    pin = ["taskset", "-c", str(args.cpu)] if args.cpu >= 0 else []
    html = str(PAGES / "html")
    python = str(m.REPO / ".venv" / "bin" / "python")
    systems = {
        "mediamon extract": [*pin, str(m.REPO / ".venv" / "bin" / "mediamon"), "extract", html],
        "trafilatura 2.3 defaults": [*pin, python, "-c", PEER, html],
    }
    truth = ground_truth(PAGES)
    dev, held = split(list(truth))
    results: dict[str, dict[str, Any]] = {name: {"passes": []} for name in systems}
    for _ in range(args.passes):  # alternating, so a busy spell hurts both
        for name, command in systems.items():
            timing, texts = run(command)
            results[name]["passes"].append(timing)
            results[name]["texts"] = texts
    rows = []
    for name, r in results.items():
        texts = r.pop("texts")
        r["scores"] = {
            part: _row(truth, keys, texts)
            for part, keys in (("dev", dev), ("held_out", held), ("all", list(truth)))
        }
        r["pages_per_s_wall"] = len(truth) / statistics.median(p["wall"] for p in r["passes"])
        r["pages_per_s_cpu"] = len(truth) / statistics.median(p["cpu"] for p in r["passes"])
        s = r["scores"]
        rows.append(
            f"{name} | {s['all']['f1']:.4f} | {s['all']['precision']:.4f} | "
            f"{s['all']['recall']:.4f} | {s['dev']['f1']:.4f} | {s['held_out']['f1']:.4f} | "
            f"{r['pages_per_s_wall']:.1f} | {r['pages_per_s_cpu']:.1f}"
        )
    report = {
        "machine": m.machine_info(),
        "pages": len(truth),
        "dev_pages": len(dev),
        "held_out_pages": len(held),
        "held_out_sha256": held_out_hash(list(truth), truth),
        "results": results,
    }
    print("system | F1 all | precision | recall | F1 dev | F1 held-out | pages/s wall | CPU")
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


def _row(truth: dict[str, str], keys: list[str], texts: dict[str, str]) -> dict[str, float]:
    found = score({k: truth[k] for k in keys}, texts)
    return {"precision": found.precision, "recall": found.recall, "f1": found.f1}


if __name__ == "__main__":
    sys.exit(main())
