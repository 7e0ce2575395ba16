"""Topic tagging: the taxonomy's per-language patterns applied to cleaned text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.taxonomy import ANY_LANGUAGE, LanguageRules, Taxonomy, fold

_FLAGS = re.IGNORECASE | re.UNICODE
MAX_EVIDENCE = 5


@dataclass(frozen=True, slots=True)
class _CompiledRules:
    any_: tuple[re.Pattern[str], ...]
    all_: tuple[tuple[re.Pattern[str], ...], ...]
    ignore: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, rules: LanguageRules) -> _CompiledRules:
        def comp(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
            return tuple(re.compile(fold(p), _FLAGS) for p in patterns)

        return cls(comp(rules.any_), tuple(comp(g) for g in rules.all_), comp(rules.ignore))

    def evidence(self, text: str) -> list[str]:
        for pattern in self.ignore:
            text = pattern.sub(" ", text)
        found: list[str] = []
        for pattern in self.any_:
            found.extend(m.group(0) for m in pattern.finditer(text))
        for group in self.all_:
            hits = [pattern.search(text) for pattern in group]
            if all(hits):
                found.extend(h.group(0) for h in hits if h)
        return found


@dataclass(frozen=True, slots=True)
class TopicMatch:
    topics: list[str]
    evidence: dict[str, list[str]] = field(default_factory=dict)


class Tagger:
    """Compiled taxonomy. Rules of the detected language (and `*`) apply; a topic without
    rules for that language falls back to all its rules, so an unexpected language still
    gets tagged rather than silently missed."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self._topics = [
            (topic.id, {lang: _CompiledRules.of(r) for lang, r in topic.rules.items()})
            for topic in taxonomy.topics
        ]

    @property
    def topic_ids(self) -> list[str]:
        return [tid for tid, _ in self._topics]

    def tag(self, text: str, lang: str) -> TopicMatch:
        folded = fold(text)
        topics: list[str] = []
        evidence: dict[str, list[str]] = {}
        for topic_id, by_lang in self._topics:
            chosen = [r for code, r in by_lang.items() if code in (lang, ANY_LANGUAGE)]
            if lang not in by_lang:
                chosen = list(by_lang.values())
            found: list[str] = []
            for rules in chosen:
                found.extend(rules.evidence(folded))
            if found:
                topics.append(topic_id)
                evidence[topic_id] = list(dict.fromkeys(s.strip() for s in found))[:MAX_EVIDENCE]
        return TopicMatch(topics, evidence)
