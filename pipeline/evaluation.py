"""Measuring the enrichment against labeled JSONL: per-topic precision/recall/F1 and language
accuracy, for mediamon and for the peers it must beat (a hand keyword list, plain py3langid)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from pipeline.stages.jsonl import read_objects, to_raw

# What a user writes first: one case-insensitive regex per topic over the raw text.
KEYWORD_PEER: dict[str, re.Pattern[str]] = {
    "syria": re.compile(r"syri|сири|сирі|suriye|سوري|سوریه|damas|дамаск", re.IGNORECASE),
    "astana_process": re.compile(r"astana|астан|أستانا|آستانه", re.IGNORECASE),
    "un": re.compile(
        r"\bUN\b|\bООН\b|united nations|\bONU\b|nations unies|vereinte|\bBM\b|birleşmiş|"
        r"الأمم المتحدة|سازمان ملل|\bБҰҰ\b",
        re.IGNORECASE,
    ),
}
LONG_TEXT = 100  # characters: below this an item counts as a headline for language accuracy


@dataclass
class LabeledItem:
    line: int
    raw: dict[str, Any]
    text: str  # title and body as plain text, for the peers
    lang: str | None
    topics: set[str] | None


@dataclass
class TopicScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class LangScore:
    right: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 1.0


@dataclass
class Report:
    system: str
    topics: dict[str, TopicScore] = field(default_factory=dict)
    lang_long: LangScore = field(default_factory=LangScore)
    lang_short: LangScore = field(default_factory=LangScore)
    # per labeled language: the topic scores on its items, and its language accuracy
    by_lang: dict[str, dict[str, TopicScore]] = field(default_factory=dict)
    lang_by_lang: dict[str, LangScore] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "topics": {
                t: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "tp": s.tp,
                    "fp": s.fp,
                    "fn": s.fn,
                }
                for t, s in sorted(self.topics.items())
            },
            "lang_accuracy_long": self.lang_long.accuracy if self.lang_long.total else None,
            "lang_accuracy_short": self.lang_short.accuracy if self.lang_short.total else None,
            "lang_items": {"long": self.lang_long.total, "short": self.lang_short.total},
            "by_lang": {
                lang: {
                    "topics": {
                        t: {"f1": s.f1, "fp": s.fp, "fn": s.fn}
                        for t, s in self.by_lang.get(lang, {}).items()
                    },
                    "lang_accuracy": (
                        self.lang_by_lang[lang].accuracy if lang in self.lang_by_lang else None
                    ),
                }
                for lang in sorted(self.by_lang.keys() | self.lang_by_lang.keys())
            },
        }


BODY_FIELDS = ("summary", "content", "text")


def load_labeled(path: Path, headlines: bool = False) -> list[LabeledItem]:
    """Items with any of title/summary/content/text and labels `lang` and/or `topics`; an
    optional `lang_hint` is passed on as the feed's language. With `headlines`, each item is
    its title alone (what a feed that carries only headlines gives), labels unchanged."""
    items = []
    for number, obj in read_objects(path):
        if headlines:
            obj = {k: v for k, v in obj.items() if k not in BODY_FIELDS}
        text = "\n".join(str(obj.get(k) or "") for k in ("title", "summary", "content", "text"))
        topics = obj.get("topics")
        items.append(
            LabeledItem(
                number,
                obj,
                text.strip(),
                obj.get("lang"),
                set(topics) if isinstance(topics, list) else None,
            )
        )
    return items


def score(
    system: str,
    items: Iterable[LabeledItem],
    predict: Callable[[LabeledItem], tuple[str | None, set[str] | None]],
    topic_ids: Iterable[str],
) -> Report:
    report = Report(system, topics={t: TopicScore() for t in topic_ids})
    for item in items:
        lang, topics = predict(item)
        if item.lang and lang is not None:
            bucket = report.lang_long if len(item.text) >= LONG_TEXT else report.lang_short
            bucket.total += 1
            per_lang = report.lang_by_lang.setdefault(item.lang, LangScore())
            per_lang.total += 1
            if lang == item.lang:
                bucket.right += 1
                per_lang.right += 1
            else:
                bucket.misses.append(f"line {item.line}: {item.lang} -> {lang}")
        if item.topics is not None and topics is not None:
            lang_scores = report.by_lang.setdefault(
                item.lang or "und", {t: TopicScore() for t in report.topics}
            )
            for topic_id, s in report.topics.items():
                truth, guess = topic_id in item.topics, topic_id in topics
                for target in (s, lang_scores[topic_id]):
                    target.tp += truth and guess
                    target.fp += guess and not truth
                    target.fn += truth and not guess
                if truth != guess:
                    report.errors.append(
                        f"line {item.line} {topic_id}: {'missed' if truth else 'false'} "
                        f"({item.raw.get('id', '')})"
                    )
    return report


def mediamon_predictor(
    enricher: Any,
) -> Callable[[LabeledItem], tuple[str | None, set[str] | None]]:
    """mediamon's answer for an item, through the same input path as `mediamon enrich`
    (a labeled item's `text` counts as its content; `lang_hint` is the feed's language)."""

    def predict(item: LabeledItem) -> tuple[str | None, set[str] | None]:
        keys = ("id", "url", "title", "summary", "content", "lang_hint")
        obj = {k: item.raw.get(k) for k in keys}
        obj["content"] = obj["content"] or item.raw.get("text") or ""
        result = enricher.enrich(to_raw({k: v for k, v in obj.items() if v}))
        return result.lang, set(result.topics)

    return predict


def keyword_peer(item: LabeledItem) -> tuple[str | None, set[str] | None]:
    return None, {t for t, rx in KEYWORD_PEER.items() if rx.search(item.text)}


def py3langid_peer(item: LabeledItem) -> tuple[str | None, set[str] | None]:
    global _PEER_LANGID
    if _PEER_LANGID is None:
        _PEER_LANGID = LanguageIdentifier.from_model_file(MODEL_FILE)
    lang, _ = _PEER_LANGID.classify(item.text)
    return str(lang), None


_PEER_LANGID: Any = None
