"""Whole processes on realistic articles: `mediamon enrich` against Media Cloud's path
(mcmetadata's strip_tags and languages.from_html) reading the same JSON Lines, one process
each, alternating, on one core. Articles of 2-5K characters of text in 24 languages: real
news sentences (the coverage set's dev half) mixed with text drawn from `wordfreq`'s
frequency lists (Zipf-shaped, tens of thousands of distinct words), so no cache is warm.

Run it in the peer's virtualenv (it holds wordfreq and mcmetadata; mediamon runs from its
own): docs/benchmarks/enrich.md, "Setup and run"."""

from __future__ import annotations

import html
import json
import random
import statistics
import subprocess
import sys
import tempfile
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


def _compile_bytecode(mediamon: str) -> None:
    """Compile mediamon's modules as an installed package's are: an editable install's are
    compiled on import, and where PYTHONDONTWRITEBYTECODE is set (this machine sets it) at
    every start, ~25 modules (startup 0.31 -> 0.23 s); the peer's come compiled by pip."""
    python = Path(mediamon).with_name("python")
    code = (
        "import compileall, os, connectors, mediamon, pipeline\n"
        "for m in (connectors, mediamon, pipeline):\n"
        "    compileall.compile_dir(os.path.dirname(m.__file__), quiet=1)"
    )
    subprocess.run([str(python), "-c", code], check=True)


def run(args: Any) -> dict[str, Any]:
    if args.write_corpus:
        lines = (json.dumps(c, ensure_ascii=False) + "\n" for c in make_corpus(args.articles))
        Path(args.write_corpus).write_text("".join(lines), encoding="utf-8")
        raise SystemExit(0)
    with tempfile.TemporaryDirectory() as tmp:
        path, empty = Path(tmp) / "corpus.jsonl", Path(tmp) / "empty.jsonl"
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
        empty.write_text("")
        _compile_bytecode(args.mediamon)
        pin = ["taskset", "-c", str(args.cpu)] if args.cpu >= 0 else []
        systems = {
            "mediamon enrich": [*pin, args.mediamon, "enrich"],
            "mcmetadata path": [*pin, args.peer_python, "-c", PEER],
        }
        results: dict[str, dict[str, Any]] = {name: {"passes": []} for name in systems}
        for name, command in systems.items():  # startup alone (median of 3): the first
            # run after making the corpus also warms the files, and measured 2x
            runs = [m.run_process(command, empty)[0] for _ in range(3)]
            results[name]["startup"] = sorted(runs, key=lambda r: r["cpu"])[1]
        for _ in range(args.passes):  # alternating, so a busy spell hurts both
            for name, command in systems.items():
                results[name]["passes"].append(m.run_process(command, path)[0])
    n = args.articles
    for r in results.values():
        wall = statistics.median(p["wall"] for p in r["passes"])
        cpu = statistics.median(p["cpu"] for p in r["passes"])
        r["summary"] = {
            "articles_per_s_wall": n / wall, "articles_per_s_cpu": n / cpu,
            "articles_per_s_cpu_after_startup": n / (cpu - r["startup"]["cpu"]),
            "startup_s": r["startup"]["wall"],
            "peak_rss_mb": max(p["rss_mb"] for p in r["passes"]),
        }  # fmt: skip
    mm, peer = (results[s]["summary"] for s in systems)
    return {
        "machine": m.machine_info(), "articles": n, "languages": len(LANGS),
        "chars": {"median": statistics.median(chars), "min": min(chars), "max": max(chars)},
        "results": results,
        "ratio_wall": mm["articles_per_s_wall"] / peer["articles_per_s_wall"],
        "ratio_cpu": mm["articles_per_s_cpu"] / peer["articles_per_s_cpu"],
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    return m.main(
        argv, "enrich_process", __doc__, run, articles=(2_400, "articles in the corpus"),
        passes=(5, "passes per system"),
        mediamon=(str(m.REPO / ".venv" / "bin" / "mediamon"), "mediamon's executable"),
        peer_python=(sys.executable, "the interpreter with mcmetadata"),
        cpu=(1, "pin both to this core (-1: no pin)"),
        write_corpus=(None, "only write the corpus (JSON lines) here"),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
