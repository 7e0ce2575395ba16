"""Enrich: mediamon's `Enricher.enrich` against Media Cloud's `mcmetadata` pieces (strip_tags,
languages.from_html), side by side in one process pinned to one core, on the same generated
HTML articles: articles/s, memory, stage split, output checks. Without mcmetadata installed
only mediamon is measured. Setup, method, results: docs/benchmarks/enrich.md."""

from __future__ import annotations

import os

# One core: thread pools of native libraries are fixed before anything imports numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import html  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks import measure as m  # noqa: E402

WARMUP = 50
TARGET_RATE = 2_000.0  # mediamon articles/s on one core
TARGET_RATIO = 5.0  # mediamon / peer
LANG_WEIGHTS = {"ru": 30, "en": 20, "fr": 10, "de": 10, "tr": 10, "ar": 10, "kk": 10}
SCRIPT_MARKERS = ("dataLayer", "display:flex", "shareConfig")
SHARE_LABELS = ("Facebook", "Twitter", "Telegram", "WhatsApp", "VK", "E-mail")
STYLE = (
    "<style>.share{display:flex;gap:8px;margin:12px 0}.share a{color:#333;"
    "text-decoration:none}.article p{line-height:1.5}</style>"
)
SCRIPT = (
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}"
    "gtag('js',new Date());var shareConfig={{id:'{id}',lang:'{lang}'}};"
    "if(window.innerWidth<600&&shareConfig){{document.body.className+=' m';}}</script>"
)
ENTITY_JOINS = (" &mdash; ", " &ndash; ", " &#8212; ", "&nbsp;", " &amp; ")
Runner = Callable[[Any], Any]
TABLES: list[m.Spec] = [
    ("Throughput and memory (articles/s: median of the passes)", "systems",
     ("name", "version", "wall=rate.wall", "min=rate.wall_min", "max=rate.wall_max",
      "CPU time=rate.cpu", "ms/article wall=rate.ms_wall", "load + warm-up s=load_seconds",
      "RSS added MB=rss_added_mb", "RSS alone MB=isolated_rss_mb")),
    ("Memory checkpoints (MB)", "checkpoints", ("name", "VmRSS", "VmHWM")),
    ("mediamon: stage, called alone on the same inputs", "systems.0.split",
     ("name", "CPU us/article=us", "share")),
    ("mcmetadata: stage, called alone on the same inputs", "systems.1.split",
     ("name", "CPU us/article=us", "share")),
    ("Output checks (one pass, all articles)", "systems",
     ("name", "lang as generated=checks.lang_correct",
      "script/style left=checks.script_or_style_in_text",
      "undecoded entities=checks.raw_entities_in_text", "mean text chars=checks.mean_text_chars",
      "with topics=checks.articles_with_topics")),
    ("Targets", "targets", ("name", "target", "measured", "met")),
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    lang: str  # the language the generator wrote it in
    title: str
    html: str


@dataclass
class SystemResult:
    name: str
    version: str
    available: bool = True
    load_seconds: float = 0.0
    pass_seconds: list[float] = field(default_factory=list)  # wall clock (perf_counter)
    pass_cpu_seconds: list[float] = field(default_factory=list)  # this process (process_time)
    stages: dict[str, list[float]] = field(default_factory=dict)  # CPU seconds per pass
    checks: dict[str, Any] = field(default_factory=dict)
    isolated_rss_mb: float | None = None
    rss_added_mb: float = 0.0
    note: str = ""

    def summary(self, n: int) -> dict[str, Any]:
        """The results and what follows from them: rates and the stage split per article."""
        if not self.pass_seconds:
            return vars(self) | {"version": f"missing: {self.note}"}
        wall = [n / s for s in self.pass_seconds]
        total = statistics.median(self.pass_cpu_seconds)
        split = {k: statistics.median(v) for k, v in self.stages.items()}
        what = "record, URL, story index" if self.name == "mediamon" else "glue"
        split[f"rest: {what}; stages run slower interleaved than alone"] = total - sum(
            split.values()
        )
        split["full step (timed passes, CPU time)"] = total
        rate = {"wall": statistics.median(wall), "wall_min": min(wall), "wall_max": max(wall)}
        rate |= {"cpu": statistics.median(n / s for s in self.pass_cpu_seconds)}
        rate["ms_wall"] = 1000 / rate["wall"]
        split_us = {k: {"us": v / n * 1e6, "share": f"{v / total:.0%}"} for k, v in split.items()}
        return vars(self) | {"rate": rate, "split": split_us if self.stages else {}}


def make_articles(count: int, seed: int = m.SEED) -> list[Article]:
    """`count` deterministic ~2 KB HTML news articles in a fixed language mix: style,
    script, paragraphs, links, entities, a share-buttons block."""
    rng, bank = random.Random(seed), m.sentences()

    def sentence(lang: str) -> str:
        text = rng.choice(bank[lang])
        words = html.escape(text, quote=False).split(" ")
        roll = rng.random()
        if roll < 0.25 and len(words) >= 5:
            start = rng.randrange(0, len(words) - 3)
            href = f"https://news.example/{lang}/{rng.randrange(10**6)}?utm_source=rss"
            words[start] = f'<a href="{href}">{words[start]}'
            words[start + 2] = f"{words[start + 2]}</a>"
        elif 0.25 <= roll < 0.4:
            return f"<strong>{html.escape(text, quote=False)}</strong>"
        elif 0.4 <= roll < 0.55:
            return f"&laquo;{html.escape(text[:-1], quote=False)}&raquo;."
        return " ".join(words)

    def article(index: int, lang: str, size: int = 2048) -> Article:
        article_id = f"bench-{index:05d}"
        title = " ".join(rng.choice(bank[lang]).rstrip(".").split(" ")[: rng.randint(6, 12)])
        if rng.random() < 0.2:
            title = html.escape(title) + " &mdash; " + ("LIVE" if lang != "ru" else "онлайн")
        share = "".join(
            f'<a class="share-{label.lower()}" href="https://share.example/{label.lower()}'
            f'?u=https%3A%2F%2Fnews.example%2F{article_id}&amp;t=1">{label}</a>'
            for label in SHARE_LABELS
        )
        head = STYLE + SCRIPT.format(id=article_id, lang=lang) + '<div class="article">'
        tail = (
            f'</div><div class="share-buttons share">{share}<button>Copy link</button>'
            f'<span class="count">{rng.randrange(10, 9999)}</span></div>'
        )
        h2 = rng.random() < 0.5
        body = [f"<h2>{html.escape(rng.choice(bank[lang]).rstrip('.'))}</h2>"] if h2 else []
        while len((head + "".join(body) + tail).encode()) < size - 150:
            parts = [sentence(lang) for _ in range(rng.randint(2, 3))]
            body.append("<p>" + rng.choice(ENTITY_JOINS).join(parts) + "</p>")
            body += ["<br>"] if rng.random() < 0.1 else []
        return Article(article_id, lang, title, head + "".join(body) + tail)

    langs, weights = list(LANG_WEIGHTS), list(LANG_WEIGHTS.values())
    return [article(i, rng.choices(langs, weights)[0]) for i in range(count)]


def load_mediamon(articles: Sequence[Article]) -> tuple[Callable[[], Runner], list[Any]]:
    """RawArticle inputs, and a fresh Enricher per pass: its story index starts empty."""
    from pipeline.schema import RawArticle
    from pipeline.stages.enrich import Enricher

    raws = [RawArticle(id=a.id, title=a.title, content_html=a.html) for a in articles]
    return lambda: Enricher.from_path().enrich, raws


def load_peer(articles: Sequence[Article]) -> tuple[Callable[[], Runner], list[Any]]:
    """mcmetadata's strip_tags on title and body, then languages.from_html; offline-safe."""
    # tldextract (imported by mcmetadata.urls) fetches the Public Suffix List on first use:
    # keep its cache out of $HOME and make it use the snapshot bundled in the wheel.
    cache = Path(tempfile.gettempdir()) / "mediamon-bench-tldextract"
    os.environ.setdefault("TLDEXTRACT_CACHE", str(cache))
    importlib.import_module("mcmetadata")  # first, so that a missing peer is named as such
    import tldextract.tldextract
    from mcmetadata import languages
    from mcmetadata import text as mc_text

    strip_tags: Callable[[str], str] = mc_text.strip_tags  # untyped in mcmetadata
    tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls = ()

    def run(article: Article) -> tuple[str | None, str]:
        title, text = strip_tags(article.title), strip_tags(article.html)
        return languages.from_html(article.html, f"{title}\n\n{text}"), text

    return lambda: run, list(articles)


Stages = dict[str, tuple[Callable[[Any], object], Sequence[Any]]]  # name: call, its inputs


def time_stages(stages: Stages, passes: int) -> dict[str, list[float]]:
    """CPU seconds per pass of each stage (a busy neighbour slows the wall clock more)."""
    timings: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(passes):
        for name, (call, items) in stages.items():
            gc.collect()
            start = time.process_time()
            for item in items:
                call(item)
            timings[name].append(time.process_time() - start)
    return timings


def mediamon_stages(raws: Sequence[Any]) -> Stages:
    """Each stage function of `Enricher.enrich`, called directly on the same inputs."""
    from pipeline.schema import MAX_TEXT
    from pipeline.stages.clean import html_to_text
    from pipeline.stages.dedupe import simhash
    from pipeline.stages.enrich import Enricher
    from pipeline.stages.language import detect_language

    tagger = Enricher.from_path().tagger  # the same (cached) taxonomy as the timed passes
    titles = [html_to_text(r.title, max_chars=1_000).replace("\n", " ") for r in raws]
    bodies = [html_to_text(r.content_html, max_chars=MAX_TEXT) for r in raws]
    fulls = [f"{t}\n\n{b}".strip() for t, b in zip(titles, bodies, strict=True)]
    cases = list(zip(titles, bodies, [detect_language(f).lang for f in fulls], strict=True))
    return {
        "html_to_text (clean.py)": (
            lambda r: (html_to_text(r.title, 1_000), html_to_text(r.content_html, MAX_TEXT)), raws),
        "detect_language (language.py)": (detect_language, fulls),
        "Tagger.tag (tagging.py)": (lambda c: tagger.tag(*c), cases),
        "simhash (dedupe.py)": (simhash, fulls),
    }  # fmt: skip


def peer_stages(articles: Sequence[Article]) -> Stages:
    from mcmetadata import languages
    from mcmetadata import text as mc_text

    strip_tags: Callable[[str], str] = mc_text.strip_tags
    pairs = [(a.html, f"{strip_tags(a.title)}\n\n{strip_tags(a.html)}") for a in articles]
    return {
        "strip_tags (text.py)": (lambda a: (strip_tags(a.title), strip_tags(a.html)), articles),
        "languages.from_html (languages.py)": (lambda p: languages.from_html(*p), pairs),
    }  # fmt: skip


def output_checks(articles: Sequence[Article], outputs: Sequence[tuple[Any, str]]) -> Any:
    """How the outputs look: language = generator label, script/style text left, entities."""
    return {
        "lang_correct": sum(a.lang == lang for a, (lang, _) in zip(articles, outputs, strict=True)),
        "script_or_style_in_text": sum(any(x in t for x in SCRIPT_MARKERS) for _, t in outputs),
        "raw_entities_in_text": sum("&laquo;" in t or "&mdash;" in t for _, t in outputs),
        "mean_text_chars": round(statistics.fmean(len(t) for _, t in outputs), 1),
    }  # fmt: skip


def isolated_rss(system: str, articles: int) -> float | None:
    """RSS (MB) of a fresh process that loads only `system` and warms it up."""
    cmd = [sys.executable, "-m", "benchmarks", "enrich", "--articles", str(articles)]
    try:
        done = subprocess.run([*cmd, "--load-only", system], capture_output=True, check=True)
        return float(json.loads(done.stdout.splitlines()[-1])["rss_mb"])
    except (subprocess.SubprocessError, ValueError, KeyError, IndexError):
        return None


def load(system: SystemResult, articles: list[Article]) -> tuple[Callable[[], Runner], list[Any]]:
    """Import, build inputs, warm up on WARMUP articles; the cost goes to `system`."""
    before, start = m.rss(), time.perf_counter()
    factory, inputs = (load_mediamon if system.name == "mediamon" else load_peer)(articles)
    runner = factory()
    for item in inputs[:WARMUP]:
        runner(item)
    system.load_seconds = time.perf_counter() - start
    system.rss_added_mb = m.rss() - before
    return factory, inputs


def run(count: int, passes: int, pin: bool, isolated: bool) -> dict[str, Any]:
    cpu = max(os.sched_getaffinity(0)) if pin else None
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    stage_files = sorted((m.REPO / "pipeline" / "stages").glob("*.py"))
    stage_files += sorted((m.REPO / "pipeline" / "taxonomy").glob("*"))
    code = m.file_hashes(stage_files)
    checkpoints = {"start (interpreter, script)": m.proc_memory()}
    load_before = m.loadavg()
    articles = make_articles(count)
    checkpoints["input built, before loading"] = m.proc_memory()
    mm = SystemResult("mediamon", m.versions("mediamon")["mediamon"])
    peer = SystemResult("mcmetadata", m.versions("mediacloud-metadata")["mediacloud-metadata"])
    runners = {}
    for system in (mm, peer):
        try:
            runners[system.name] = (*load(system, articles), system)
        except ImportError as exc:
            if system is mm:
                raise
            system.available, system.note = False, f"`{exc.name or exc}` not importable"
            continue
        checkpoints[f"after loading {system.name} (warm-up on {WARMUP})"] = m.proc_memory()
    for _ in range(passes):  # alternate, so drifts in machine speed hit both alike
        for factory, inputs, system in runners.values():
            runner = factory()
            gc.collect()
            cpu_start, start = time.process_time(), time.perf_counter()
            for item in inputs:
                runner(item)
            system.pass_seconds.append(time.perf_counter() - start)
            system.pass_cpu_seconds.append(time.process_time() - cpu_start)
    checkpoints[f"after {passes} timed passes"] = m.proc_memory()
    mm.stages = time_stages(mediamon_stages(runners["mediamon"][1]), passes)
    enricher = runners["mediamon"][0]()
    enriched = [enricher(raw) for raw in runners["mediamon"][1]]
    mm.checks = output_checks(articles, [(e.lang, e.text) for e in enriched])
    mm.checks["articles_with_topics"] = sum(1 for e in enriched if e.topics)
    if peer.available:
        peer.stages = time_stages(peer_stages(articles), passes)
        peer.checks = output_checks(articles, list(map(runners["mcmetadata"][0](), articles)))
    checkpoints["end (stage split and output checks done)"] = m.proc_memory()
    for system in (mm, peer) if isolated else ():
        system.isolated_rss_mb = isolated_rss(system.name, count) if system.available else None
    systems = [s.summary(count) for s in (mm, peer)]
    rates = [s["rate"] for s in systems if s["available"]]
    ratio = {k: rates[0][k] / rates[1][k] for k in ("wall", "cpu")} if peer.available else None
    dists = ("mediamon", "selectolax", "py3langid", "pymorphy3", "PyStemmer", "numpy")
    return {
        "run": {
            "articles": count, "passes": passes, "warmup": WARMUP, "seed": m.SEED, "cpu": cpu,
            "loadavg_before": load_before, "loadavg_after": m.loadavg(),
            "mean_html_bytes": statistics.fmean(len(a.html.encode()) for a in articles),
            "lang_mix": {g: sum(a.lang == g for a in articles) for g in LANG_WEIGHTS},
        },
        "machine": m.machine_info(),
        "versions": m.versions(*dists, "pydantic", "mediacloud-metadata", "tldextract"),
        "checkpoints": checkpoints, "code_sha256": code,
        "code_changed_during_run": code != m.file_hashes(stage_files),
        "systems": systems, "ratio": ratio,
        "targets": {
            "mediamon articles/s, one core (wall)": m.target(rates[0]["wall"], TARGET_RATE),
            "mediamon / peer (wall)": m.target(ratio["wall"] if ratio else None, TARGET_RATIO),
        },
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = m.parser(
        "enrich",
        __doc__,
        articles=(1000, f"generated articles (at least {WARMUP})"),
        passes=(5, "timed passes per system"),
        no_pin=(False, "do not pin to one CPU"),
        no_isolated=(False, "skip the fresh-process RSS"),
    )
    parser.add_argument("--load-only", choices=("mediamon", "mcmetadata"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_only:  # the child of isolated_rss
        articles = make_articles(args.articles)
        before = m.rss()
        load(SystemResult(args.load_only, ""), articles)
        after = m.rss()
        print(json.dumps({"rss_mb": round(after - before, 1), "total_mb": round(after, 1)}))
        return 0
    if args.articles < WARMUP or args.passes < 1:
        parser.error(f"--articles must be at least {WARMUP} and --passes at least 1")
    return m.emit(
        args, run(args.articles, args.passes, not args.no_pin, not args.no_isolated), TABLES
    )
