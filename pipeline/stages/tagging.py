"""Topic tagging: taxonomy terms matched on normalized tokens, with context rules,
exclusions, a title weight and a minimum score; every decision carries its evidence."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import Any

import ahocorasick

from pipeline.stages.tokens import (
    COMPOUNDING,
    SPACELESS,
    beginnings,
    contains,
    exact_keys,
    fold,
    forms,
    split,
    term_forms,
    tokenize,
    unconfuse,
)
from pipeline.taxonomy import ANY_LANGUAGE, LanguageRules, Taxonomy
from pipeline.taxonomy.expand import expand

MAX_EVIDENCE = 10
# A language without rules of its own is read with its closest languages' rules (Malay
# with Indonesian's, Bosnian with Croatian's and Serbian's) before falling back to all.
NEIGHBOURS = {
    "ms": ("id",),
    "bs": ("hr", "sr"),
    "sh": ("hr", "sr"),
    "cnr": ("sr", "hr"),
    "mk": ("bg", "sr"),
    "lb": ("de",),
    "no": ("da", "sv"),
    "nb": ("da", "sv"),
    "nn": ("da", "sv"),
    "gl": ("es", "pt"),
    "ca": ("es", "fr"),
    "ug": ("kk", "ky"),
    "tt": ("kk", "ru"),
    "ba": ("kk", "ru"),
    "crh": ("tr",),
    "yue": ("zh",),
}
# Token spellings remembered per language with the phrases they can start; cleared when full,
# so a long-running worker's memory stays bounded (news vocabulary keeps growing): 40 bytes
# an entry measured (the word itself is shared with the forms cache), at most ~130 bytes.
MAX_CACHED_WORDS = 50_000


@dataclass(frozen=True, slots=True)
class _Word:
    kind: str  # "forms", "prefix", "infix" or "exact"
    values: frozenset[str]

    def matches(self, text: str, lang: str) -> bool:
        if self.kind == "exact":
            return any(s in self.values for s in exact_keys(text, lang))
        if self.kind == "prefix":
            folded = fold(text)
            return any(folded.startswith(v) for v in self.values)
        if self.kind == "infix":
            folded = fold(text)
            return any(contains(folded, v) for v in self.values)
        return not self.values.isdisjoint(forms(text, lang))

    def starts(self, text: str, token_forms: frozenset[str], lang: str) -> bool:
        """Whether a phrase can start at a token: a prefix is tried on every form of the
        first word (lemmas and stems too), unlike later words, which match the folded text."""
        if self.kind == "exact":
            return any(s in self.values for s in exact_keys(text, lang))
        if self.kind == "prefix":
            return any(f.startswith(v) for f in token_forms for v in self.values if f[:1] != "~")
        if self.kind == "infix":
            return any(contains(f, v) for f in token_forms for v in self.values if f[:1] != "~")
        return not self.values.isdisjoint(token_forms)


@dataclass(frozen=True, slots=True)
class _Phrase:
    term: str
    words: tuple[_Word, ...]
    pid: int  # per vocabulary; one id for one (term, exactness): equal words, equal matches

    @property
    def rest(self) -> tuple[_Word, ...]:
        return self.words[1:]


@dataclass(frozen=True, slots=True)
class _Phrases:
    """A rule's phrase list, in order, and the ids in it (most lists match nothing)."""

    items: tuple[_Phrase, ...]
    ids: frozenset[int]

    @classmethod
    def of(cls, items: list[_Phrase]) -> _Phrases:
        return cls(tuple(items), frozenset(p.pid for p in items))


# Languages whose stemmer or clitics may change how a word begins (Arabic and Hebrew
# clitics, Irish mutations, Serbian's stemmer writing Cyrillic in Latin letters, Indonesian
# prefixes: di-jamin, pen-jamin): their words always take the full path in _starts.
SLOW_START = frozenset({"ar", "fa", "ur", "he", "yi", "ga", "sr", "hr", "bs", "id", "ms"})
# Letters that folding changes at the start of a word, scripts with attached clitics, and the
# Cyrillic of a word that may mix scripts (ООН typed with a Latin H).
_SLOW_LETTERS = re.compile(r"[ёЁİ\u0307\u0370-\u03ff\u1f00-\u1fff\u0590-\u06ff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")


def _slow_word(text: str) -> bool:
    if _SLOW_LETTERS.search(text) or not unicodedata.is_normalized("NFC", text):
        return True
    return bool(_CYRILLIC.search(text) and _LATIN.search(text))


class _Vocabulary:
    """Every phrase of one normalization language, indexed by what its first word matches,
    so that one pass over a field's tokens finds all matches of all topics' phrases."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.phrases: dict[int, _Phrase] = {}
        self._by_key: dict[tuple[str, bool, str], _Phrase] = {}
        self._by_form: dict[str, list[int]] = {}
        self._by_text: dict[str, list[int]] = {}
        self._prefixes: list[_Phrase] = []
        self._automaton: Any = None  # over the first words of _prefixes, built when needed
        self._head_sets: tuple[set[str], set[str]] | None = None
        # token text -> (phrase id, number of words after the first, those words) per phrase
        # that can start at a token so written
        self._starting: dict[str, tuple[tuple[int, int, tuple[_Word, ...]], ...]] = {}

    def phrases_of(self, term: str, exact: bool = False) -> list[_Phrase]:
        """The phrase for a term, and its variants where the language writes words together:
        in a compounding language a one-word name of 5+ letters also counts at a compound's
        start or inside it (Syrienkrieg, Nordsyrien); without spaces, anywhere in a run."""
        found = [self.phrase(term, exact)]
        words = tokenize(term)
        if exact or len(words) != 1 or term.endswith("*"):
            return found
        if self.lang in SPACELESS or (self.lang in COMPOUNDING and len(words[0].text) >= 5):
            found.append(self.phrase(term, exact, kind="infix"))
        return found

    def phrase(self, term: str, exact: bool = False, kind: str = "") -> _Phrase:
        known = self._by_key.get((term, exact, kind))
        if known is not None:
            return known
        pid = len(self.phrases)
        compiled: list[_Word] = []
        for token in tokenize(term):
            if exact:
                # UNICEF, UNESCO, UNHCR: four capitals and more are also written Unicef
                variants = {token.text}
                if len(token.text) >= 4 and token.text.isupper() and token.text.isalpha():
                    variants.add(token.text.capitalize())
                compiled.append(_Word("exact", frozenset(variants)))
            elif kind == "infix":
                compiled.append(_Word("infix", frozenset({fold(token.text)})))
            elif term[token.end : token.end + 1] == "*":
                compiled.append(_Word("prefix", frozenset({fold(token.text)})))
            else:
                compiled.append(_Word("forms", term_forms(token.text, self.lang)))
        phrase = _Phrase(term, tuple(compiled), pid)
        self._by_key[(term, exact, kind)] = phrase
        self.phrases[pid] = phrase
        self._starting.clear()
        self._automaton = None
        self._head_sets = None
        if compiled:  # a term without a single word ("...") matches nothing
            first = compiled[0]
            if first.kind in ("prefix", "infix"):
                self._prefixes.append(phrase)
            else:
                index = self._by_text if first.kind == "exact" else self._by_form
                for value in first.values:
                    index.setdefault(value, []).append(pid)
        return phrase

    def _inside(self, token_forms: frozenset[str]) -> set[int]:
        """Phrases whose first word is a prefix of, or inside, one of the token's forms: one
        Aho-Corasick pass per form, whatever the number of such phrases (a scan of every
        phrase per new word cost 75 % of enrichment on full-length German articles)."""
        if self._automaton is None:
            automaton = ahocorasick.Automaton()
            entries: dict[str, list[tuple[str, int]]] = {}
            for phrase in self._prefixes:
                word = phrase.words[0]
                for value in word.values:
                    entries.setdefault(value, []).append((word.kind, phrase.pid))
            for value, found in entries.items():
                automaton.add_word(value, (value, tuple(found)))
            automaton.make_automaton()
            self._automaton = automaton
        pids: set[int] = set()
        for form in token_forms:
            if form[:1] == "~":
                continue
            for end, (value, found) in self._automaton.iter(form):
                start = end - len(value) + 1
                for kind, pid in found:
                    at_start = kind == "prefix" and start == 0
                    if at_start or (kind == "infix" and contains(form, value)):
                        pids.add(pid)
        return pids

    def _heads(self) -> tuple[set[str], set[str]]:
        """The first letters (up to 3) of every form a phrase's first word matches, and of
        every case-sensitive first word: a word that begins otherwise cannot start a phrase,
        so its forms (lemmas, stems) are never computed. Most words of an article are such."""
        if self._head_sets is None:
            forms_heads = {v.lstrip("~")[:3] for v in self._by_form}
            exact_heads = {v[:3] for v in self._by_text}
            self._head_sets = (forms_heads, exact_heads)
        return self._head_sets

    def _may_start(self, folded: str, heads: set[str]) -> bool:
        """Whether any form of the word could begin a phrase (the prefilter)."""
        return any(b[:3] in heads or b[:2] in heads for b in beginnings(folded, self.lang))

    def _cannot_start(self, text: str, forms_heads: set[str], exact_heads: set[str]) -> bool:
        """A word that surely starts no phrase, told from its lower case alone (1.1 µs; the
        full path 18.7 µs, measured on German words): most words of an article. Words whose
        folding or stemming may change how they begin take the full path."""
        if self.lang in SLOW_START or (not text.isascii() and _slow_word(text)):
            return False
        if text[:3] in exact_heads or text[:2] in exact_heads:
            return False
        low = text.lower()
        if low[:3] in forms_heads or low[:2] in forms_heads:
            return False
        return not (self._prefixes and self._inside(frozenset({low})))

    def _starts(self, text: str) -> tuple[tuple[int, int, tuple[_Word, ...]], ...]:
        forms_heads, exact_heads = self._heads()
        if self._cannot_start(text, forms_heads, exact_heads):
            if len(self._starting) >= MAX_CACHED_WORDS:
                self._starting.clear()
            self._starting[text] = ()
            return ()
        folded = fold(unconfuse(text))
        candidate = self._may_start(folded, forms_heads)
        pids: set[int] = set()
        token_forms = forms(text, self.lang) if candidate else frozenset({folded})
        if candidate:
            pids.update(pid for form in token_forms for pid in self._by_form.get(form, ()))
        for key in exact_keys(text, self.lang):
            if key[:3] in exact_heads or key[:2] in exact_heads:
                pids.update(self._by_text.get(key, ()))
        if self._prefixes:
            pids.update(self._inside(token_forms))
        phrases = [self.phrases[pid] for pid in sorted(pids)]
        found = tuple((p.pid, len(p.words) - 1, p.rest) for p in phrases)
        if len(self._starting) >= MAX_CACHED_WORDS:
            self._starting.clear()
        self._starting[text] = found
        return found

    def find(self, tokens: list[str]) -> dict[int, list[tuple[int, int]]]:
        """Phrase id -> (first, last) token positions of its every match, in text order."""
        found: dict[int, list[tuple[int, int]]] = {}
        starting = self._starting
        lang = self.lang
        size = len(tokens)
        for i, text in enumerate(tokens):
            candidates = starting.get(text)
            if candidates is None:
                candidates = self._starts(text)
            for pid, length, rest in candidates:
                last = i + length
                if last >= size:
                    continue
                if rest and not all(
                    w.matches(tokens[i + k], lang) for k, w in enumerate(rest, start=1)
                ):
                    continue
                if pid in found:
                    found[pid].append((i, last))
                else:
                    found[pid] = [(i, last)]
        return found


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


# Places that share a country's or a city's name are told apart the way the press does it,
# by the state after a comma: Syria, Virginia; Damascus, Maryland; Palestine, Texas.
_STATES = """alabama alaska arizona arkansas california colorado connecticut delaware florida
    georgia hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland
    massachusetts michigan minnesota mississippi missouri montana nebraska nevada new north
    ohio oklahoma oregon pennsylvania rhode south tennessee texas utah vermont virginia
    washington west wisconsin wyoming ontario quebec alberta manitoba saskatchewan county
    va ind ky tenn md pa oh tx"""
_QUALIFIERS = frozenset(_STATES.split())


class _Text:
    """A field's text and tokens, shared by every normalization language."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self._parts = split(text)
        self.tokens = self._parts[1::2]
        self._offsets: list[int] | None = None

    def qualified(self, last: int) -> bool:
        """Whether the words ending at `last` are followed by ", <US state>" (a namesake)."""
        if last + 1 >= len(self.tokens) or "," not in self._parts[2 * last + 2]:
            return False
        return self.tokens[last + 1].lower() in _QUALIFIERS

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Character offsets of tokens first..last (computed for articles with a hit only)."""
        if self._offsets is None:
            self._offsets = list(accumulate(map(len, self._parts), initial=0))
        return self._offsets[2 * first + 1], self._offsets[2 * last + 2]


def _inside(token: str, word: _Word, start: int, end: int) -> tuple[int, int]:
    """The offsets of a name found inside a longer word (叙利亚 in 叙利亚北部, Syrien in
    Nordsyrien), where folding kept the word's length; else the whole word."""
    folded = fold(token)
    if len(folded) != len(token):
        return start, end
    for value in word.values:
        at = folded.find(value)
        if at >= 0:
            return start + at, start + at + len(value)
    return start, end


class _Field:
    """One field in one language: where each phrase of that language matches, found once per
    tagging for all topics and roles."""

    def __init__(self, text: _Text, vocabulary: _Vocabulary) -> None:
        self.source = text
        self.name = text.name
        self.matches = vocabulary.find(text.tokens)

    def find(self, phrases: _Phrases, masked: set[int] | None = None) -> list[Hit]:
        if phrases.ids.isdisjoint(self.matches):
            return []
        hits = []
        span = self.source.span
        for phrase in phrases.items:
            for first, last in self.matches.get(phrase.pid, ()):
                if masked and not masked.isdisjoint(range(first, last + 1)):
                    continue
                if self.source.qualified(last):
                    continue
                start, end = span(first, last)
                if phrase.words[0].kind == "infix" and first == last:
                    start, end = _inside(self.source.tokens[first], phrase.words[0], start, end)
                hits.append(Hit(phrase.term, self.name, first, last, start, end))
        return hits


@dataclass(frozen=True)
class _CompiledContext:
    anchors: _Phrases
    context: _Phrases
    window: int
    groups: tuple[_Phrases, ...] = ()  # all of them in one field, instead of anchors


@dataclass(frozen=True)
class _CompiledRules:
    lang: str
    terms: _Phrases
    contexts: list[_CompiledContext]
    exclude: _Phrases
    none: _Phrases
    ids: frozenset[int] = frozenset()  # every phrase of these rules

    @classmethod
    def of(
        cls, rules: LanguageRules, lang: str, vocabularies: dict[str, _Vocabulary]
    ) -> _CompiledRules:
        # "*" rules have no language of their own: English normalization is a neutral choice.
        norm = "en" if lang == ANY_LANGUAGE else lang
        vocabulary = vocabularies.setdefault(norm, _Vocabulary(norm))

        def phrases(terms: list[str], exact: bool = False) -> list[_Phrase]:
            return [p for t in terms for p in vocabulary.phrases_of(t, exact)]

        terms = _Phrases.of(phrases(rules.terms) + phrases(rules.exact, exact=True))
        contexts = [
            _CompiledContext(
                _Phrases.of(phrases(c.terms)),
                _Phrases.of(phrases(c.with_)),
                c.window,
                tuple(_Phrases.of(phrases(g)) for g in c.all_of),
            )
            for c in rules.context
        ]
        exclude = _Phrases.of(phrases(rules.exclude))
        none = _Phrases.of(phrases(rules.none))
        ids = terms.ids | exclude.ids | none.ids
        for c in contexts:
            ids |= c.anchors.ids | c.context.ids
            for g in c.groups:
                ids |= g.ids
        return cls(norm, terms, contexts, exclude, none, ids)

    def diagnose(self, fields: list[_Field], texts: dict[str, str]) -> list[str]:
        """What these rules set aside in these fields, in words, for `topics explain`."""
        notes: list[str] = []

        def quoted(hits: list[Hit]) -> str:
            return ", ".join(sorted({repr(texts[h.field][h.start : h.end]) for h in hits}))

        ruled_out = [h for fld in fields for h in fld.find(self.none)]
        if ruled_out:
            notes.append(f"[{self.lang}] ruled out by {quoted(ruled_out)}")
        for fld in fields:
            masked_hits = fld.find(self.exclude)
            masked = {i for h in masked_hits for i in range(h.first, h.last + 1)}
            inside = [
                h for h in fld.find(self.terms) if masked.intersection(range(h.first, h.last + 1))
            ]
            if inside:
                notes.append(
                    f"[{self.lang}] {quoted(inside)} in {fld.name} inside masked phrase "
                    f"{quoted(masked_hits)}"
                )
            for ctx in self.contexts:
                anchors = fld.find(ctx.anchors, masked)
                if anchors and not any(f.find(ctx.context) for f in fields):
                    notes.append(
                        f"[{self.lang}] {quoted(anchors)} in {fld.name} counts only with "
                        f"context ({', '.join(p.term for p in ctx.context.items[:6])}...), "
                        "and there is none"
                    )
        return notes

    def hits(self, fields: list[_Field]) -> list[Hit]:
        if all(self.ids.isdisjoint(fld.matches) for fld in fields):
            return []  # what the rules below conclude when none of their phrases matched
        if self.none.items and any(fld.find(self.none) for fld in fields):
            return []
        found: list[Hit] = []
        title_has_context: dict[int, bool] = {}
        for fld in fields:
            masked = {i for h in fld.find(self.exclude) for i in range(h.first, h.last + 1)}
            found += fld.find(self.terms, masked)
            for n, ctx in enumerate(self.contexts):
                if ctx.groups:
                    together = [fld.find(g, masked) for g in ctx.groups]
                    if all(together) and any(f.find(ctx.context) for f in fields):
                        found += [h for hits in together for h in hits]
                    continue
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
        taxonomy = expand(taxonomy)
        self._vocabularies: dict[str, _Vocabulary] = {}
        self._topics = [(topic, topic.rules) for topic in taxonomy.topics]
        # A language's rules are compiled when its first article comes: compiling all 46
        # took the tagger's start from 0.44 s to 0.75 s, and a process reads few of them.
        self._compiled: dict[tuple[int, str], _CompiledRules] = {}

    @property
    def topic_ids(self) -> list[str]:
        return [topic.id for topic, _ in self._topics]

    def _chosen(self, n: int, lang: str) -> list[_CompiledRules]:
        by_lang = self._topics[n][1]
        codes = [code for code in by_lang if code in (lang, ANY_LANGUAGE)]
        if lang not in by_lang:
            near = [c for c in NEIGHBOURS.get(lang, ()) if c in by_lang]
            codes = codes + near if near else list(by_lang)
        found = []
        for code in codes:
            compiled = self._compiled.get((n, code))
            if compiled is None:
                compiled = _CompiledRules.of(by_lang[code], code, self._vocabularies)
                self._compiled[(n, code)] = compiled
            found.append(compiled)
        return found

    def tag(self, title: str, text: str, lang: str) -> TopicMatch:
        return self._run(title, text, lang, None)

    def explain(self, title: str, text: str, lang: str) -> list[Explanation]:
        """Per topic: whether it matched and why, or why not (no term found; terms found only
        inside masked phrases; a ruling-out word; anchors without their context; a score
        below the minimum)."""
        found: list[Explanation] = []
        self._run(title, text, lang, found)
        return found

    def _run(
        self, title: str, text: str, lang: str, explain: list[Explanation] | None
    ) -> TopicMatch:
        topics: list[str] = []
        scores: dict[str, float] = {}
        evidence: dict[str, list[dict[str, Any]]] = {}
        fields_by_lang: dict[str, list[_Field]] = {}
        sources = [_Text("title", title), _Text("text", text)]
        texts = {"title": title, "text": text}
        # every topic's rules compiled before any field is scanned: a field's matches are
        # found once, for all phrases its vocabulary holds by then
        choices = [self._chosen(n, lang) for n in range(len(self._topics))]
        for (topic, _), chosen in zip(self._topics, choices, strict=True):
            hits: dict[tuple[str, int], Hit] = {}
            notes: list[str] = []
            for rules in chosen:
                if rules.lang not in fields_by_lang:
                    vocabulary = self._vocabularies[rules.lang]
                    fields_by_lang[rules.lang] = [_Field(t, vocabulary) for t in sources]
                fields = fields_by_lang[rules.lang]
                for hit in rules.hits(fields):
                    hits.setdefault((hit.field, hit.first), hit)  # one position counts once
                if explain is not None:
                    notes += rules.diagnose(fields, texts)
            score = sum(topic.title_weight if h.field == "title" else 1.0 for h in hits.values())
            ordered = sorted(hits.values(), key=lambda h: (h.field != "title", h.start))
            matched = bool(hits) and score >= topic.min_score
            if matched:
                topics.append(topic.id)
                scores[topic.id] = round(score, 2)
                evidence[topic.id] = [h.evidence(texts[h.field]) for h in ordered[:MAX_EVIDENCE]]
            if explain is not None:
                if hits and not matched:
                    notes.append(f"score {score:g} is below min_score {topic.min_score:g}")
                if not hits and not notes:
                    notes.append("no term of this topic occurs")
                explain.append(
                    Explanation(
                        topic.id,
                        matched,
                        round(score, 2),
                        [r.lang for r in chosen],
                        [h.evidence(texts[h.field]) for h in ordered],
                        notes,
                    )
                )
        self._imply(topics, scores, evidence, explain)
        return TopicMatch(topics, scores, evidence)

    def _imply(
        self,
        topics: list[str],
        scores: dict[str, float],
        evidence: dict[str, list[dict[str, Any]]],
        explain: list[Explanation] | None,
    ) -> None:
        """Add the broader topics a matched one implies, with its evidence and score."""
        for topic, _ in self._topics:
            if topic.id not in scores:
                continue
            for broader in topic.implies:
                if broader in scores:
                    continue
                topics.append(broader)
                scores[broader] = scores[topic.id]
                evidence[broader] = evidence[topic.id]
                if explain is not None:
                    explain[:] = [
                        replace(
                            e,
                            matched=True,
                            score=scores[broader],
                            evidence=e.evidence or evidence[broader],
                            notes=[f"implied by {topic.id}"],
                        )
                        if e.topic == broader
                        else e
                        for e in explain
                    ]
        order = {t.id: n for n, (t, _) in enumerate(self._topics)}
        topics.sort(key=order.__getitem__)


@dataclass(frozen=True, slots=True)
class Explanation:
    topic: str
    matched: bool
    score: float
    languages: list[str]  # whose rules were read
    evidence: list[dict[str, Any]]
    notes: list[str]  # why not, or what was set aside
