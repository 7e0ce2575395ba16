"""Topic tagging: taxonomy terms matched on normalized tokens, with context rules,
exclusions, a title weight and a minimum score; every decision carries its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.stages.tokens import Token, fold, forms, tokenize
from pipeline.taxonomy import ANY_LANGUAGE, LanguageRules, Taxonomy

MAX_EVIDENCE = 10


@dataclass(frozen=True, slots=True)
class _Word:
    kind: str  # "forms", "prefix" or "exact"
    values: frozenset[str]

    def matches(self, token: Token, token_forms: frozenset[str]) -> bool:
        if self.kind == "exact":
            return token.text in self.values
        if self.kind == "prefix":
            folded = fold(token.text)
            return any(folded.startswith(v) for v in self.values)
        return not self.values.isdisjoint(token_forms)


@dataclass(frozen=True, slots=True)
class _Phrase:
    term: str
    words: tuple[_Word, ...]


def _phrase(term: str, lang: str, exact: bool = False) -> _Phrase:
    words = []
    for token in tokenize(term):
        if exact:
            words.append(_Word("exact", frozenset({token.text})))
        elif term[token.end : token.end + 1] == "*":
            words.append(_Word("prefix", frozenset({fold(token.text)})))
        else:
            words.append(_Word("forms", forms(token.text, lang)))
    return _Phrase(term, tuple(words))


@dataclass(frozen=True, slots=True)
class Hit:
    term: str
    field: str
    first: int  # token index
    last: int
    start: int  # character offsets in the field
    end: int

    def evidence(self, text: str) -> dict[str, Any]:
        return {
            "term": self.term,
            "text": text[self.start : self.end],
            "field": self.field,
            "start": self.start,
            "end": self.end,
        }


class _Field:
    """One field's tokens with their forms in one language, computed once per tagging, and
    an index from each form (and each exact spelling) to where it occurs: a phrase is only
    checked where its first word is."""

    def __init__(self, name: str, text: str, lang: str) -> None:
        self.name = name
        self.text = text
        self.tokens = tokenize(text)
        self.forms = [forms(t.text, lang) for t in self.tokens]
        self._by_form: dict[str, list[int]] = {}
        self._by_text: dict[str, list[int]] = {}
        for i, (token, token_forms) in enumerate(zip(self.tokens, self.forms, strict=True)):
            self._by_text.setdefault(token.text, []).append(i)
            for form in token_forms:
                self._by_form.setdefault(form, []).append(i)

    def _starts(self, word: _Word) -> set[int]:
        if word.kind == "exact":
            return {i for v in word.values for i in self._by_text.get(v, ())}
        if word.kind == "prefix":
            return {
                i
                for form, where in self._by_form.items()
                if any(form.startswith(v) for v in word.values)
                for i in where
            }
        return {i for v in word.values for i in self._by_form.get(v, ())}

    def find(self, phrases: list[_Phrase], masked: set[int] | None = None) -> list[Hit]:
        hits = []
        for phrase in phrases:
            n = len(phrase.words)
            for i in sorted(self._starts(phrase.words[0])):
                if i + n > len(self.tokens) or (masked and not masked.isdisjoint(range(i, i + n))):
                    continue
                if all(
                    w.matches(self.tokens[i + k], self.forms[i + k])
                    for k, w in enumerate(phrase.words[1:], start=1)
                ):
                    last = i + n - 1
                    start, end = self.tokens[i].start, self.tokens[last].end
                    hits.append(Hit(phrase.term, self.name, i, last, start, end))
        return hits


@dataclass(frozen=True)
class _CompiledContext:
    anchors: list[_Phrase]
    context: list[_Phrase]
    window: int


@dataclass(frozen=True)
class _CompiledRules:
    lang: str
    terms: list[_Phrase]
    contexts: list[_CompiledContext]
    exclude: list[_Phrase]
    none: list[_Phrase]

    @classmethod
    def of(cls, rules: LanguageRules, lang: str) -> _CompiledRules:
        # "*" rules have no language of their own: English normalization is a neutral choice.
        norm = "en" if lang == ANY_LANGUAGE else lang
        return cls(
            lang=norm,
            terms=[_phrase(t, norm) for t in rules.terms]
            + [_phrase(t, norm, exact=True) for t in rules.exact],
            contexts=[
                _CompiledContext(
                    [_phrase(t, norm) for t in c.terms],
                    [_phrase(t, norm) for t in c.with_],
                    c.window,
                )
                for c in rules.context
            ],
            exclude=[_phrase(t, norm) for t in rules.exclude],
            none=[_phrase(t, norm) for t in rules.none],
        )

    def hits(self, fields: list[_Field]) -> list[Hit]:
        if self.none and any(fld.find(self.none) for fld in fields):
            return []
        found: list[Hit] = []
        title_has_context: dict[int, bool] = {}
        for fld in fields:
            masked = {i for h in fld.find(self.exclude) for i in range(h.first, h.last + 1)}
            found += fld.find(self.terms, masked)
            for n, ctx in enumerate(self.contexts):
                anchors = fld.find(ctx.anchors, masked)
                if not anchors:
                    continue
                if n not in title_has_context:
                    title_has_context[n] = bool(fields[0].find(ctx.context))
                if title_has_context[n]:
                    found += anchors
                    continue
                support = fld.find(ctx.context)
                if fld is fields[0]:
                    # A headline names the subject: its anchor holds if the body gives context.
                    if any(f.find(ctx.context) for f in fields[1:]):
                        found += anchors
                    continue
                found += [
                    a for a in anchors if any(abs(s.first - a.first) <= ctx.window for s in support)
                ]
        return found


@dataclass(frozen=True, slots=True)
class TopicMatch:
    topics: list[str]
    scores: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Tagger:
    """Compiled taxonomy. Rules of the detected language (and `*`) apply; for a topic with
    no rules in that language (or an undetermined one) all of its languages are tried."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self._topics = [
            (topic, {lang: _CompiledRules.of(r, lang) for lang, r in topic.rules.items()})
            for topic in taxonomy.topics
        ]

    @property
    def topic_ids(self) -> list[str]:
        return [topic.id for topic, _ in self._topics]

    def tag(self, title: str, text: str, lang: str) -> TopicMatch:
        topics: list[str] = []
        scores: dict[str, float] = {}
        evidence: dict[str, list[dict[str, Any]]] = {}
        fields_by_lang: dict[str, list[_Field]] = {}
        for topic, by_lang in self._topics:
            chosen = [r for code, r in by_lang.items() if code in (lang, ANY_LANGUAGE)]
            if lang not in by_lang:
                chosen = list(by_lang.values())
            hits: dict[tuple[str, int], Hit] = {}
            for rules in chosen:
                if rules.lang not in fields_by_lang:
                    fields_by_lang[rules.lang] = [
                        _Field("title", title, rules.lang),
                        _Field("text", text, rules.lang),
                    ]
                for hit in rules.hits(fields_by_lang[rules.lang]):
                    hits.setdefault((hit.field, hit.first), hit)  # one position counts once
            score = sum(topic.title_weight if h.field == "title" else 1.0 for h in hits.values())
            if hits and score >= topic.min_score:
                topics.append(topic.id)
                scores[topic.id] = round(score, 2)
                ordered = sorted(hits.values(), key=lambda h: (h.field != "title", h.start))
                texts = {"title": title, "text": text}
                evidence[topic.id] = [h.evidence(texts[h.field]) for h in ordered[:MAX_EVIDENCE]]
        return TopicMatch(topics, scores, evidence)
