"""Whole processes on realistic articles: `mediamon enrich` against Media Cloud's path
(mcmetadata's strip_tags and languages.from_html) reading the same JSON Lines, one process
each, alternating, on one core. Articles of 2-5K characters of text in 24 languages: real
news sentences (the coverage set's dev half) mixed with text drawn from `wordfreq`'s
frequency lists (Zipf-shaped, tens of thousands of distinct words), so no cache is warm.

Run it in the peer's virtualenv (it holds wordfreq and mcmetadata; mediamon runs from its
own): docs/benchmarks/enrich.md, "Setup and run"."""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import measure as m

_LANGS = "en ru ar de fr es it pt tr fa uk pl nl sv cs hu ro el bg fi he id ja zh"
LANGS = tuple(_LANGS.split())
DEV = m.REPO / "tests" / "fixtures" / "eval" / "coverage-dev.jsonl"  # never the held-out half
VOCABULARY = 30_000  # words per language drawn from, by frequency
PEER = """
import json, os, sys, tempfile
os.environ.setdefault("TLDEXTRACT_CACHE", os.path.join(tempfile.gettempdir(), "mm-tld"))
import tldextract.tldextract
from mcmetadata import languages, text as mc_text
tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls = ()
out = sys.stdout
for line in sys.stdin:
    item = json.loads(line)
    title, body = mc_text.strip_tags(item["title"]), mc_text.strip_tags(item["content"])
    lang = languages.from_html(item["content"], title + "\\n\\n" + body)
    out.write(json.dumps({"id": item["id"], "lang": lang, "text": body}) + "\\n")
"""


def _sentences(rng: random.Random, lang: str, words: list[str], weights: list[float]) -> str:
    """One sentence of 8-25 words drawn by frequency, capitalised, punctuated."""
    drawn = rng.choices(words, weights, k=rng.randint(8, 25))
    if lang in ("ja", "zh"):
        return "".join(drawn) + "。"
    text = " ".join(drawn)
    return text[:1].upper() + text[1:] + rng.choice([".", ".", ".", "?", ","])


def make_corpus(count: int, seed: int = m.SEED) -> list[dict[str, Any]]:
    import wordfreq  # the peer's virtualenv has it; mediamon does not need it

    rng = random.Random(seed)
    real: dict[str, list[dict[str, Any]]] = {}
    for item in map(json.loads, DEV.read_text(encoding="utf-8").splitlines()):
        real.setdefault(item["lang"], []).append(item)
    banks = {}
    for lang in LANGS:
        words = wordfreq.top_n_list(lang, VOCABULARY)
        # Zipf's law by rank (word_frequency would need MeCab for Japanese)
        banks[lang] = (words, [1.0 / (rank + 1) for rank in range(len(words))])
    corpus = []
    for n in range(count):
        lang = LANGS[n % len(LANGS)]
        item = rng.choice(real[lang])
        target = rng.randint(2_000, 5_000)
        paragraphs, size = [], 0
        while size < target:
            if rng.random() < 0.25:
                para = rng.choice(real[lang])["text"]
            else:
                drawn = [_sentences(rng, lang, *banks[lang]) for _ in range(rng.randint(2, 5))]
                para = " ".join(drawn)
            paragraphs.append(f"<p>{html.escape(para, quote=False)}</p>")
            size += len(para)
        extra = '<div class="share"><a href="https://share.example/x">Share</a></div>'
        script = "<script>window.dataLayer=window.dataLayer||[];</script>"
        corpus.append(
            {
                "id": f"bench-{n:05d}",
                "url": f"https://news.example/{lang}/{n}",
                "title": item["title"],
                "content": script + "".join(paragraphs) + extra,
            }
        )
    return corpus


def run_once(command: list[str], corpus: Path) -> dict[str, float]:
    """One process over the whole corpus: wall seconds, CPU seconds, peak RSS (MB)."""
    with corpus.open("rb") as stdin, open(os.devnull, "wb") as devnull:
        started = time.monotonic()
        proc = subprocess.Popen(command, stdin=stdin, stdout=devnull, cwd=m.REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed with status {status}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks enrich_process")
    parser.add_argument("--articles", type=int, default=2_400)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--mediamon", default=str(m.REPO / ".venv" / "bin" / "mediamon"))
    parser.add_argument("--peer-python", default=sys.executable)
    parser.add_argument("--cpu", type=int, default=1, help="pin both to this core (-1: no pin)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--write-corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_corpus:
        corpus = make_corpus(args.articles)
        lines = (json.dumps(c, ensure_ascii=False) + "\n" for c in corpus)
        args.write_corpus.write_text("".join(lines), encoding="utf-8")
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        # made in a child process: a fork of this one after loading wordfreq's lists would
        # start every measured process with ~800 MB of peak RSS that is not its own
        subprocess.run(
            [sys.executable, "-m", "benchmarks.enrich_process", "--write-corpus", str(path),
             "--articles", str(args.articles)],
            cwd=m.REPO, check=True,
        )  # fmt: skip
        corpus = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        chars = [len(html.unescape(c["content"])) for c in corpus]
        del corpus
        empty = Path(tmp) / "empty.jsonl"
        empty.write_text("")
        pin = ["taskset", "-c", str(args.cpu)] if args.cpu >= 0 else []
        systems = {
            "mediamon enrich": [*pin, args.mediamon, "enrich"],
            "mcmetadata path": [*pin, args.peer_python, "-c", PEER],
        }
        results: dict[str, dict[str, Any]] = {name: {"passes": []} for name in systems}
        for name, command in systems.items():  # startup alone (median of 3): the first
            # run after making the corpus also warms the files, and measured 2x
            runs = sorted((run_once(command, empty) for _ in range(3)), key=lambda r: r["cpu"])
            results[name]["startup"] = runs[1]
        for _ in range(args.passes):  # alternating, so a busy spell hurts both
            for name, command in systems.items():
                results[name]["passes"].append(run_once(command, path))
    n = args.articles
    rows = []
    for name, r in results.items():
        walls = [p["wall"] for p in r["passes"]]
        cpus = [p["cpu"] for p in r["passes"]]
        r["summary"] = {
            "articles_per_s_wall": n / statistics.median(walls),
            "articles_per_s_cpu": n / statistics.median(cpus),
            "articles_per_s_cpu_after_startup": n / (statistics.median(cpus) - r["startup"]["cpu"]),
            "startup_s": r["startup"]["wall"],
            "peak_rss_mb": max(p["rss_mb"] for p in r["passes"]),
        }
        cells = [f"{v:,.2f}" if v < 10 else f"{v:,.0f}" for v in r["summary"].values()]
        rows.append([name, *cells])
    mm, peer = (results[s]["summary"] for s in systems)
    report = {
        "machine": m.machine_info(),
        "articles": n,
        "chars": {"median": statistics.median(chars), "min": min(chars), "max": max(chars)},
        "languages": len(LANGS),
        "results": results,
        "ratio_wall": mm["articles_per_s_wall"] / peer["articles_per_s_wall"],
        "ratio_cpu": mm["articles_per_s_cpu"] / peer["articles_per_s_cpu"],
    }
    header = ["system", "articles/s wall", "articles/s CPU", "CPU after startup", "startup s",
              "peak RSS MB"]  # fmt: skip
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(row))
    print(f"ratio wall {report['ratio_wall']:.2f}x, CPU {report['ratio_cpu']:.2f}x; "
          f"text chars median {report['chars']['median']:,}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
