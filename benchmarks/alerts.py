"""Alert latency benchmark: `articles.enriched` -> the real worker (index, match 1,000 rules,
deliver) -> a local webhook, on a local stack.

    .venv/bin/python benchmarks/alerts.py [--rate 200] [--seconds 60] [--warmup 20]
        [--rules 1000] [--hot-share 0.05] [--windows 0.25,1.0] [--default-throttle]
        [--hook-delay 0.1] [--no-matcher] [--json] [--save PATH] [--reuse] [--keep]
        [--code-ref REF [--patch FILE]]

A benchmark, not a test: it is never collected by pytest. The target (issue): from an article
entering `articles.enriched` to the webhook receiving its alert, p95 <= 2 s with 1,000 enabled
rules at 200 articles/s. Method and results: docs/benchmark-alerts.md. About 6 minutes with
the defaults (the stack's start included).

It starts its own Kafka and Elasticsearch through `deploy.stack.Stack` (state in
/tmp/mediamon-bench-alerts, ports 39092/39093 and 39200/39300: the demo, the test stack and
the indexing benchmark use 9xxx, 19xxx and 29xxx) unless `--reuse` is given, and stops them
unless `--keep` is given. Every phase has a fresh namespace (`MEDIAMON_NAMESPACE`): its own
topics, indices, consumer group and alerts state, deleted when the phase ends.

Input (fixed seed):
- 1,000 enabled keyword rules in ru en tr fr de ar: words, "phrases", AND/OR/NOT, wildcards,
  proximity, multilingual ORs; a third with a language filter, some with a topic filter; all
  with one HMAC-signed webhook channel to the benchmark's receiver and a throttle of 100,000
  per hour (so throttling hides no latency; `--default-throttle` adds a run with the default
  10 per hour). About 6 % of the rules are "hot": each has a sentence that is planted into
  `--hot-share` of the articles (in the rule's language, with its topic when it filters on
  one); some hot sentences are watched by two rules. The other rules use vocabulary absent
  from the article text, as most rules of a real portfolio miss most articles.
- EnrichedArticle records of about 2,000 characters built from the enrich benchmark's
  sentence bank, one story per article (so "once per story" suppresses nothing), published in
  the last hours, `enriched_at` = the send time.

Phases:
1. matcher alone (skip with `--no-matcher`): batches of 200 articles are indexed with the
   pipeline's ArticleIndexer, then timed: the refresh, `RuleMatcher.match()` (the pipeline's
   code: one `_msearch` of 200 rules per request, 5 requests in turn), and prototypes of other
   ways to run the same rules (all in one request, the 5 requests at once, named queries,
   fields limited to the batch's languages), each checked to find the same (rule, article)
   pairs; and match() for batches of 50 and 500.
2. latency, once per batch window (`MEDIAMON_INDEX_BATCH_SECONDS`, `--windows`): the worker
   (`mediamon worker`) starts; `--warmup` seconds of paced articles warm it up, and their
   alerts must arrive; then articles are produced at a paced `--rate` for `--seconds`, by a
   producer configured as Faust's (acks all, no linger), bursts every 10 ms against the clock.
   A threaded HTTP/1.1 receiver records, per (rule id, article id) of each POST, the arrival
   time (`--hook-delay`: it answers that much later, like a remote endpoint); a consumer of
   the `alerts` topic records each event's `matched_at`. Latency = arrival - send time (taken
   just before `producer.send`), split into stages by `matched_at`, the index agent's batch
   log line and the notification's `sent_at`. The expected pairs are what the rules find
   among the sent articles once everything is indexed (the same queries, run by the
   benchmark over the namespace): each must arrive exactly once.

`--code-ref REF` measures a commit instead of the working tree (people edit the working tree
while a run goes on): it is exported under the state dir, and this script and the workers
import from there. `--patch FILE` applies a diff to that export: how a proposed fix is
measured without touching the working tree. In `benchmarks/patches/`, `alerts-timing.diff`
adds durations to the worker's log lines (the report then shows them) and `alerts-fix.diff`
is the proposed matcher change (with the same timings).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import bisect
import hashlib
import hmac
import itertools
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STATE = Path("/tmp/mediamon-bench-alerts")


def export_code(argv: Sequence[str]) -> tuple[Path, str | None, str | None]:
    """With `--code-ref REF`, the code measured (here and in the workers) is that commit,
    exported under the state dir, with `--patch FILE` applied when given; without it, the
    working tree. Returns (code dir, commit, patch hash)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--code-ref")
    pre.add_argument("--patch", type=Path)
    pre.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    known, _ = pre.parse_known_args(argv)
    if known.patch and not known.code_ref:
        raise SystemExit("--patch needs --code-ref: the working tree is never patched")
    if not known.code_ref:
        return REPO, None, None
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{known.code_ref}^{{commit}}"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    patch_hash = None
    name = sha[:12]
    if known.patch:
        patch_hash = hashlib.sha256(known.patch.read_bytes()).hexdigest()[:12]
        name += f"-{patch_hash}"
    dest = known.state_dir.resolve() / "code" / name
    if not (dest / "pipeline").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "pipeline", "deploy", "connectors"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        if known.patch:
            subprocess.run(
                ["git", "apply", str(known.patch.resolve())],
                cwd=dest, check=True,
            )  # fmt: skip
    return dest, sha, patch_hash


CODE, CODE_SHA, PATCH_HASH = (
    export_code(sys.argv[1:]) if __name__ == "__main__" else (REPO, None, None)
)
sys.path.insert(0, str(CODE))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402
from elasticsearch import AsyncElasticsearch  # noqa: E402
from measure import CpuMeter, loadavg, percentile, progress, row, work_delta  # noqa: E402

from deploy.processes import ServiceProcess  # noqa: E402
from deploy.stack import Stack  # noqa: E402
from pipeline import topics  # noqa: E402
from pipeline.adapters.elastic import make_client  # noqa: E402
from pipeline.alerts.matching import RuleMatcher, RulesFile  # noqa: E402
from pipeline.alerts.rules import KeywordRule, load_rules  # noqa: E402
from pipeline.indexing import ArticleIndexer  # noqa: E402
from pipeline.query import article_query  # noqa: E402
from pipeline.schema import AlertEvent, EnrichedArticle  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.worker import prepare  # noqa: E402

SEED = 20170123  # the first Astana meeting on Syria
BENCH_PORTS = {
    "MEDIAMON_KAFKA_PORT": "39092",
    "MEDIAMON_KAFKA_CONTROLLER_PORT": "39093",
    "MEDIAMON_ES_PORT": "39200",
    "MEDIAMON_ES_TRANSPORT_PORT": "39300",
    "MEDIAMON_KAFKA_BOOTSTRAP": "127.0.0.1:39092",
    "MEDIAMON_ES_URL": "http://127.0.0.1:39200",
}
HOOK_SECRET_ENV = "MEDIAMON_BENCH_HOOK_SECRET"
HOOK_SECRET = "bench-hook-secret"  # a local receiver's key, not a credential
TARGET_P95 = 2.0  # seconds
TARGET_RATE = 200.0  # articles/s
TARGET_RULES = 1_000
PACE_TICK = 0.01  # 200/s arrives as bursts of 2 every 10 ms
QUIET_SECONDS = 5.0  # after the last send: no new alert for this long ends the drain...
DRAIN_SECONDS = 90.0  # ...or this long after the last send
GENEROUS_THROTTLE = {"max": 100_000, "window": "1h"}
LANG_WEIGHTS = {"ru": 30, "en": 25, "tr": 12, "ar": 11, "fr": 11, "de": 11}
TOPICS = ("syria", "astana_process", "un")  # the default taxonomy's topic ids
RULES_PER_REQUEST = 200  # pipeline/alerts/matching.py
BATCH_LINE = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\d+\] \[\w+\] "
    r"index batch=(\d+) .*?alerts=(\d+)",
    re.M,
)
# t_name=seconds fields that an instrumented copy (--patch) adds to the worker's log lines
TIMED_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] .*\bt_\w+=.*$", re.M)
TIMING_FIELD = re.compile(r"\b(t_\w+)=([\d.]+)")
WATCHED_CODE = (
    "pipeline/agents/index.py",
    "pipeline/agents/alerts.py",
    "pipeline/alerts/matching.py",
    "pipeline/alerts/delivery.py",
    "pipeline/indexing.py",
    "pipeline/query.py",
)


# ---------------------------------------------------------------------------------------------
# Vocabulary. Cold terms do not occur in the sentence bank (checked at start-up); hot terms
# occur only in their planted sentences.


def load_sentences() -> dict[str, tuple[str, ...]]:
    """The sentence bank of the enrich benchmark (~40 sentences per language about Syria and
    the Astana talks), read as a literal: importing that script would run its set-up."""
    tree = ast.parse((REPO / "benchmarks" / "enrich.py").read_text("utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "SENTENCES"
            and node.value is not None
        ):
            bank: dict[str, tuple[str, ...]] = ast.literal_eval(node.value)
            return {lang: bank[lang] for lang in LANG_WEIGHTS}
    raise SystemExit("benchmarks/enrich.py has no SENTENCES literal")


SENTENCES = load_sentences()

# What a media-monitoring portfolio watches besides the war: economy, companies, disasters,
# sport, technology. Single words, then phrases, per language.
COLD_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "inflation", "earthquake", "wildfire", "semiconductor", "Tesla", "Boeing", "Pfizer",
        "OPEC", "Bitcoin", "layoffs", "merger", "drought", "vaccine", "cyberattack",
        "ransomware", "Olympics", "Microsoft", "Nvidia", "lithium", "recession", "bankruptcy",
        "tariffs", "heatwave", "hurricane", "Eurovision", "Netflix", "cryptocurrency",
        "pandemic", "measles", "Wimbledon", "Brexit", "Volkswagen", "mortgage", "unemployment",
    ),
    "ru": (
        "инфляция", "землетрясение", "Газпром", "Роснефть", "Сбербанк", "Аэрофлот",
        "забастовка", "ипотека", "банкротство", "биткоин", "криптовалюта", "Яндекс", "Лукойл",
        "Норникель", "наводнение", "вакцинация", "рецессия", "девальвация", "Олимпиада",
        "чемпионат", "маркетплейс", "Wildberries", "безработица", "пенсии", "налоги",
        "электромобили", "импортозамещение", "металлургия", "урожай", "зерно",
    ),
    "tr": (
        "enflasyon", "deprem", "Turkcell", "seçim", "grev", "doğalgaz", "ihracat", "faiz",
        "işsizlik", "Borsa", "Galatasaray", "Fenerbahçe", "Beşiktaş", "kuraklık", "otomotiv",
        "Togg", "turizm", "kripto", "konut", "zam", "emekli", "vergi", "tarım", "altın",
    ),
    "fr": (
        "grève", "séisme", "incendie", "TotalEnergies", "Renault", "agriculteurs", "retraites",
        "chômage", "canicule", "LVMH", "Michelin", "sécheresse", "vaccination", "faillite",
        "cryptomonnaie", "Carrefour", "Danone", "SNCF", "inflation", "loyers", "impôts",
        "banlieues", "vendanges", "cyclisme",
    ),
    "de": (
        "Inflation", "Streik", "Volkswagen", "Siemens", "Energiewende", "Hochwasser",
        "Insolvenz", "Lieferkette", "Rezession", "Bundesliga", "Mindestlohn", "Wärmepumpe",
        "Heizungsgesetz", "Bürgergeld", "Lufthansa", "BASF", "Porsche", "Dürre", "Waldbrand",
        "Fachkräftemangel", "Mietpreisbremse", "Rente", "Autobahn", "Kurzarbeit",
    ),
    "ar": (
        "تضخم", "زلزال", "أرامكو", "فيضانات", "البطالة", "الذهب", "بيتكوين", "السياحة",
        "الجفاف", "الضرائب", "العقارات", "القمح", "الكهرباء", "الرواتب", "البورصة",
        "السيارات", "الهواتف", "المونديال", "التعليم",
    ),
}  # fmt: skip
COLD_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "interest rates", "central bank", "electric vehicles", "climate summit",
        "supply chain", "data breach", "World Cup", "stock market", "housing market",
        "minimum wage", "artificial intelligence", "oil prices", "trade deal",
        "general election", "space station", "gene therapy",
    ),
    "ru": (
        "ключевая ставка", "курс рубля", "цены на нефть", "искусственный интеллект",
        "материнский капитал", "единый госэкзамен", "жилищное строительство",
        "фондовый рынок",
    ),
    "tr": (
        "Merkez Bankası", "asgari ücret", "orman yangını", "dolar kuru", "yerel seçim",
        "kira artışı", "yapay zeka",
    ),
    "fr": (
        "réforme des retraites", "pouvoir d'achat", "prix de l'énergie", "Coupe du monde",
        "intelligence artificielle", "Jeux olympiques", "assurance chômage",
    ),
    "de": (
        "Deutsche Bahn", "Europäische Zentralbank", "künstliche Intelligenz",
        "erneuerbare Energien", "Schuldenbremse", "Deutschlandticket",
    ),
    "ar": (
        "البنك المركزي", "أسعار النفط", "الذكاء الاصطناعي", "كأس العالم", "سوق الأسهم",
        "الطاقة المتجددة",
    ),
}  # fmt: skip
# One concept in several languages: the multilingual ORs of real rules (the sample rule's
# "(перемирие OR ateşkes OR ceasefire)").
CONCEPTS: tuple[tuple[str, ...], ...] = (
    ("inflation", "инфляция", "enflasyon", "Inflation", "تضخم"),
    ("earthquake", "землетрясение", "deprem", "séisme", "Erdbeben", "زلزال"),
    ("strike", "забастовка", "grev", "grève", "Streik"),
    ("drought", "засуха", "kuraklık", "sécheresse", "Dürre", "الجفاف"),
    ("unemployment", "безработица", "işsizlik", "chômage", "Arbeitslosigkeit", "البطالة"),
    ("wildfire", "лесной пожар", "orman yangını", "incendie", "Waldbrand"),
    ("Bitcoin", "биткоин", "kripto", "cryptomonnaie", "Kryptowährung", "بيتكوين"),
    ("vaccine", "вакцина", "aşı", "vaccin", "Impfstoff", "لقاح"),
)


@dataclass(frozen=True)
class Plant:
    """A sentence planted into hot articles and what hot rules look for in it."""

    lang: str
    entity: str  # a company: one word or two
    context: str  # a word that follows the entity within a few positions
    alt: str  # a competitor named in OR clauses, never planted
    neg: str  # a word excluded by NOT clauses, never planted
    sentence: str


HOT: dict[str, tuple[str, tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]] = {
    # lang: (frame, ((entity, context), ...), alternatives, negations)
    "en": (
        "{E} reported higher {C} on Thursday, according to a company statement.",
        (("Maersk", "dividend"), ("Unilever", "buyback"), ("Glencore", "smelter"),
         ("Heathrow", "runway"), ("Qualcomm", "licensing"), ("Equinor", "offshore"),
         ("Vestas", "turbines"), ("Rio Tinto", "royalties")),
        ("Novartis", "Caterpillar", "Accenture"),
        ("football", "celebrity", "horoscope"),
    ),
    "ru": (
        "{E} сообщил о новых {C} в отчете за третий квартал.",
        (("Росатом", "энергоблоках"), ("Совкомфлот", "контрактах"), ("Новатэк", "танкерах"),
         ("Северсталь", "дивидендах"), ("Транснефть", "тарифах"), ("Русал", "поставках"),
         ("Камаз", "грузовиках"), ("Магнит", "гипермаркетах")),
        ("Ростелеком", "Мегафон", "Татнефть"),
        ("футбол", "гороскоп", "сериал"),
    ),
    "tr": (
        "{E} yeni {C} planını pazartesi günü açıkladı.",
        (("Aselsan", "ihale"), ("Tüpraş", "rafineri"), ("Arçelik", "buzdolabı"),
         ("Pegasus", "filo"), ("Şişecam", "yatırım"), ("Ford Otosan", "kamyonet"),
         ("Migros", "mağaza"), ("Yapı Kredi", "temettü")),
        ("Vestel", "Petkim", "Erdemir"),
        ("futbol", "magazin", "dizi"),
    ),
    "fr": (
        "{E} a annoncé de nouveaux {C} lundi, selon un communiqué.",
        (("Stellantis", "investissements"), ("Safran", "moteurs"), ("Veolia", "contrats"),
         ("Thales", "radars"), ("Engie", "tarifs"), ("Alstom", "rames"),
         ("Sanofi", "brevets"), ("Bouygues", "chantiers")),
        ("Capgemini", "Schneider", "Dassault"),
        ("football", "horoscope", "recette"),
    ),
    "de": (
        "{E} kündigte am Montag neue {C} an.",
        (("Rheinmetall", "Munitionswerke"), ("Thyssenkrupp", "Stahlwerke"),
         ("Zalando", "Logistikzentren"), ("Henkel", "Klebstoffe"),
         ("Fresenius", "Dialysezentren"), ("Infineon", "Chipfabriken"),
         ("Carl Zeiss", "Optiken"), ("Uniper", "Gasspeicher")),
        ("Covestro", "Brenntag", "Vonovia"),
        ("Fußball", "Horoskop", "Rezept"),
    ),
    "ar": (
        "أعلنت {E} عن خطة جديدة لتوسيع {C} هذا العام.",
        (("سابك", "البتروكيماويات"), ("موانئ دبي", "الحاويات"), ("معادن", "الفوسفات"),
         ("أدنوك", "المصافي"), ("الراجحي", "التمويل"), ("زين", "الاتصالات"),
         ("أوراسكوم", "الإنشاءات"), ("المراعي", "الألبان")),
        ("اتصالات", "طيران", "إعمار"),
        ("كرة", "أبراج", "مسلسل"),
    ),
}  # fmt: skip
FORMS = ("word", "and", "or", "not", "wildcard", "proximity", "phrase")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


BANK_WORDS = _words(" ".join(s for bank in SENTENCES.values() for s in bank))
BANK_TEXT = " ".join(s for bank in SENTENCES.values() for s in bank).lower()


def absent_from_bank(term: str) -> bool:
    """Conservative: no word of the term is a word of the bank, nor a prefix of one (stems
    and inflected forms)."""
    for word in _words(term):
        stem = word[: max(4, len(word) - 2)]
        if word in BANK_WORDS or any(w.startswith(stem) for w in BANK_WORDS):
            return False
    return True


def plants() -> list[Plant]:
    out = []
    for lang, (frame, pairs, alts, negs) in HOT.items():
        for n, (entity, context) in enumerate(pairs):
            out.append(
                Plant(
                    lang,
                    entity,
                    context,
                    alts[n % len(alts)],
                    negs[n % len(negs)],
                    frame.format(E=entity, C=context),
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Rules


@dataclass
class RuleSpec:
    id: str
    name: str
    query: str
    languages: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    plant: int | None = None  # index into plants(): the hot sentence this rule finds
    form: str = ""

    def as_yaml(self, throttle: dict[str, Any] | None) -> dict[str, Any]:
        rule: dict[str, Any] = {"id": self.id, "name": self.name, "query": self.query}
        if self.languages:
            rule["languages"] = self.languages
        if self.topics:
            rule["topics"] = self.topics
        rule["channels"] = ["hook"]
        if throttle:
            rule["throttle"] = throttle
        return rule


def quoted(term: str) -> str:
    return f'"{term}"' if " " in term else term


def hot_query(form: str, p: Plant) -> str:
    e = quoted(p.entity)
    if form == "wildcard" and " " not in p.entity and len(p.entity) >= 6:
        return p.entity[: len(p.entity) - 2] + "*"
    if form == "and":
        return f"{e} AND {p.context}"
    if form == "or":
        return f"({e} OR {quoted(p.alt)}) AND {p.context}"
    if form == "not":
        return f"{e} AND NOT {p.neg}"
    if form == "proximity":
        return f'"{p.entity} {p.context}"~6'
    if form == "phrase" and " " in p.entity:
        return f'"{p.entity}"'
    return f"{e} AND {p.context}" if form == "phrase" else e


def cold_query(rng: random.Random, lang: str) -> tuple[str, str]:
    words = [w for w in COLD_WORDS[lang] if absent_from_bank(w)]
    phrases = [p for p in COLD_PHRASES[lang] if absent_from_bank(p)]
    form = rng.choices(
        ("word", "phrase", "and", "or", "not", "wildcard", "proximity", "multilingual"),
        weights=(20, 16, 18, 14, 8, 8, 6, 10),
    )[0]
    a, b, c = rng.sample(words, 3)
    if form == "word":
        return form, a
    if form == "phrase":
        return form, f'"{rng.choice(phrases)}"'
    if form == "and":
        return form, f"{a} AND {rng.choice([b, quoted(rng.choice(phrases))])}"
    if form == "or":
        return form, f"({a} OR {b}) AND {c}" if rng.random() < 0.5 else f"{a} OR {b} OR {c}"
    if form == "not":
        return form, f"{a} AND NOT {b}"
    if form == "wildcard":
        long = [w for w in words if len(w) >= 7] or words
        w = rng.choice(long)
        return form, w[: max(5, len(w) - 3)] + "*"
    if form == "proximity":
        phrase = rng.choice(phrases)
        return form, f'"{phrase}"~3' if " " in phrase else f'"{a} {b}"~5'
    # "strike" and "drought" occur in the bank (air strikes, a drought in Syria): left out
    concepts = [c for c in ([t for t in c if absent_from_bank(t)] for c in CONCEPTS) if len(c) > 2]
    concept = rng.choice(concepts)
    terms = " OR ".join(quoted(t) for t in rng.sample(concept, k=min(len(concept), 4)))
    return form, f"({terms}) AND ({quoted(rng.choice(phrases))} OR {b})"


def make_rules(count: int, rng: random.Random) -> list[RuleSpec]:
    """`count` rules: one hot rule per plant, a second one for every fourth plant, the rest
    cold; shuffled, so hot rules fall into every request of the matcher's _msearch."""
    hot: list[RuleSpec] = []
    all_plants = plants()
    for n, p in enumerate(all_plants):
        forms = [FORMS[n % len(FORMS)]]
        if n % 4 == 0:
            forms.append(FORMS[(n + 3) % len(FORMS)])
        for k, form in enumerate(forms):
            spec = RuleSpec("", f"{p.entity} ({p.lang})", hot_query(form, p), plant=n, form=form)
            if (n + k) % 3 == 0:
                spec.languages = [p.lang]
            if (n + k) % 5 == 1:
                spec.topics = ["un"]  # planted articles get the topic: see Generator
            hot.append(spec)
    cold: list[RuleSpec] = []
    langs = list(LANG_WEIGHTS)
    while len(hot) + len(cold) < count:
        lang = rng.choices(langs, weights=list(LANG_WEIGHTS.values()))[0]
        form, query = cold_query(rng, lang)
        spec = RuleSpec("", f"Client {rng.randint(1, 120)}: {query[:40]}", query, form=form)
        if rng.random() < 0.3:
            spec.languages = sorted({lang, *rng.sample(langs, k=rng.randint(0, 1))})
        if rng.random() < 0.15:
            spec.topics = [rng.choice(TOPICS)]
        cold.append(spec)
    rules = hot[:count] + cold
    rng.shuffle(rules)
    for n, rule in enumerate(rules, 1):
        rule.id = f"r{n:04d}-{'hot' if rule.plant is not None else 'cold'}-{rule.form}"
    return rules


def rules_file_text(rules: list[RuleSpec], url: str, throttle: dict[str, Any] | None) -> str:
    data = {
        "channels": {"hook": {"type": "webhook", "url": url, "secret_env": HOOK_SECRET_ENV}},
        "rules": [r.as_yaml(throttle) for r in rules],
    }
    text: str = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)
    return text


# ---------------------------------------------------------------------------------------------
# Articles


@dataclass
class Generator:
    """Deterministic EnrichedArticle records; ids unique across phases of one run. A hot
    article carries one plant's sentence, in the plant's language."""

    rules: list[RuleSpec]
    hot_share: float
    rng: random.Random = field(default_factory=lambda: random.Random(SEED + 1))
    serial: int = 0
    plants: list[Plant] = field(default_factory=plants)
    planted: dict[str, int] = field(default_factory=dict)  # article id -> plant index

    def __post_init__(self) -> None:
        self.by_plant: dict[int, list[RuleSpec]] = {}
        for rule in self.rules:
            if rule.plant is not None:
                self.by_plant.setdefault(rule.plant, []).append(rule)
        self.live_plants = sorted(self.by_plant)

    def article(self) -> EnrichedArticle:
        rng = self.rng
        self.serial += 1
        plant: int | None = None
        if self.live_plants and rng.random() < self.hot_share:
            plant = rng.choice(self.live_plants)
            lang = self.plants[plant].lang
        else:
            lang = rng.choices(list(LANG_WEIGHTS), weights=list(LANG_WEIGHTS.values()))[0]
        bank = SENTENCES[lang]
        size = rng.randint(1_700, 2_400)
        paragraphs: list[list[str]] = []
        while sum(len(" ".join(p)) + 2 for p in paragraphs) < size:
            paragraphs.append([rng.choice(bank) for _ in range(rng.randint(2, 4))])
        tagged = [t for t in TOPICS if rng.random() < 0.45]
        if plant is not None:
            para = rng.choice(paragraphs)
            para.insert(rng.randint(0, len(para)), self.plants[plant].sentence)
            for rule in self.by_plant[plant]:
                tagged += [t for t in rule.topics if t not in tagged]
        text = "\n\n".join(" ".join(p) for p in paragraphs)
        now = datetime.now(UTC)
        published = now - timedelta(seconds=rng.uniform(60, 6 * 3600))
        domain = f"news{rng.randint(1, 9)}.{lang}.example"
        url = f"https://{domain}/{published:%Y/%m/%d}/{self.serial:07d}-{rng.getrandbits(32):08x}"
        article_id = hashlib.sha256(url.encode()).hexdigest()[:32]  # as canonical.article_id
        if plant is not None:
            self.planted[article_id] = plant
        return EnrichedArticle(
            id=article_id,
            url=url,
            canonical_url=url,
            domain=domain,
            feed_id=domain.split(".")[0],
            source_name=f"{lang.upper()} News {domain[4]}",
            title=rng.choice(bank).rstrip("."),
            text=text,
            lang=lang,
            lang_confidence=round(rng.uniform(0.80, 1.0), 3),
            topics=tagged,
            topic_scores={t: round(rng.uniform(1.0, 9.0), 2) for t in tagged},
            fingerprint=f"{rng.getrandbits(64):016x}",
            story_id=article_id,  # one story per article: no alert is a "story copy"
            published=published,
            fetched_at=published + timedelta(seconds=rng.uniform(30, 900)),
        )

    def batch(self, count: int) -> list[EnrichedArticle]:
        return [self.article() for _ in range(count)]

    def designed(self, article_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(rule id, article id) pairs that must match by construction."""
        return {
            (rule.id, a)
            for a in article_ids
            if a in self.planted
            for rule in self.by_plant[self.planted[a]]
        }


# ---------------------------------------------------------------------------------------------
# The webhook receiver and the alerts topic


@dataclass(frozen=True)
class Arrival:
    at: float  # wall clock when the POST reached the handler
    kind: str  # alert | digest
    note_at: float | None  # the note's `sent_at`: when the deliverer built it


class Receiver:
    """A threaded HTTP/1.1 webhook (keep-alive, as a real endpoint would be): the first
    arrival of every (rule id, article id), how many times each arrived, bad signatures."""

    def __init__(self, delay: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.first: dict[tuple[str, str], Arrival] = {}
        self.copies: Counter[tuple[str, str]] = Counter()
        self.posts = 0
        self.bad_signatures = 0
        self.last_at = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.record(at, body, self.headers.get("x-mediamon-signature", ""))
                if delay:
                    time.sleep(delay)  # a remote endpoint's round trip, after the arrival
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # the default 5 drops connections under bursts

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def record(self, at: float, body: bytes, signature: str) -> None:
        expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        note = json.loads(body)
        note_at = datetime.fromisoformat(note["sent_at"]).timestamp() if "sent_at" in note else None
        with self.lock:
            self.posts += 1
            self.last_at = at
            self.bad_signatures += not hmac.compare_digest(expected, signature)
            for article in note.get("articles", []):
                key = (note["rule"]["id"], article["id"])
                self.copies[key] += 1
                self.first.setdefault(key, Arrival(at, note["kind"], note_at))

    def has(self, pairs: set[tuple[str, str]]) -> bool:
        with self.lock:
            return all(p in self.first for p in pairs)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def watch_alert_events(
    settings: Settings, matched: dict[tuple[str, str], float], stop: asyncio.Event
) -> None:
    """Every AlertEvent on the namespace's `alerts` topic: its `matched_at` (set when the
    matcher built it, right after its rule's _msearch answered)."""
    consumer = AIOKafkaConsumer(
        settings.topic(topics.ALERTS),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for message in records:
                    event = AlertEvent.from_json(message.value)
                    key = (event.rule_id, event.article_id)
                    matched.setdefault(key, event.matched_at.timestamp())
    finally:
        await consumer.stop()


# ---------------------------------------------------------------------------------------------
# Measuring processes and the machine


def machine_info() -> dict[str, Any]:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "")
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        mem_kb = int(meminfo.readline().split()[1])
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def code_state() -> dict[str, Any]:
    """The commit measured (`--code-ref`, maybe patched), or HEAD and whether each watched
    file of the working tree differs from it: people edit pipeline/ while this runs."""
    if CODE_SHA:
        return {"head": CODE_SHA[:12], "exported": str(CODE), "patch": PATCH_HASH, "files": {}}
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    files = {}
    for rel in WATCHED_CODE:
        changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", rel], cwd=REPO)
        files[rel] = {
            "sha256": hashlib.sha256((REPO / rel).read_bytes()).hexdigest()[:12],
            "modified": changed.returncode != 0,
        }
    return {"head": head, "files": files}


def versions() -> dict[str, str]:
    out = {}
    for dist in ("faust-streaming", "aiokafka", "elasticsearch", "httpx", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def stats(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": round(percentile(ordered, 50), 3),
        "p95": round(percentile(ordered, 95), 3),
        "p99": round(percentile(ordered, 99), 3),
        "max": round(ordered[-1], 3) if ordered else math.nan,
        "mean": round(sum(ordered) / len(ordered), 3) if ordered else math.nan,
    }


# ---------------------------------------------------------------------------------------------
# Namespaces, Kafka and Elasticsearch helpers


@dataclass
class Bench:
    base_env: dict[str, str]
    logs: Path
    es_pid: int | None = None  # the server JVM, not its launcher
    kafka_pid: int | None = None

    def namespace(self, label: str, **overrides: str) -> tuple[Settings, dict[str, str]]:
        namespace = f"b{uuid.uuid4().hex[:8]}-{label}-"
        env = {**self.base_env, "MEDIAMON_NAMESPACE": namespace, **overrides}
        return settings_from(env), env

    def pids(self, worker: ServiceProcess | None) -> dict[str, int | None]:
        return {
            "worker": worker.proc.pid if worker and worker.proc else None,
            "elasticsearch": self.es_pid,
            "kafka": self.kafka_pid,
            "benchmark": os.getpid(),
        }


def settings_from(env: dict[str, str]) -> Settings:
    # as tests/integration/conftest.py does: explicit values, the MEDIAMON_ names lower-cased
    values: dict[str, Any] = {
        k.removeprefix("MEDIAMON_").lower(): v
        for k, v in env.items()
        if k.startswith("MEDIAMON_") and k != HOOK_SECRET_ENV
    }
    return Settings(**values)


async def es_work(es: AsyncElasticsearch, settings: Settings) -> dict[str, float]:
    """Elasticsearch's own accounting for the namespace (summed thread time, ms): indexing,
    refreshes and searches on the articles, indexing of alert records; and the node's GC."""
    articles, alerts, nodes = await asyncio.gather(
        es.indices.stats(index=settings.articles_alias, metric="indexing,refresh,search"),
        es.indices.stats(index=settings.alerts_index, metric="indexing"),
        es.nodes.stats(node_id="_local", metric="jvm"),
    )
    prim = articles["_all"]["primaries"]
    gc = next(iter(nodes["nodes"].values()))["jvm"]["gc"]["collectors"]
    return {
        "index_ms": prim["indexing"]["index_time_in_millis"],
        "refreshes": prim["refresh"]["total"],
        "refresh_ms": prim["refresh"]["total_time_in_millis"],
        "searches": prim["search"]["query_total"],
        "query_ms": prim["search"]["query_time_in_millis"],
        "fetch_ms": prim["search"]["fetch_time_in_millis"],
        "alert_records": alerts["_all"]["primaries"]["indexing"]["index_total"],
        "alert_index_ms": alerts["_all"]["primaries"]["indexing"]["index_time_in_millis"],
        "gc_ms": sum(c["collection_time_in_millis"] for c in gc.values()),
    }


async def drop_namespace(settings: Settings) -> None:
    """Delete the phase's indices and topics: repeated runs would otherwise fill the disk."""
    es = make_client(settings)
    try:
        # deletion by wildcard is refused (action.destructive_requires_name): name them
        found = await es.indices.get(index=f"{settings.namespace}*", features="settings")
        if found:
            await es.indices.delete(index=",".join(found))
        templates = await es.indices.get_index_template(name=f"{settings.namespace}*")
        for template in templates.get("index_templates", []):
            await es.indices.delete_index_template(name=template["name"])
    except Exception as exc:  # clean-up must not hide the results
        print(f"warning: could not delete the namespace's indices: {exc}", file=sys.stderr)
    finally:
        await es.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.namespace)]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:
        print(f"warning: could not delete the namespace's topics: {exc}", file=sys.stderr)
    finally:
        await admin.close()


def keyword_rules(path: Path) -> list[KeywordRule]:
    ruleset = load_rules(path)
    if ruleset.problems:
        raise SystemExit("the generated rules do not load:\n" + "\n".join(ruleset.problems[:10]))
    return [r for r in ruleset.enabled() if isinstance(r, KeywordRule)]


def rule_query(rule: KeywordRule, fields: list[str] | None = None) -> dict[str, Any]:
    query = article_query(rule.query, topics=rule.topics, langs=rule.languages, feeds=rule.feeds)
    if fields:
        for clause in query["bool"]["must"]:
            if "query_string" in clause:
                clause["query_string"]["fields"] = fields
    return query


async def rule_hits(
    es: AsyncElasticsearch,
    alias: str,
    rules: list[KeywordRule],
    ids: Sequence[str] = (),
    *,
    per_request: int = RULES_PER_REQUEST,
    concurrent: bool = False,
    fields: list[str] | None = None,
) -> tuple[set[tuple[str, str]], float]:
    """(rule id, article id) pairs: every rule as one search of an _msearch, `per_request`
    rules per request, as pipeline/alerts/matching.py does (without `ids`: over the whole
    alias, the ground truth). Also the summed server-side `took` in seconds."""

    async def one(chunk: list[KeywordRule]) -> tuple[set[tuple[str, str]], float]:
        searches: list[dict[str, Any]] = []
        for rule in chunk:
            query = rule_query(rule, fields)
            if ids:
                query["bool"]["filter"].append({"ids": {"values": list(ids)}})
            size = len(ids) if ids else 10_000
            searches += [{"index": alias}, {"query": query, "size": size, "_source": False}]
        resp = await es.msearch(searches=searches)
        pairs = set()
        for rule, answer in zip(chunk, resp["responses"], strict=True):
            if "error" in answer:
                raise SystemExit(f"rule {rule.id} refused: {answer['error']}")
            pairs |= {(rule.id, h["_id"]) for h in answer["hits"]["hits"]}
        return pairs, resp["took"] / 1000

    chunks = [rules[i : i + per_request] for i in range(0, len(rules), per_request)]
    if concurrent:
        results = await asyncio.gather(*(one(c) for c in chunks))
    else:
        results = [await one(c) for c in chunks]
    return set().union(*(p for p, _ in results)), sum(t for _, t in results)


async def named_hits(
    es: AsyncElasticsearch, alias: str, rules: list[KeywordRule], ids: Sequence[str], per: int
) -> tuple[set[tuple[str, str]], float]:
    """The same rules as named queries: one search per `per` rules, restricted to the batch,
    each hit listing the rules it matched (`matched_queries`). One msearch in all."""
    searches: list[dict[str, Any]] = []
    chunks = [rules[i : i + per] for i in range(0, len(rules), per)]
    for chunk in chunks:
        should = []
        for rule in chunk:
            query = rule_query(rule)
            query["bool"]["_name"] = rule.id
            should.append(query)
        body = {
            "bool": {
                "filter": [{"ids": {"values": list(ids)}}],
                "should": should,
                "minimum_should_match": 1,
            }
        }
        searches += [{"index": alias}, {"query": body, "size": len(ids), "_source": False}]
    resp = await es.msearch(searches=searches)
    pairs = set()
    for answer in resp["responses"]:
        if "error" in answer:
            raise RuntimeError(str(answer["error"])[:300])
        for hit in answer["hits"]["hits"]:
            pairs |= {(name, hit["_id"]) for name in hit.get("matched_queries", [])}
    return pairs, resp["took"] / 1000


def match_pairs(result: Any) -> set[tuple[str, str]]:
    # match() returns a list of AlertEvent, or a MatchResult whose `events` are (the volume
    # rules work in progress): either shape is measured
    events = getattr(result, "events", result)
    return {(e.rule_id, e.article_id) for e in events}


# ---------------------------------------------------------------------------------------------
# Phase 1: the matcher alone


def batch_fields(articles: Sequence[EnrichedArticle]) -> list[str]:
    """title, text and the per-language copies of the languages in the batch: the only
    fields of the default list that can hold anything for these documents."""
    langs = sorted({a.lang for a in articles})
    return ["title", "text"] + [f"{f}_{lang}" for lang in langs for f in ("title", "text")]


async def matcher_phase(
    bench: Bench, specs: list[RuleSpec], hot_share: float, batches: int
) -> dict[str, Any]:
    settings, _ = bench.namespace("match")
    await prepare(settings)
    path = bench.logs / "rules-matcher.yaml"
    path.write_text(rules_file_text(specs, "http://127.0.0.1:9/unused", GENEROUS_THROTTLE))
    rules = keyword_rules(path)
    gen = Generator(specs, hot_share, rng=random.Random(SEED + 2))
    es = make_client(settings)
    alias = settings.articles_alias
    indexer = ArticleIndexer(es, settings)
    matcher = RuleMatcher(es, settings, RulesFile(path))
    timings: dict[str, list[float]] = {}
    took: dict[str, list[float]] = {}
    agree: dict[str, bool] = {}
    errors: dict[str, str] = {}
    pairs_found = designed_missing = 0

    def note(name: str, seconds: float, server: float | None = None) -> None:
        timings.setdefault(name, []).append(seconds)
        if server is not None:
            took.setdefault(name, []).append(server)

    try:
        for n in range(batches + 1):  # the first batch warms up and is not counted
            articles = gen.batch(200)
            ids = [a.id for a in articles]
            t0 = time.perf_counter()
            await indexer.index(articles)
            t1 = time.perf_counter()
            await es.indices.refresh(index=alias)
            t2 = time.perf_counter()
            expected = match_pairs(await matcher.match(articles))
            t3 = time.perf_counter()
            if n == 0:
                continue
            note("bulk index 200 (ArticleIndexer.index)", t1 - t0)
            note("refresh", t2 - t1)
            note("RuleMatcher.match() (5 x 200 rules, in turn)", t3 - t2)
            pairs_found += len(expected)
            designed_missing += len(gen.designed(ids) - expected)
            t = time.perf_counter()
            for rule in rules:  # what the client builds and serializes before sending
                query = rule_query(rule)
                query["bool"]["filter"].append({"ids": {"values": ids}})
                json.dumps({"query": query, "size": len(ids), "_source": False})
            note("client: build + serialize 1,000 searches", time.perf_counter() - t)
            variants: list[tuple[str, Any]] = [
                ("same requests, replayed (server took)", dict()),
                ("1 request of 1,000 rules", dict(per_request=len(rules))),
                ("5 requests of 200 at once", dict(concurrent=True)),
                ("fields of the batch's languages only", dict(fields=batch_fields(articles))),
            ]
            for name, options in variants:
                t = time.perf_counter()
                got, server = await rule_hits(es, alias, rules, ids, **options)
                note(name, time.perf_counter() - t, server)
                agree[name] = agree.get(name, True) and got == expected
            for per in (10, 50):
                name = f"named queries, {per} rules per search, 1 msearch"
                t = time.perf_counter()
                try:
                    got, server = await named_hits(es, alias, rules, ids, per)
                except Exception as exc:
                    errors[name] = f"{type(exc).__name__}: {exc}"[:300]
                    continue
                note(name, time.perf_counter() - t, server)
                agree[name] = agree.get(name, True) and got == expected
        for size in (50, 500):  # how the msearch cost moves with the batch
            for _ in range(2):
                articles = gen.batch(size)
                await indexer.index(articles)
                await es.indices.refresh(index=alias)
                t = time.perf_counter()
                await matcher.match(articles)
                note(f"RuleMatcher.match() for {size} articles", time.perf_counter() - t)
    finally:
        await es.close()
    await drop_namespace(settings)
    return {
        "batches": batches,
        "rules": len(rules),
        "pairs_found": pairs_found,
        "designed_pairs_missed": designed_missing,
        "seconds": {k: stats(v) for k, v in timings.items()},
        "server_took": {k: stats(v) for k, v in took.items()},
        "same_pairs": agree,
        "errors": errors,
    }


# ---------------------------------------------------------------------------------------------
# Phase 2: end-to-end latency


@dataclass
class Flight:
    sent: dict[str, float] = field(default_factory=dict)  # article id -> wall clock
    acked: dict[str, float] = field(default_factory=dict)


async def pace(
    settings: Settings, articles: Sequence[EnrichedArticle], rate: float, flight: Flight
) -> float:
    """Send at `rate`/s in bursts against the monotonic clock, `enriched_at` = the send
    time; returns the sending seconds. The producer is configured as Faust's (acks all, no
    linger, no compression)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=0)
    await producer.start()
    topic = settings.topic(topics.ENRICHED)
    futures = []
    try:
        started = time.monotonic()
        sent = 0
        while sent < len(articles):
            due = min(len(articles), int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                article = articles[sent]
                now = time.time()
                stamped = article.model_copy(
                    update={"enriched_at": datetime.fromtimestamp(now, UTC)}
                )
                flight.sent[article.id] = now
                future = await producer.send(topic, stamped.to_json(), key=article.id.encode())
                future.add_done_callback(
                    lambda _f, i=article.id: flight.acked.setdefault(i, time.time())
                )
                futures.append(future)
                sent += 1
            await asyncio.sleep(PACE_TICK)
        seconds = time.monotonic() - started
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return seconds


async def wait_for(check: Any, limit: float, worker: ServiceProcess, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if not worker.running:
            raise SystemExit(f"the worker exited while waiting for {what}:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise SystemExit(f"no {what} after {limit:.0f}s:\n{worker.tail()}")
        await asyncio.sleep(0.5)


def worker_batches(
    log_path: Path,
    offset: int,
    start: float,
    end: float,
    sent: int,
    sent_until: float,
    ends: list[float],
) -> dict[str, Any]:
    """The index agent's batches logged between `start` and `end` (wall clock): sizes,
    alerts, and the time between consecutive batch lines (one cycle: the batch window plus
    the time the batch took); whether the agent kept up (articles still unprocessed when the
    sending stopped, and how long it took to catch up); with an instrumented copy, the
    timings it logs per batch (t_index, t_match, t_send) and per alert (t_handle, t_record).
    Appends each batch's log time to `ends`."""
    with open(log_path, "rb") as log_file:
        log_file.seek(offset)
        text = log_file.read().decode("utf-8", "replace")
    rows = []
    timings: dict[str, list[float]] = {}
    for m in BATCH_LINE.finditer(text):
        at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time
        if start <= at <= end:
            rows.append((at, int(m.group(2)), int(m.group(3))))
    for m in TIMED_LINE.finditer(text):
        at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if start <= at <= end:
            for name, value in TIMING_FIELD.findall(m.group(0)):
                timings.setdefault(name, []).append(float(value))
    ends.extend(r[0] for r in rows)
    cycles = [b[0] - a[0] for a, b in itertools.pairwise(rows)]
    done_when_sending_ended = sum(r[1] for r in rows if r[0] <= sent_until)
    total, caught_up = 0, None
    for at, size, _ in rows:  # every warm-up article was processed before `start`
        total += size
        if total >= sent:
            caught_up = round(at - sent_until, 2)
            break
    return {
        "backlog_when_sending_ended": sent - done_when_sending_ended,
        "caught_up_after_seconds": caught_up,
        "batches": len(rows),
        "size": stats([r[1] for r in rows]),
        "alerts_per_batch": stats([r[2] for r in rows]),
        "cycle_seconds": stats(cycles),
        "logged_timings": {k: stats(v) for k, v in timings.items()},
    }


async def alert_records(es: AsyncElasticsearch, settings: Settings, ids: set[str]) -> Any:
    """The alerts index's view: status counts and the worker's own latency (enrichment to
    handling, before delivery) for the measured articles."""
    await es.indices.refresh(index=settings.alerts_index)
    resp = await es.search(
        index=settings.alerts_index,
        size=10_000,
        source_includes=["article_id", "status", "latency_ms"],
        query={"match_all": {}},
    )
    docs = [h["_source"] for h in resp["hits"]["hits"] if h["_source"]["article_id"] in ids]
    return {
        "status": dict(Counter(d["status"] for d in docs)),
        "latency_ms": stats([d["latency_ms"] for d in docs if d.get("latency_ms") is not None]),
    }


async def latency_phase(
    bench: Bench, specs: list[RuleSpec], args: argparse.Namespace, window: float, default: bool
) -> dict[str, Any]:
    label = f"w{window:g}" + ("-default-throttle" if default else "")
    label += f"-hook{args.hook_delay * 1000:g}ms" if args.hook_delay else ""
    receiver = Receiver(args.hook_delay)
    path = bench.logs / f"rules-{label}.yaml"
    path.write_text(rules_file_text(specs, receiver.url, None if default else GENEROUS_THROTTLE))
    settings, env = bench.namespace(
        label.replace(".", "_"),
        MEDIAMON_RULES_FILE=str(path),
        MEDIAMON_INDEX_BATCH_SECONDS=str(window),
        **{HOOK_SECRET_ENV: HOOK_SECRET},
    )
    await prepare(settings)
    rules = keyword_rules(path)
    gen = Generator(specs, args.hot_share)
    warm = gen.batch(int(args.rate * args.warmup))
    articles = gen.batch(int(args.rate * args.seconds))
    matched: dict[tuple[str, str], float] = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_alert_events(settings, matched, stop))
    es = make_client(settings)
    worker = ServiceProcess(f"worker-{label}", ["worker"], env, bench.logs / f"worker-{label}.log")
    worker.start()
    try:
        warm_flight = Flight()
        await pace(settings, warm, args.rate, warm_flight)
        warm_pairs = gen.designed([a.id for a in warm])
        await wait_for(lambda: receiver.has(warm_pairs), 240, worker, "alerts for the warm-up")
        await asyncio.sleep(3)  # the warm-up's last batches and commits settle
        log_offset = worker.log_path.stat().st_size
        meter = CpuMeter(bench.pids(worker))
        work0, cpu0 = await es_work(es, settings), meter.read()
        flight = Flight()
        progress(f"{label}: sending {len(articles):,} articles at {args.rate:g}/s")
        send_seconds = await pace(settings, articles, args.rate, flight)
        cpu = CpuMeter.cores(cpu0, meter.read(), send_seconds)
        sent_ids = [a.id for a in articles]
        designed = gen.designed(sent_ids)
        end = time.time()
        while time.time() < end + DRAIN_SECONDS:
            if receiver.has(designed) and time.time() - receiver.last_at > QUIET_SECONDS:
                break
            await asyncio.sleep(0.5)
        work = work_delta(work0, await es_work(es, settings))
        await es.indices.refresh(index=settings.articles_alias)
        measured = set(sent_ids)
        truth = {
            p for p in (await rule_hits(es, settings.articles_alias, rules))[0] if p[1] in measured
        }
        extra_wait = time.time() + (0 if default else 20)
        while time.time() < extra_wait:  # an accidental match may still be on its way
            if receiver.has(truth):
                break
            await asyncio.sleep(0.5)
        records = await alert_records(es, settings, measured)
        first_send = flight.sent[sent_ids[0]]
        batch_ends: list[float] = []
        batches = worker_batches(
            worker.log_path, log_offset, first_send, time.time(), len(sent_ids), end, batch_ends
        )
    finally:
        stop.set()
        worker.stop()
        receiver.close()
        await es.close()
        await watcher
    await drop_namespace(settings)
    result = analyse(flight, receiver, matched, truth, designed, measured, send_seconds, batch_ends)
    return result | {
        "label": label,
        "batch_seconds": window,
        "throttle": "default (10 per 1h)" if default else "100,000 per 1h",
        "hook_delay": args.hook_delay,
        "warmup_articles": len(warm),
        "cpu_cores": cpu,
        "es_work": work,
        "worker_batches": batches,
        "alert_records": records,
        "namespace": settings.namespace,
        "worker_log": str(worker.log_path),
    }


def analyse(
    flight: Flight,
    receiver: Receiver,
    matched: dict[tuple[str, str], float],
    truth: set[tuple[str, str]],
    designed: set[tuple[str, str]],
    measured: set[str],
    send_seconds: float,
    batch_ends: list[float],
) -> dict[str, Any]:
    delivered = {p for p in receiver.first if p[1] in measured}
    alerts = {p: receiver.first[p] for p in delivered & truth if receiver.first[p].kind == "alert"}
    latency = [a.at - flight.sent[p[1]] for p, a in alerts.items()]
    from_ack = [a.at - flight.acked[p[1]] for p, a in alerts.items() if p[1] in flight.acked]
    to_match = [matched[p] - flight.sent[p[1]] for p in alerts if p in matched]
    to_note = [a.note_at - matched[p] for p, a in alerts.items() if p in matched and a.note_at]
    to_hook = [a.at - a.note_at for a in alerts.values() if a.note_at]
    # matched_at is stamped per 200-rule request, but the batch's events are produced after
    # its last request: the batch's log line (written after the produce) splits the path
    # more fairly. It is the first batch line at or after matched_at (ms resolution).
    done: dict[tuple[str, str], float] = {}
    for p in alerts:
        if p in matched:
            i = bisect.bisect_left(batch_ends, matched[p] - 0.001)
            if i < len(batch_ends):
                done[p] = batch_ends[i]
    to_done = [done[p] - flight.sent[p[1]] for p in done]
    done_to_note = [a.note_at - done[p] for p, a in alerts.items() if p in done and a.note_at]
    t0 = min(flight.sent.values())
    raw = [
        [
            round(flight.sent[p[1]] - t0, 3),
            round(matched.get(p, math.nan) - t0, 3),
            round(done.get(p, math.nan) - t0, 3),
            round((a.note_at or math.nan) - t0, 3),
            round(a.at - t0, 3),
        ]
        for p, a in sorted(alerts.items(), key=lambda kv: flight.sent[kv[0][1]])
    ]
    windows = []
    for w in range(0, int(send_seconds) + 1, 10):
        part = [lat for (_, aid), lat in zip(alerts, latency, strict=True) if
                w <= flight.sent[aid] - t0 < w + 10]  # fmt: skip
        if part:
            windows.append({"from_s": w} | stats(part))
    hot_articles = {a for _, a in designed}
    return {
        "sent": len(flight.sent),
        "rate_achieved": round(len(flight.sent) / send_seconds, 1),
        "articles_matching": len({a for _, a in truth}),
        "hot_articles": len(hot_articles),
        "expected_pairs": len(truth),
        "designed_pairs": len(designed),
        "designed_not_found": len(designed - truth),
        "accidental_pairs": len(truth - designed),
        "delivered_pairs": len(delivered & truth),
        "delivered_as_alert": len(alerts),
        "missing_pairs": len(truth - delivered),
        "unexpected_pairs": len(delivered - truth),
        "duplicate_deliveries": sum(receiver.copies[p] - 1 for p in delivered),
        "posts": receiver.posts,
        "bad_signatures": receiver.bad_signatures,
        "latency": stats(latency),
        "latency_from_ack": stats(from_ack),
        "kafka_ack": stats([flight.acked[i] - flight.sent[i] for i in flight.acked]),
        "stages": {
            "sent -> batch done (index agent: window, bulk, refresh, match, produce)": stats(
                to_done
            ),
            "batch done -> note built (alerts topic, alerts agent)": stats(done_to_note),
            "note built -> webhook (HTTP POST)": stats(to_hook),
            "(sent -> matched_at, stamped per 200-rule request)": stats(to_match),
            "(matched_at -> note built)": stats(to_note),
        },
        "windows": windows,
        # per alert, seconds from the first send: sent, matched_at, batch done, note, arrival
        "raw": raw,
    }


# ---------------------------------------------------------------------------------------------
# Report


def fmt_cores(cpu: dict[str, float] | None) -> str:
    keys = ("worker", "elasticsearch", "kafka", "benchmark", "others", "machine")
    return ", ".join(f"{k} {cpu[k]:.2f}" for k in keys if k in cpu) if cpu else ""


def verdict(data: dict[str, Any]) -> list[str]:
    lines = []
    for run in data["latency"]:
        lat = run["latency"]
        if not lat["n"]:
            lines.append(f"- {run['label']}: no alert arrived.")
            continue
        lost = run["missing_pairs"]
        met = lat["p95"] <= TARGET_P95 and not lost
        checked = run["throttle"].startswith("100,000")
        lines.append(
            f"- Batch window {run['batch_seconds']:g} s, throttle {run['throttle']}: "
            f"p50 **{lat['p50']:.2f} s**, p95 **{lat['p95']:.2f} s**, p99 {lat['p99']:.2f} s, "
            f"max {lat['max']:.2f} s over {lat['n']:,} alerts at {run['rate_achieved']:g} "
            f"articles/s; "
            + (
                f"target p95 <= {TARGET_P95:g} s: {'met' if met else 'NOT met'} "
                f"({lat['p95'] / TARGET_P95:.2f}x the limit); "
                if checked
                else ""
            )
            + f"{run['delivered_pairs']:,}/{run['expected_pairs']:,} expected alerts "
            f"delivered, {lost} missing"
            + (
                f" ({run['alert_records']['status'].get('throttled', 0)} of them throttled "
                "into the rule's hourly digest, as configured)"
                if not checked
                else ""
            )
            + f", {run['duplicate_deliveries']} duplicates."
        )
    return lines


def report(data: dict[str, Any]) -> str:
    m, s, code = data["machine"], data["settings"], data["code"]
    files = ", ".join(
        f"{k} {v['sha256']}{' (modified)' if v['modified'] else ''}"
        for k, v in code["files"].items()
    )
    out = [f"# Alert latency benchmark ({data['started']})", "", *verdict(data), ""]
    out += [
        f"- Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GB, "
        f"Linux {m['kernel']}, Python {m['python']}; load average {data['load_before']} "
        f"before, {data.get('load_after')} after (other sessions share this machine).",
        f"- Servers: Kafka {s['kafka_version']} (heap {s['kafka_heap']}), Elasticsearch "
        f"{data.get('es_version')} (heap {data.get('es_heap_mb')} MB), one node each, "
        f"{s['partitions']} partitions, 1 shard, refresh interval {s['refresh_interval']}.",
        f"- Rules: {s['rules']} enabled ({s['hot_rules']} hot), seed {s['seed']}; "
        f"articles at {s['rate']:g}/s for {s['seconds']:g} s after {s['warmup']:g} s of "
        f"warm-up, hot share {s['hot_share']:g}.",
        (
            f"- Code: commit {code['head']}"
            + (f" with patch {code['patch']}" if code.get("patch") else "")
            + f", exported to {code['exported']} (not the working tree)."
            if code.get("exported")
            else f"- Code: the working tree at HEAD {code['head']}: {files}."
        ),
        f"- Versions: {', '.join(f'{k} {v}' for k, v in data['versions'].items())}.",
        f"- Logs: {data['logs']}",
    ]
    matcher = data.get("matcher")
    if matcher:
        out += [
            "",
            f"## Matcher alone ({matcher['rules']} rules, batches of 200 articles, "
            f"{matcher['batches']} batches)",
            "",
            f"Pairs found by RuleMatcher: {matcher['pairs_found']}; designed pairs it missed: "
            f"{matcher['designed_pairs_missed']}.",
            "",
            row("step", "p50 s", "mean s", "max s", "server took p50 s", "same pairs"),
            row("---", "---:", "---:", "---:", "---:", "---"),
        ]
        for name, st in matcher["seconds"].items():
            took = matcher["server_took"].get(name, {}).get("p50", "")
            same = matcher["same_pairs"].get(name, "")
            out.append(row(name, st["p50"], st["mean"], st["max"], took, same))
        for name, err in matcher["errors"].items():
            out.append(f"\n{name}: {err}")
    out += [
        "",
        "## End to end (article sent to `articles.enriched` -> webhook POST received)",
        "",
        row(
            "run", "window s", "sent", "matching articles", "expected", "delivered",
            "missing", "dup", "p50 s", "p95 s", "p99 s", "max s", "p95 from ack",
            "batches: size p50, cycle p50/p95 s", "CPU cores",
        ),
        row("---", *["---:"] * 13, "---"),
    ]  # fmt: skip
    for r in data["latency"]:
        lat, wb = r["latency"], r["worker_batches"]
        out.append(
            row(
                r["label"],
                r["batch_seconds"],
                f"{r['sent']:,}",
                r["articles_matching"],
                r["expected_pairs"],
                r["delivered_pairs"],
                r["missing_pairs"],
                r["duplicate_deliveries"],
                lat["p50"],
                lat["p95"],
                lat["p99"],
                lat["max"],
                r["latency_from_ack"]["p95"],
                f"{wb['size']['p50']}, {wb['cycle_seconds']['p50']}/{wb['cycle_seconds']['p95']}",
                fmt_cores(r["cpu_cores"]),
            )
        )
    for r in data["latency"]:
        wb = r["worker_batches"]
        out += ["", f"### {r['label']}: where the time goes (p50 / p95 / max s)", ""]
        for name, st in r["stages"].items():
            out.append(f"- {name}: {st['p50']} / {st['p95']} / {st['max']}")
        work = r["es_work"]
        out += [
            f"- Elasticsearch during the phase: {work['searches']:,.0f} searches, query "
            f"{work['query_ms']:,.0f} ms + fetch {work['fetch_ms']:,.0f} ms; "
            f"{work['refreshes']:,.0f} refreshes, {work['refresh_ms']:,.0f} ms; indexing "
            f"{work['index_ms']:,.0f} ms; {work['alert_records']:,.0f} alert records; "
            f"GC {work['gc_ms']:,.0f} ms.",
            f"- Alerts index: {r['alert_records']['status']}; the worker's own latency_ms "
            f"(enrichment to handling) p50 {r['alert_records']['latency_ms']['p50']}, "
            f"p95 {r['alert_records']['latency_ms']['p95']}.",
            f"- Index agent: {wb['batches']} batches, size p50 {wb['size']['p50']} max "
            f"{wb['size']['max']}, cycle p50 {wb['cycle_seconds']['p50']} s; "
            f"{wb['backlog_when_sending_ended']:,} articles not yet processed when sending "
            f"ended, caught up {wb['caught_up_after_seconds']} s later.",
            f"- Hot articles {r['hot_articles']}, designed pairs {r['designed_pairs']} "
            f"({r['designed_not_found']} not found by the rules), accidental pairs "
            f"{r['accidental_pairs']}, unexpected deliveries {r['unexpected_pairs']}, "
            f"POSTs {r['posts']}, bad signatures {r['bad_signatures']}.",
            *(
                f"- Logged by the instrumented worker, {k}: p50 {v['p50']}, p95 {v['p95']}, "
                f"max {v['max']} s ({v['n']} values)"
                for k, v in r["worker_batches"]["logged_timings"].items()
            ),
            "- p50/p95 s per 10 s of sending: "
            + "; ".join(f"{w['from_s']}s {w['p50']}/{w['p95']}" for w in r["windows"]),
        ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rate", type=float, default=TARGET_RATE, help="articles/s")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of measured sending")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds of paced warm-up")
    p.add_argument("--rules", type=int, default=TARGET_RULES, help="enabled keyword rules")
    p.add_argument("--hot-share", type=float, default=0.05, help="share of articles planted")
    p.add_argument(
        "--windows",
        default="0.25,1.0",
        help="MEDIAMON_INDEX_BATCH_SECONDS values, one run each (0.25 is the default)",
    )
    p.add_argument(
        "--default-throttle",
        action="store_true",
        help="one more run (first window) with the rules' default throttle, 10 per hour",
    )
    p.add_argument(
        "--hook-delay",
        type=float,
        default=0.0,
        help="seconds the receiver waits before answering (a remote endpoint's round trip)",
    )
    p.add_argument("--no-matcher", action="store_true", help="skip the matcher-alone phase")
    p.add_argument("--matcher-batches", type=int, default=5)
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    p.add_argument("--code-ref", help="measure this commit (exported under the state dir)")
    p.add_argument("--patch", type=Path, help="with --code-ref: apply this diff to the export")
    p.add_argument("--reuse", action="store_true", help="use the running benchmark stack")
    p.add_argument("--keep", action="store_true", help="leave the stack running")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--save", type=Path, help="also write the JSON here")
    return p.parse_args(argv)


async def server_facts(settings: Settings) -> tuple[str, int]:
    es = make_client(settings)
    try:
        # the integ-test distribution answers GET / with 405: ask the node instead
        info = await es.nodes.info(node_id="_local", metric="jvm")
        node = next(iter(info["nodes"].values()))
        return str(node["version"]), int(node["jvm"]["mem"]["heap_max_in_bytes"]) // 2**20
    finally:
        await es.close()


async def run_phases(
    bench: Bench, specs: list[RuleSpec], args: argparse.Namespace, data: dict[str, Any]
) -> None:
    if not args.no_matcher:
        data["matcher"] = await matcher_phase(bench, specs, args.hot_share, args.matcher_batches)
        seconds = data["matcher"]["seconds"]
        progress("matcher: " + "; ".join(f"{k} {v['p50']}" for k, v in seconds.items()))
    windows = [float(w) for w in args.windows.split(",") if w.strip()]
    runs = [(w, False) for w in windows] + ([(windows[0], True)] if args.default_throttle else [])
    for window, default in runs:
        r = await latency_phase(bench, specs, args, window, default)
        data["latency"].append(r)
        progress(
            f"{r['label']}: latency {r['latency']}; delivered {r['delivered_pairs']}/"
            f"{r['expected_pairs']}; stages "
            + "; ".join(f"{k} p50 {v['p50']}" for k, v in r["stages"].items())
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    # the workers run `python -m mediamon.main`, which imports from the current directory
    # first: from here they run the code this script measures
    os.chdir(CODE)
    base_env = {
        **BENCH_PORTS,
        "MEDIAMON_STATE_DIR": str(args.state_dir),
        # the worker's health/metrics port (9465 by default) may be taken by another worker
        "MEDIAMON_WORKER_METRICS_PORT": "0",
    }
    base = settings_from(base_env)
    stack = Stack(base)
    logs = args.state_dir / "logs" / time.strftime("%Y%m%dT%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    specs = make_rules(args.rules, random.Random(SEED))
    data: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "load_before": loadavg(),
        "versions": versions(),
        "code": code_state(),
        "settings": {
            "kafka_version": base.kafka_version,
            "kafka_heap": base.kafka_heap,
            "es_heap": base.es_heap,
            "partitions": base.topic_partitions,
            "refresh_interval": base.es_refresh_interval,
            "index_batch_size": base.index_batch_size,
            "rules": len(specs),
            "hot_rules": sum(r.plant is not None for r in specs),
            "rule_forms": dict(Counter(r.form for r in specs)),
            "with_language_filter": sum(bool(r.languages) for r in specs),
            "with_topic_filter": sum(bool(r.topics) for r in specs),
            "rate": args.rate,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "hot_share": args.hot_share,
            "seed": SEED,
        },
        "latency": [],
        "logs": str(logs),
    }
    (logs / "rules.json").write_text(
        json.dumps([r.__dict__ for r in specs], ensure_ascii=False, indent=1)
    )
    started_here = False
    if args.reuse:
        if not all(s.healthy for s in stack.status()):
            raise SystemExit(f"--reuse: the stack in {args.state_dir} is not running")
    else:
        started_here = not any(s.running for s in stack.status())
        progress("starting Kafka and Elasticsearch" if started_here else "stack already up")
        stack.up()
    pids = {s.name: s.pid for s in stack.status()}
    bench = Bench(base_env, logs, pids.get("elasticsearch"), pids.get("kafka"))
    try:
        data["es_version"], data["es_heap_mb"] = asyncio.run(server_facts(base))
        asyncio.run(run_phases(bench, specs, args, data))
    finally:
        data["load_after"] = loadavg()
        if not args.keep and not args.reuse:
            progress("stopping the stack" + ("" if started_here else " (it was already up)"))
            stack.down()
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    (logs / "result.json").write_text(text + "\n")
    if args.save:
        args.save.write_text(text + "\n")
    print(text if args.json else report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
