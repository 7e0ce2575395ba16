"""Topic tagging: taxonomy terms matched on normalized tokens, with context rules,
exclusions, a title weight and a minimum score; every decision carries its evidence."""

from __future__ import annotations

import gc
import re
import unicodedata
from bisect import bisect
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from itertools import accumulate, compress
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import ahocorasick

from pipeline.native import native
from pipeline.stages import rules_cache, term_cache
from pipeline.stages.tokens import (
    COMPOUNDING,
    SPACELESS,
    CharClass,
    all_beginnings,
    all_forms,
    beginnings,
    contains,
    exact_keys,
    exact_keys_inside,
    fold,
    fold_all,
    forms,
    split,
    split_offsets,
    term_forms,
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
_UNPLACED = (-1, -1)  # _Vocabulary.inside: a token and phrase not located yet
# The shortcuts that decide most new words from their lower case (a unit test turns them off
# and checks that no decision changes).
QUICK = True


# _Word and _Phrase are never changed once made, but not frozen: a frozen dataclass's
# __init__ sets each field through object.__setattr__ (~5,900 instructions a _Phrase, ~2,100
# so), and a language's rules make thousands. Hashed and compared as frozen ones are. Not
# NamedTuples, made cheaper still: their fields' reads, in every text's matching, are not
# specialized as slots' are (the benchmark corpus took ~35 M instructions more).
@dataclass(slots=True, unsafe_hash=True)
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


@dataclass(slots=True, unsafe_hash=True)
class _Phrase:
    term: str
    words: tuple[_Word, ...]
    pid: int  # per vocabulary; one id for one (term, exactness): equal words, equal matches

    @property
    def rest(self) -> tuple[_Word, ...]:
        return self.words[1:]


_PID = attrgetter("pid")


@dataclass(frozen=True, slots=True)
class _Phrases:
    """A rule's phrase list, in order, and the ids in it (most lists match nothing)."""

    items: tuple[_Phrase, ...]
    ids: frozenset[int]
    # phrase id -> its places in `items`: the few that matched are found in list order
    # without a look at every phrase
    places: dict[int, tuple[int, ...]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, items: list[_Phrase]) -> _Phrases:
        places: dict[int, tuple[int, ...]] = {}
        get = places.get
        for n, pid in enumerate(map(_PID, items)):
            known = get(pid)
            places[pid] = (n,) if known is None else (*known, n)
        return cls(tuple(items), frozenset(places), places)


# Languages whose stemmer or clitics may change how a word begins (Arabic and Hebrew
# clitics, Irish mutations, Serbian's stemmer writing Cyrillic in Latin letters, Indonesian
# prefixes: di-jamin, pen-jamin): their words always take the full path in _starts.
SLOW_START = frozenset({"ar", "fa", "ur", "he", "yi", "ga", "sr", "hr", "bs", "id", "ms"})
# Letters that folding changes at the start of a word, scripts with attached clitics, and the
# Cyrillic of a word that may mix scripts (ООН typed with a Latin H).
_SLOW_LETTERS = CharClass("ёЁİ\u0307\u0370-\u03ff\u1f00-\u1fff\u0590-\u06ff")
_CYRILLIC = CharClass("\u0400-\u04ff")
_LATIN = CharClass("A-Za-z")


def _slow_word(text: str) -> bool:
    if _SLOW_LETTERS.holds(text) or not unicodedata.is_normalized("NFC", text):
        return True
    return bool(_CYRILLIC.holds(text) and _LATIN.holds(text))


# SLOW_START languages whose words' beginnings (`all_beginnings`) the native StartFilter
# knows: the Hebrew and Arabic clitics cut; no stems in Hebrew, Yiddish and Urdu, Snowball's
# Arabic ones runs of the word's letters (see StartFilter::arabic_starts). Replayed over the
# benchmark corpus's calls, _quick_misses in Hebrew 0.024 -> 0.007 s, in Arabic 0.034 ->
# 0.017 s (Greek words, told natively in every language: 0.024 -> 0.007 s); the whole
# corpus 14.97 -> 14.42 G instructions. Snowball's Persian stems begin the word as the
# stemmer reads ئ, ؤ, ہ (StartFilter::persian_starts): the whole corpus 13.21 -> 13.07 G
# instructions (cachegrind). Indonesian's stemmer rewrites prefixes (meny- -> s-): its
# words stay Python's.
_NATIVE_CLITICS = {
    "he": "hebrew",
    "yi": "hebrew",
    "ar": "arabic",
    "ur": "arabic",
    "fa": "persian",
}
# Languages whose forms include lemmas (pymorphy3) or suffix-stripped stems (Kazakh) that
# may be as short as 2-3 letters and begin a longer word.
_LEMMATIZED = frozenset({"ru", "uk", "kk"})
# Languages whose forms() hold lemmas that may begin like none of the word's `beginnings`
# (pymorphy3: Russian людей -> человек): _dead_ends asks their dictionary lemmas instead.
_LEMMA_DEAD_ENDS = frozenset({"ru", "uk"})


@lru_cache(maxsize=50_000)
def _term_tokens(term: str) -> tuple[tuple[str, int], ...]:
    """A configured term's words, each with where it ends (`tokenize`'s texts and ends):
    asked twice per term and vocabulary, and many terms (UN, OCHA) recur in every
    language's rules. Cut from `split`'s parts (native) rather than made by tokenize's
    regex and a Token per word: with the words shared in a vocabulary (`phrase`), ~56 M
    instructions fewer for the benchmark's 24 languages' 4,000 terms."""
    parts = split(term)
    return tuple(zip(parts[1::2], list(accumulate(map(len, parts)))[1::2], strict=True))


def _heads_automaton(heads: Iterable[str]) -> Any:
    """An Aho-Corasick automaton of "\x00" + each head, its value the key's length."""
    keys = ["\x00" + h for h in heads if h]
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    # each key added by map in C, not a Python loop (~5 M instructions fewer over the
    # benchmark's 24 languages' heads)
    deque(map(automaton.add_word, keys, map(len, keys)), maxlen=0)
    automaton.make_automaton()
    return automaton


def _starting_heads(automaton: Any, texts: list[str]) -> set[int]:
    """Which of `texts` begin with a key of a `_heads_automaton`."""
    found: set[int] = set()
    if automaton is None:
        return found
    # lower() may change a word's length (İ -> i̇): offsets are counted per text
    text = "\x00" + "\x00".join(texts)
    for end, length in automaton.iter(text):
        # the key is "\x00" + a head: a match starts a word, the one after as many
        # separators as precede it (counted in C, only for the few words that match)
        found.add(text.count("\x00", 0, end - length + 1))
    return found


def _heads_met(automaton: Any, texts: list[str]) -> Iterator[tuple[int, int]]:
    """(index, length) of every key of a `_heads_automaton` that begins one of `texts`."""
    text = "\x00" + "\x00".join(texts)
    for end, length in automaton.iter(text):
        yield text.count("\x00", 0, end - length + 1), length - 1  # as in _starting_heads


@dataclass(frozen=True)
class _Heads:
    """How every form a phrase's first word matches begins, and every case-sensitive first
    word: a word that begins otherwise cannot start a phrase, so its forms (lemmas, stems)
    are never computed. Most words of an article are such. Elsewhere than _LEMMATIZED, a
    form shorter than `size` meets only a word or stem so written (stems and bases `~` have
    4+ letters): `de` does not make every word in de- a candidate."""

    size: int
    prefixes: frozenset[str]  # the first `size` letters of the longer forms
    short: frozenset[str]  # shorter forms a longer word may begin with (bases, lemmas)
    whole: frozenset[str]  # shorter forms met only by a word so written
    exact: frozenset[str]
    tilde: frozenset[str] = frozenset()  # the `~` keys, without the "~"
    _lower: Any = field(default=None, compare=False)  # "\x00" + every head, lower-case
    _exact: Any = field(default=None, compare=False)  # "\x00" + every case-sensitive head
    beginnings: Any = field(default=None, compare=False)  # "\x00" + every `tilde`

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lower", _heads_automaton(self.prefixes | self.short))
        object.__setattr__(self, "_exact", _heads_automaton(self.exact))
        object.__setattr__(self, "beginnings", _heads_automaton(self.tilde))

    def in_batch(self, words: list[str], lows: list[str]) -> set[int]:
        """Which of the \\x00-joined words may begin so (`may_begin` on each lower-case word,
        `exact_may_begin` on each as written): two Aho-Corasick passes and a set
        intersection in C instead of a Python test per word."""
        return self.lower_batch(lows) | self.exact_batch(words)

    def lower_batch(self, lows: list[str]) -> set[int]:
        """Which lower-case words may begin so (a superset of `may_begin` on each)."""
        found: set[int] = set()
        wanted = self.whole.intersection(lows)
        if wanted:
            found.update(n for n, low in enumerate(lows) if low in wanted)
        return found | _starting_heads(self._lower, lows)

    def exact_batch(self, words: list[str]) -> set[int]:
        """Which words as written may begin so (a superset of `exact_may_begin` on each)."""
        return _starting_heads(self._exact, words)

    def may_begin(self, folded: str) -> bool:
        return (
            folded[: self.size] in self.prefixes
            or folded in self.whole
            or (bool(self.short) and (folded[:2] in self.short or folded[:3] in self.short))
        )

    def exact_may_begin(self, text: str) -> bool:
        return text[:3] in self.exact or text[:2] in self.exact


def _heads_of(lang: str, by_form: Iterable[str], by_text: Iterable[str]) -> _Heads:
    """The _Heads of phrase words' forms (`by_form`) and case-sensitive texts (`by_text`)."""
    size = 3 if lang in _LEMMATIZED else 4
    prefixes: set[str] = set()
    short: set[str] = set()
    whole: set[str] = set()
    tilde: set[str] = set()
    for form in by_form:
        value = form.lstrip("~")
        if len(value) >= size:
            prefixes.add(value[:size])
        elif form[:1] == "~" or lang in _LEMMATIZED:  # a short base: 유엔
            short.add(value)
        else:
            whole.add(value)
        if form[:1] == "~":
            tilde.add(form[1:])
    exact = {v[:3] for v in by_text}
    return _Heads(
        size,
        frozenset(prefixes),
        frozenset(short),
        frozenset(whole),
        frozenset(exact),
        frozenset(tilde),
    )


# A _Heads' size and sets (prefixes, short, whole, exact, tilde) as lists, as kept in
# rules_cache.
_KeptHeads = tuple[int, list[str], list[str], list[str], list[str], list[str]]


def _kept(heads: _Heads) -> _KeptHeads:
    return (
        heads.size,
        list(heads.prefixes),
        list(heads.short),
        list(heads.whole),
        list(heads.exact),
        list(heads.tilde),
    )


class _Vocabulary:
    """Every phrase of one normalization language, indexed by what its first word matches,
    so that one pass over a field's tokens finds all matches of all topics' phrases."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.phrases: dict[int, _Phrase] = {}
        self._by_key: dict[tuple[str, bool, str], _Phrase] = {}
        # (kind, text) -> the _Word of a term's word so written: equal words, one object, made
        # once per vocabulary although the word recurs in many terms (Syria, UN, Astana)
        self._words: dict[tuple[str, str], _Word] = {}
        self._phrases_of: dict[tuple[str, bool], tuple[_Phrase, ...]] = {}
        self._by_form: dict[str, list[int]] = {}
        self._by_text: dict[str, list[int]] = {}
        self._prefixes: list[_Phrase] = []
        self.infix: set[int] = set()  # the phrases whose first word is an infix name
        self._automaton: Any = None  # over the first words of _prefixes, built when needed
        self._head_sets: _Heads | None = None
        self._filter: Any = None  # the native StartFilter of _heads() and _prefixes
        # every value of the words after the first of "forms" kind, and their heads (see
        # _dead_ends)
        self._rest_forms: set[str] = set()
        self._rest_heads: _Heads | None = None
        # the sets of _heads() and _rest_heads as rules_cache kept them with the compiled
        # rules (see _restore), until a phrase is added: made without _heads_of's loop over
        # every form (~50 M instructions over the benchmark's 24 languages)
        self._kept_heads: _KeptHeads | None = None
        self._kept_rest_heads: _KeptHeads | None = None
        # token text -> (phrase id, number of words after the first, those words) per phrase
        # that can start at a token so written
        self._starting: dict[str, tuple[tuple[int, int, tuple[_Word, ...]], ...]] = {}
        self._live: set[str] = set()  # the words in _starting that start some phrase
        # (live token text, the next token's or None) -> _starting's entries of the token
        # whose second word matches the next token, without that word: common words start
        # phrases (Spanish "de" begins "de Mistura", Astana begins 27) and meet the same
        # next words in article after article
        self._pairs: dict[tuple[str, str | None], tuple[tuple[int, int, tuple[_Word, ...]], ...]]
        self._pairs = {}
        # With the native module, the word ids, which words are live, and the pairs' slots
        # in _afters are kept there instead of _starting's dead words, _live and _pairs.
        self._table: Any = native.WordTable() if native is not None else None
        self._afters: list[tuple[tuple[int, int, tuple[_Word, ...]], ...]] = []
        # Whether find() or _new_words may have remembered anything since _forget_starts:
        # only they fill the caches above, and compiling a language's rules adds thousands
        # of phrases before its first text, each of which cleared them again (~20 M
        # instructions per process).
        self._remembering = False
        # (token, infix phrase id) -> where the phrase's first word lies in the token (see
        # inside): the press names its places again and again (11,400 located infix matches
        # over the benchmark corpus, of 428 tokens and words), and folding each cost more
        # than the rest of locating the native rules' matches
        self._places: dict[tuple[str, int], tuple[int, int] | None] = {}
        # next token -> whether _dead_ends_lemmatized rules it out (_rest_forms' answer)
        self._dead_words: dict[str, bool] = {}

    def inside(self, token: str, pid: int, start: int, end: int) -> tuple[int, int]:
        """The offsets of infix phrase `pid`'s name found inside a longer word (叙利亚 in
        叙利亚北部, Syrien in Nordsyrien) that spans start..end, where folding kept the
        word's length; else the whole word."""
        key = (token, pid)
        place = self._places.get(key, _UNPLACED)
        if place is _UNPLACED:
            if len(self._places) >= MAX_CACHED_WORDS:
                self._places.clear()
            place = self._places[key] = _place(token, self.phrases[pid].words[0].values)
        if place is None:
            return start, end
        return start + place[0], start + place[1]

    def phrases_of(self, term: str, exact: bool = False) -> tuple[_Phrase, ...]:
        """The phrase for a term, and its variants where the language writes words together:
        in a compounding language a one-word name of 5+ letters also counts at a compound's
        start or inside it (Syrienkrieg, Nordsyrien); without spaces, anywhere in a run.
        Remembered per (term, exact): phrase() of a known key returns the phrase made
        before and changes nothing, so the same tuple comes back (most terms recur in
        several rules of a language)."""
        key = (term, exact)
        known = self._phrases_of.get(key)
        if known is None:
            known = self._phrases_of[key] = tuple(self._make_phrases_of(term, exact))
        return known

    def phrases_of_all(self, terms: list[str], exact: bool = False) -> list[_Phrase]:
        """`phrases_of` every term, in order, in one list: a rules' lists ask for 18,000
        terms' phrases over the benchmark's 24 languages, most of them known, which are
        looked up here without a call each."""
        found: list[_Phrase] = []
        known = self._phrases_of.get
        for term in terms:
            made = known((term, exact))
            found += self.phrases_of(term, exact) if made is None else made
        return found

    def _make_phrases_of(self, term: str, exact: bool) -> list[_Phrase]:
        found = [self.phrase(term, exact)]
        words = _term_tokens(term)
        if exact or len(words) != 1 or term.endswith("*"):
            return found
        if self.lang in SPACELESS or (self.lang in COMPOUNDING and len(words[0][0]) >= 5):
            found.append(self.phrase(term, exact, kind="infix"))
        return found

    def phrase(self, term: str, exact: bool = False, kind: str = "") -> _Phrase:
        known = self._by_key.get((term, exact, kind))
        if known is not None:
            return known
        pid = len(self.phrases)
        compiled: list[_Word] = []
        words = self._words
        for text, end in _term_tokens(term):
            if exact:
                wkind = "exact"
            elif kind == "infix":
                wkind = "infix"
            elif term[end : end + 1] == "*":
                wkind = "prefix"
            else:
                wkind = "forms"
            word = words.get((wkind, text))
            if word is None:
                word = words[(wkind, text)] = self._word(wkind, text)
            compiled.append(word)
        phrase = _Phrase(term, tuple(compiled), pid)
        self._by_key[(term, exact, kind)] = phrase
        self.phrases[pid] = phrase
        if self._remembering:
            self._forget_starts()
        self._automaton = None
        self._head_sets = None
        self._kept_heads = None
        self._filter = None
        if len(compiled) > 1:  # most terms are one word: no list made for their later words
            later = [w for w in compiled[1:] if w.kind == "forms"]
            if later:
                self._rest_forms.update(*(w.values for w in later))
                self._rest_heads = None
                self._kept_rest_heads = None
        if compiled:  # a term without a single word ("...") matches nothing
            first = compiled[0]
            if first.kind in ("prefix", "infix"):
                self._prefixes.append(phrase)
                if first.kind == "infix":
                    self.infix.add(pid)
            else:
                index = self._by_text if first.kind == "exact" else self._by_form
                for value in first.values:
                    index.setdefault(value, []).append(pid)
        return phrase

    def _word(self, kind: str, text: str) -> _Word:
        """A phrase's word of `kind` written `text` (see `phrase`)."""
        if kind == "exact":
            # UNICEF, UNESCO, UNHCR: four capitals and more are also written Unicef
            variants = {text}
            if len(text) >= 4 and text.isupper() and text.isalpha():
                variants.add(text.capitalize())
            return _Word("exact", frozenset(variants))
        if kind == "forms":
            return _Word("forms", term_forms(text, self.lang))
        return _Word(kind, frozenset({fold(text)}))  # "infix" or "prefix"

    def _inside(self, token_forms: frozenset[str]) -> set[int]:
        """Phrases whose first word is a prefix of, or inside, one of the token's forms: one
        Aho-Corasick pass per form, whatever the number of such phrases (a scan of every
        phrase per new word cost 75 % of enrichment on full-length German articles)."""
        pids: set[int] = set()
        for form in token_forms:
            if form[:1] == "~":
                continue
            for end, (value, found) in self._names().iter(form):
                start = end - len(value) + 1
                for kind, pid in found:
                    at_start = kind == "prefix" and start == 0
                    if at_start or (kind == "infix" and contains(form, value)):
                        pids.add(pid)
        return pids

    def _names(self) -> Any:
        """The Aho-Corasick automaton of the prefix and infix phrases' first words."""
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
        return self._automaton

    def _heads(self) -> _Heads:
        if self._head_sets is None:
            kept = self._kept_heads
            if kept is None:
                self._head_sets = _heads_of(self.lang, self._by_form, self._by_text)
            else:
                self._head_sets = _Heads(kept[0], *map(frozenset, kept[1:]))
        return self._head_sets

    def _dead_ends(self, words: list[str]) -> set[str]:
        """Of next tokens, those that surely match no "forms" word after a phrase's first:
        `_starts`' own prefilter (`_may_start`: no beginning of the word, clitics cut or
        stemmed, begins like a form) given the heads of those words' forms instead of the
        first words', for all words at once. Exact where every form a word can have begins
        like one of its `beginnings` or the Romanian -ei -> -a base (added here, as forms()
        adds it): its bases, their stems and the `~` beginnings of its bases; not where
        forms() adds lemmas (_LEMMA_DEAD_ENDS: `_dead_ends_lemmatized`). Kazakh stems are
        its bases cut short. A word ruled out has no form among those words' values, so
        `_Word.matches` is false for each, and its forms (morphology) are never made: most
        next tokens of a live word are met nowhere else (over the benchmark corpus's 35,600
        new pairs, forms() was made for 23,900 next words in `_after`, now for 3,500, most
        of them Russian and Ukrainian: the pairs' 0.20 s became 0.09 s and this test's
        0.10 s; `_find_in_table` 1.16 -> 1.12 s, as a Snowball stem costs little)."""
        if not words:
            return set()
        if self.lang in _LEMMA_DEAD_ENDS:
            return self._dead_ends_lemmatized(words)
        heads = self._rest_heads
        if heads is None:
            kept = self._kept_rest_heads
            if kept is None:
                heads = _heads_of(self.lang, self._rest_forms, ())
            else:
                heads = _Heads(kept[0], *map(frozenset, kept[1:]))
            self._rest_heads = heads
        distinct = list(dict.fromkeys(words))
        joined = "\x00".join(distinct)
        folds = fold_all(distinct, joined, unconfused=False)  # as forms() folds each word
        word_of = list(range(len(folds)))
        if self.lang == "ro":  # Siriei -> Siria: a base of forms() that bases() does not give
            extra = [n for n, f in enumerate(folds) if len(f) > 5 and f.endswith("ei")]
            folds += [folds[n][:-2] + "a" for n in extra]
            word_of += extra
        flat, owners = all_beginnings(folds, self.lang)  # each one's beginnings and more
        dead = set(distinct)
        # lower_batch: a superset of may_begin on each beginning
        dead.difference_update([distinct[word_of[owners[n]]] for n in heads.lower_batch(flat)])
        return dead

    def _dead_ends_lemmatized(self, words: list[str]) -> set[str]:
        """_dead_ends in Russian and Ukrainian, where a lemma may begin like none of the
        word's beginnings (людей -> человек): a word that pymorphy3's dictionary knows has no
        form but its folded word and the lemmas of its dictionary parses (`all_forms`; see
        `_dictionary_lemmas` for why), so if none of these is a later word's value, it is
        ruled out. A word the dictionary does not know (lemmas guessed) never is. Each
        word's answer is remembered (a next word follows many live words). Over the
        benchmark corpus, 2,300 parses of next words in `_after` (80,000 instructions each)
        became 200; the lemmas cost ~34,000 a word (45,000 before `_normal_form_cut`, when
        this saved nothing)."""
        known = self._dead_words
        if len(known) > MAX_CACHED_WORDS:
            known.clear()
        asked = [word for word in dict.fromkeys(words) if word not in known]
        if asked:
            made = all_forms(asked, self.lang)
            alive = set(compress(made.owners, map(self._rest_forms.__contains__, made.forms)))
            alive.update(made.unknown)
            known.update((word, n not in alive) for n, word in enumerate(asked))
        return {word for word in words if known[word]}

    def _may_start(self, folded: str, heads: _Heads) -> bool:
        """Whether any form of the word could begin a phrase (the prefilter). The folded word
        is one of its beginnings and begins most candidates: it is tried before the others
        are made (clitics cut, stems)."""
        return heads.may_begin(folded) or any(
            heads.may_begin(b) for b in beginnings(folded, self.lang)
        )

    def _quick_misses(self, words: list[str]) -> list[str]:
        """Of new words, those that may start a phrase, told for all at once from their lower
        case (1.1 µs a word one by one, measured on German words; the full path 18.7 µs):
        most words of an article surely start none. Words whose folding, clitics or
        stemming may change how they begin take `_quick_misses_folded`."""
        heads = self._heads()
        start_filter = self._start_filter(heads) if native is not None else None
        if self.lang in SLOW_START:
            clitics = _NATIVE_CLITICS.get(self.lang)
            if start_filter is not None and clitics is not None:
                # the words of the language's script told in Rust (see _NATIVE_CLITICS)
                words = start_filter.maybe(words, clitics=clitics)
                if not words:
                    return words
            return self._quick_misses_folded(words, heads)
        if start_filter is not None:
            # the same answer for most words in Rust, ~0.1 µs a word; Python tests the rest
            words = start_filter.maybe(words)
            if not words:
                return words
        joined = "\x00".join(words)
        lower = joined.lower()  # one call for all; never adds or drops a \x00
        lows = lower.split("\x00")
        # one search over all the words tells most texts that no word needs the test
        odd = (
            _SLOW_LETTERS.holds(joined)
            or bool(_CYRILLIC.holds(joined) and _LATIN.holds(joined))
            or not unicodedata.is_normalized("NFC", joined)
        )
        found = heads.in_batch(words, lows)
        if self._prefixes:
            found |= self._inside_words(lower, lows)
        odd_words: list[str] = []
        if odd:
            for n, text in enumerate(words):
                if not text.isascii() and _slow_word(text):
                    odd_words.append(text)
                    found.discard(n)
        slow = [words[n] for n in sorted(found)]
        if odd_words:
            slow += self._quick_misses_folded(odd_words, heads)
        return slow

    def _start_filter(self, heads: _Heads) -> Any:
        """The native module's part of _quick_misses: words no head begins (as written or in
        lower case) and that hold no prefix or infix name's first three letters, without
        letters that folding may change, cannot start a phrase (asked only with the module)."""
        assert native is not None
        if self._filter is None:
            names = [v for phrase in self._prefixes for v in phrase.words[0].values]
            try:
                self._filter = native.StartFilter(
                    sorted(heads.prefixes | heads.short),
                    sorted(heads.whole),
                    sorted(heads.exact),
                    names,
                )
            except (UnicodeError, ValueError):
                # a head Rust cannot hold (a lone surrogate from a YAML escape): Python
                # tests every word of this vocabulary, as without the module
                self._filter = False
        return None if self._filter is False else self._filter

    def _quick_misses_folded(self, words: list[str], heads: _Heads) -> list[str]:
        """_quick_misses for words whose folding, clitics or stems may change how they
        begin (Greek accents; Arabic, Hebrew clitics; Indonesian prefixes): the same test on
        each word's possible beginnings, folded for all words at once (7-10 -> ~3 µs a
        word in Arabic, Persian, Hebrew, Indonesian)."""
        joined = "\x00".join(words)
        folds = fold_all(words, joined, unconfused=False)
        lower = "\x00".join(folds)
        inside = self._inside_words(lower, folds) if self._prefixes else set()
        if self.lang not in SLOW_START:
            # only folding changes how these words begin (Greek accents, ё, a Latin letter
            # among Cyrillic ones): the heads' automata on the folded words, as in
            # _quick_misses, and each spelling of a word in two scripts
            found = inside | heads.in_batch(words, folds)
            found.update(
                n
                for n, text in enumerate(words)
                if n not in found
                and _CYRILLIC.holds(text)
                and _LATIN.holds(text)
                and any(heads.exact_may_begin(k) for k in exact_keys(text, self.lang))
            )
        else:
            # every beginning (clitics cut, stems) of every word tested at once: a superset
            # of `_may_start` on each word (7-10 -> ~2 µs a word in Arabic, Persian, Hebrew,
            # Indonesian); words in two scripts also as read in either
            flat, owners = all_beginnings(folds, self.lang)
            found = inside | heads.exact_batch(words)
            found.update(owners[i] for i in heads.lower_batch(flat))
            if _CYRILLIC.holds(joined) and _LATIN.holds(joined):
                found.update(
                    n
                    for n, text in enumerate(words)
                    if any(heads.exact_may_begin(k) for k in exact_keys(text, self.lang))
                )
        return [words[n] for n in sorted(found)]

    def _may_live(self, words: list[str]) -> list[str]:
        """Of candidates, those that `_starts` could find to start some phrase: a form that
        is a first word's key, an `exact_keys` spelling that is a case-sensitive first
        word, a form that holds a prefix or infix name; and the words whose forms are not
        all known here (`AllForms.unknown`). The forms of all words made at once
        (`all_forms`; in Russian and Ukrainian, the lemmas of every dictionary parse) and
        each test on all of them in C: a superset of the words `_starts` finds live (it
        also asks `_may_start` and `exact_may_begin` first)."""
        made = all_forms(words, self.lang)
        found = set(compress(made.owners, map(self._by_form.__contains__, made.forms)))
        found.update(made.unknown)
        heads = self._heads()
        if made.bases and heads.beginnings is not None:
            # a `~` key that begins a base, at least as long as its shortest beginning
            found.update(
                made.base_owners[n]
                for n, length in _heads_met(heads.beginnings, made.bases)
                if length >= made.shortest[n]
            )
        if self._prefixes:
            inside = self._inside_words("\x00".join(made.forms), made.forms)
            found.update(made.owners[n] for n in inside)
        if self._by_text:
            # a key that begins the word begins it with a head (`exact_batch`); other keys
            # are asked for
            asked = heads.exact_batch(words).union(exact_keys_inside(words, self.lang))
            found.update(
                n
                for n in asked
                if any(key in self._by_text for key in exact_keys(words[n], self.lang))
            )
        return [words[n] for n in sorted(found)]

    def _start_nothing(self, words: list[str], but: set[str]) -> None:
        """Remember that no phrase starts at these words (all but `but`)."""
        self._starting.update(dict.fromkeys((w for w in words if w not in but), ()))

    def _inside_words(self, lower: str, lows: list[str]) -> set[int]:
        """Which of the \\x00-joined lower-case words hold a prefix phrase's first word at
        their start or an infix phrase's inside them: one Aho-Corasick pass for all words."""
        found: set[int] = set()
        for end, (value, kinds) in self._names().iter(lower):
            start = end - len(value) + 1
            n = lower.count("\x00", 0, start)
            if n in found:
                continue
            for kind, _ in kinds:
                if (kind == "prefix" and (start == 0 or lower[start - 1] == "\x00")) or (
                    kind == "infix" and contains(lows[n], value)
                ):
                    found.add(n)
                    break
        return found

    def _forget_starts(self) -> None:
        self._remembering = False
        self._starting.clear()
        self._live.clear()
        self._pairs.clear()
        if self._table is not None:
            self._table.clear()
        self._afters.clear()
        self._dead_words.clear()

    def _remember(self, text: str, found: tuple[tuple[int, int, tuple[_Word, ...]], ...]) -> None:
        self._starting[text] = found
        if found:
            self._live.add(text)

    def _starts(self, text: str) -> None:
        """The phrases that can start at a word so written, from its forms (the full path)."""
        heads = self._heads()
        folded = fold(unconfuse(text))
        candidate = self._may_start(folded, heads)
        pids: set[int] = set()
        token_forms = forms(text, self.lang) if candidate else frozenset({folded})
        if candidate:
            # the few forms some phrase begins with, by a set intersection in C: a Python
            # lookup per form (up to ten with the `~` beginnings) cost as much as forms()
            for form in self._by_form.keys() & token_forms:
                pids.update(self._by_form[form])
        for key in exact_keys(text, self.lang):
            if heads.exact_may_begin(key):
                pids.update(self._by_text.get(key, ()))
        if self._prefixes:
            pids.update(self._inside(token_forms))
        phrases = [self.phrases[pid] for pid in sorted(pids)]
        self._remember(text, tuple((p.pid, len(p.words) - 1, p.rest) for p in phrases))

    def find(self, tokens: list[str]) -> dict[int, list[tuple[int, int]]]:
        """Phrase id -> (first, last) token positions of its every match, in text order. The
        native module, or set operations in C, find the new words and the words that start
        anything; Python looks only at those (most of an article's words are neither)."""
        self._remembering = True
        if self._table is not None:
            return self._find_native(tokens, self._table)
        return self._find_python(tokens)

    def _new_words(self, new: list[str]) -> list[str]:
        """Of words met for the first time, those that start some phrase (their phrases
        remembered in _starting)."""
        self._remembering = True  # as find(): what _starts remembers is for these phrases
        slow = self._quick_misses(new) if QUICK else new
        if QUICK and slow and self.lang not in SPACELESS:
            # most candidates start nothing: told for all at once (spaceless languages'
            # few candidates nearly all start something)
            live = self._may_live(slow)
            self._start_nothing(slow, set(live))
            slow = live
        for text in slow:
            self._starts(text)
        return [text for text in slow if self._starting[text]]

    def _find_native(self, tokens: list[str], table: Any) -> dict[int, list[tuple[int, int]]]:
        """`find` with the native word table: each token is looked up once in Rust, where
        the set operations, the scan for live words and the pairs' lookups cost 0.4 s in
        Python over the benchmark corpus. The same decisions, the same caches' limits."""
        try:
            return self._find_in_table(tokens, table)
        except BaseException:
            # the table records new words and pairs' slots before Python has read them: a
            # failure half-way (an article the agent then dead-letters) must not leave words
            # that start nothing or slots without their phrases for every later text
            self._forget_starts()
            raise

    def _find_in_table(self, tokens: list[str], table: Any) -> dict[int, list[tuple[int, int]]]:
        new = table.scan(tokens)
        if new:
            if len(table) > MAX_CACHED_WORDS:  # as in _find_python
                self._forget_starts()
                new = table.scan(tokens)
            table.learn(self._new_words(new))
        if table.pair_count() > MAX_CACHED_WORDS:
            table.clear_pairs()
            self._afters.clear()
        size = len(tokens)
        firsts = table.live_pairs()
        dead = self._dead_ends([tokens[i + 1] for i in firsts if i + 1 < size]) if firsts else None
        fresh = [
            self._after(tokens[i], tokens[i + 1] if i + 1 < size else None, dead) for i in firsts
        ]
        self._afters += fresh
        # only the live tokens whose pair starts some phrase come back (a third of them)
        places = iter(table.matched([bool(after) for after in fresh]))  # i, slot, i, slot...
        afters = self._afters
        starts = ((i, afters[slot]) for i, slot in zip(places, places, strict=True))
        return self._collect(tokens, starts)

    def _find_python(self, tokens: list[str]) -> dict[int, list[tuple[int, int]]]:
        """`find` without the native module."""
        words = set(tokens)
        new = words.difference(self._starting)
        if new:
            if len(self._starting) + len(new) > MAX_CACHED_WORDS:
                # bounded memory, cleared between texts: every word of this one is new again
                # (a word remembered before the clear would lose its phrases here)
                self._forget_starts()
                new = words
            listed = list(new)
            self._start_nothing(listed, set(self._new_words(listed)))
        if len(self._pairs) > MAX_CACHED_WORDS:
            self._pairs.clear()
        live = self._live.intersection(words)
        if not live:
            return {}
        pairs = self._pairs
        size = len(tokens)

        def starts() -> Iterator[tuple[int, tuple[tuple[int, int, tuple[_Word, ...]], ...]]]:
            # the positions of live words, tested in C (a Python test per token cost more
            # than the rest of this loop)
            for i in compress(range(size), map(live.__contains__, tokens)):
                key = (tokens[i], tokens[i + 1] if i + 1 < size else None)
                after = pairs.get(key)
                if after is None:
                    after = pairs[key] = self._after(*key)
                yield i, after

        return self._collect(tokens, starts())

    def _collect(
        self,
        tokens: list[str],
        starts: Iterable[tuple[int, tuple[tuple[int, int, tuple[_Word, ...]], ...]]],
    ) -> dict[int, list[tuple[int, int]]]:
        """`find`'s answer from each live token's position and the phrases that start there
        and go on with the next token (in text order): their further words matched here."""
        found: dict[int, list[tuple[int, int]]] = {}
        lang = self.lang
        size = len(tokens)
        for i, after in starts:
            for pid, length, rest in after:
                last = i + length
                if last >= size:
                    continue
                if rest and not all(
                    w.matches(tokens[k], lang) for k, w in enumerate(rest, start=i + 2)
                ):
                    continue
                if pid in found:
                    found[pid].append((i, last))
                else:
                    found[pid] = [(i, last)]
        return found

    def _after(
        self, text: str, following: str | None, dead: set[str] | None = None
    ) -> tuple[tuple[int, int, tuple[_Word, ...]], ...]:
        """The phrases starting at a word so written that the next token (None: the text
        ends) continues, each with its words after the second, still to be matched. A
        following word in `dead` (see _dead_ends) matches no second word of "forms" kind."""
        found = []
        skip = dead is not None and following in dead
        for pid, length, rest in self._starting[text]:
            if not rest:
                found.append((pid, length, rest))
            elif following is None or (skip and rest[0].kind == "forms"):
                continue
            elif rest[0].matches(following, self.lang):
                found.append((pid, length, rest[1:]))
        return tuple(found)


class Hit(NamedTuple):
    """A phrase's match that counts (a tuple: made 4x faster than a frozen dataclass, and
    tens of thousands are made over a corpus)."""

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


# A Hit from a tuple of its fields, made in C (Hit._make is a Python function: 0.04 s of
# cProfile over the benchmark corpus's 46,700 hits); for the native module's checked tuples
_new_hit: Callable[[tuple[str, str, int, int, int, int]], Hit] = partial(tuple.__new__, Hit)


# Places that share a country's or a city's name are told apart the way the press does it,
# by the state after a comma: Syria, Virginia; Damascus, Maryland; Palestine, Texas.
_STATES = """alabama alaska arizona arkansas california colorado connecticut delaware florida
    georgia hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland
    massachusetts michigan minnesota mississippi missouri montana nebraska nevada new north
    ohio oklahoma oregon pennsylvania rhode south tennessee texas utah vermont virginia
    washington west wisconsin wyoming ontario quebec alberta manitoba saskatchewan county
    va ind ky tenn md pa oh tx"""
_QUALIFIERS = frozenset(_STATES.split())
_SENTENCE_END = re.compile(r"[.!?;:]")


class _Text:
    """A field's text and tokens, shared by every normalization language."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        # with the native module, every part's offset comes with the parts (see offsets)
        self.parts, self._offset_bytes = split_offsets(text)
        self.tokens = self.parts[1::2]
        # part index -> character offset for the parts measured so far, and those parts
        # in order (see _offset)
        self._offsets: dict[int, int] = {0: 0}
        self._measured: list[int] = [0]
        # with the native module: every part's offset as memoryview of _offset_bytes
        self._starts: memoryview | None = None
        self.namesakes: set[str] = set()  # terms found qualified here (Syria, Virginia)

    def qualified(self, last: int) -> bool:
        """Whether the words ending at `last` are followed by ", <US state>" (a namesake)."""
        if last + 1 >= len(self.tokens) or "," not in self.parts[2 * last + 2]:
            return False
        return self.tokens[last + 1].lower() in _QUALIFIERS

    def defined_by(self, at: int) -> tuple[int, int] | None:
        """When the word at `at` is an abbreviation in parentheses right after the words it
        stands for, in one sentence ("Partai Bulan Bintang (PBB)", "Pajak Bumi dan Bangunan
        Perdesaan dan Perkotaan (PBB-P2)": their capitals begin with it), those words' token
        range: the text says what the abbreviation means here."""
        abbreviation = self.tokens[at]
        if not (2 <= len(abbreviation) <= 6 and abbreviation.isupper()):
            return None
        if not self.parts[2 * at].rstrip().endswith("("):
            return None
        initials = ""
        for i in range(at - 1, max(-1, at - 11), -1):
            if i < at - 1 and _SENTENCE_END.search(self.parts[2 * i + 2]):
                return None
            word = self.tokens[i]
            if word[:1].isupper():
                initials = word[0] + initials
                if initials.startswith(abbreviation) and len(initials) <= len(abbreviation) + 3:
                    return i, at - 1
        return None

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Character offsets of tokens first..last: read from all parts' offsets, which the
        native module sums in ~7 µs a body (cProfile gave the Python path's _offset and span 0.38 s
        over the benchmark corpus), else measured only where hits are."""
        if native is None:
            return self._offset(2 * first + 1), self._offset(2 * last + 2)
        starts = self._starts
        if starts is None:
            starts = self._starts = memoryview(self.offsets()).cast("Q")
        return starts[2 * first + 1], starts[2 * last + 2]

    def offsets(self) -> bytes:
        """Every part's offset as native part_offsets gives them (only with the module):
        split_offsets found them with the parts."""
        assert native is not None
        if self._offset_bytes is None:
            self._offset_bytes = native.part_offsets(self.parts)
        return self._offset_bytes

    def _offset(self, part: int) -> int:
        """Where a part begins: the nearest part measured before it and the length of the
        parts between, joined in C (the running sums of all parts' lengths cost 40-65 µs a
        body, more than the rest of its hits)."""
        at = self._offsets.get(part)
        if at is None:
            n = bisect(self._measured, part)
            below = self._measured[n - 1]
            at = self._offsets[below] + len("".join(self.parts[below:part]))
            self._offsets[part] = at
            self._measured.insert(n, part)
        return at


def _place(token: str, values: frozenset[str]) -> tuple[int, int] | None:
    """Where in `token` one of `values` lies, (start, end), for _inside."""
    folded = fold(token)
    if len(folded) != len(token):
        return None
    for value in values:
        at = folded.find(value)
        if at >= 0:
            return at, at + len(value)
    return None


class _Field:
    """One field in one language: where each phrase of that language matches, found once per
    tagging for all topics and roles."""

    def __init__(self, text: _Text, vocabulary: _Vocabulary) -> None:
        self.source = text
        self.name = text.name
        self.vocabulary = vocabulary
        self.matches = vocabulary.find(text.tokens)
        self._native: Any = None  # the native module's FieldMatches, made when first asked
        # id of a rules' phrase list -> its hits and namesakes (see _gather): the rules ask
        # for one list many times per tagging (contexts once per field), and the lists outlive
        # the tagging, so their ids stay theirs meanwhile
        self._gathered: dict[int, tuple[tuple[Hit, ...], tuple[Hit, ...]]] = {}
        # phrase id -> the same for one phrase: many lists share phrases (a topic's terms
        # and its contexts' groups name Astana alike)
        self._located: dict[int, tuple[list[Hit], list[Hit]]] = {}

    def find(self, phrases: _Phrases, masked: set[int] | None = None) -> tuple[Hit, ...]:
        """The hits of `phrases` outside the `masked` token positions, in the order of the
        list, each phrase's in text order (shared: not to be modified)."""
        if phrases.ids.isdisjoint(self.matches):
            return ()
        gathered = self._gathered.get(id(phrases))
        if gathered is None:
            gathered = self._gathered[id(phrases)] = self._gather(phrases)
        hits, namesakes = gathered
        if masked:
            hits, namesakes = _outside(hits, masked), _outside(namesakes, masked)
        if namesakes:
            self.source.namesakes.update(h.term for h in namesakes)
        return hits

    def native_matches(self) -> Any:
        """The matches located for the native rules (only with the module): offsets summed
        there; which matches a US state follows, and where a name lies inside a longer word,
        told here, as `_locate` tells them."""
        if self._native is None:
            assert native is not None
            source = self.source
            spans: dict[int, list[tuple[int, int]]] = {}
            inside = self.vocabulary.inside
            for pid in self.vocabulary.infix.intersection(self.matches):
                spans[pid] = [
                    inside(source.tokens[first], pid, *source.span(first, last))
                    if first == last
                    else source.span(first, last)
                    for first, last in self.matches[pid]
                ]
            self._native = native.FieldMatches(
                self.matches, source.parts, source.offsets(), _QUALIFIERS, spans
            )
        return self._native

    def _gather(self, phrases: _Phrases) -> tuple[tuple[Hit, ...], tuple[Hit, ...]]:
        """Every match of `phrases` in the field, in the order of the list: the hits, and
        the matches followed by a US state, which name namesakes rather than hits."""
        hits: list[Hit] = []
        namesakes: list[Hit] = []
        matched = phrases.ids.intersection(self.matches)
        for n in sorted(n for pid in matched for n in phrases.places[pid]):
            found, qualified = self._locate(phrases.items[n])
            hits += found
            namesakes += qualified
        return tuple(hits), tuple(namesakes)

    def _locate(self, phrase: _Phrase) -> tuple[list[Hit], list[Hit]]:
        """_gather for one phrase that matches."""
        located = self._located.get(phrase.pid)
        if located is not None:
            return located
        hits: list[Hit] = []
        namesakes: list[Hit] = []
        span = self.source.span
        for first, last in self.matches[phrase.pid]:
            start, end = span(first, last)
            if phrase.words[0].kind == "infix" and first == last:
                start, end = self.vocabulary.inside(
                    self.source.tokens[first], phrase.pid, start, end
                )
            hit = Hit(phrase.term, self.name, first, last, start, end)
            (namesakes if self.source.qualified(last) else hits).append(hit)
        self._located[phrase.pid] = hits, namesakes
        return hits, namesakes


def _outside(hits: tuple[Hit, ...], masked: set[int]) -> tuple[Hit, ...]:
    return tuple(h for h in hits if masked.isdisjoint(range(h.first, h.last + 1)))


@dataclass(frozen=True)
class _CompiledContext:
    anchors: _Phrases
    context: _Phrases
    window: int
    groups: tuple[_Phrases, ...] = ()  # all of them in one field, instead of anchors
    group_ids: frozenset[int] = frozenset()  # every phrase of the groups


@dataclass(frozen=True)
class _CompiledRules:
    lang: str
    terms: _Phrases
    contexts: list[_CompiledContext]
    exclude: _Phrases
    none: _Phrases
    ids: frozenset[int] = frozenset()  # every phrase of these rules
    _native: Any = field(default=None, compare=False)  # the native RuleSet, made when needed

    @classmethod
    def of(
        cls, rules: LanguageRules, lang: str, vocabularies: dict[str, _Vocabulary]
    ) -> _CompiledRules:
        # "*" rules have no language of their own: English normalization is a neutral choice.
        norm = "en" if lang == ANY_LANGUAGE else lang
        vocabulary = vocabularies.get(norm)
        if vocabulary is None:  # made only when missing (it holds a native WordTable)
            vocabulary = vocabularies[norm] = _Vocabulary(norm)
        phrases = vocabulary.phrases_of_all

        terms = _Phrases.of(phrases(rules.terms) + phrases(rules.exact, exact=True))
        contexts = []
        for rule in rules.context:  # phrases made in the order of the rules: ids as before
            anchors = _Phrases.of(phrases(rule.terms))
            context = _Phrases.of(phrases(rule.with_))
            groups = tuple(_Phrases.of(phrases(g)) for g in rule.all_of)
            group_ids = frozenset().union(*(g.ids for g in groups))
            contexts.append(_CompiledContext(anchors, context, rule.window, groups, group_ids))
        exclude = _Phrases.of(phrases(rules.exclude))
        none = _Phrases.of(phrases(rules.none))
        return cls.made(norm, terms, contexts, exclude, none)

    @classmethod
    def made(
        cls,
        norm: str,
        terms: _Phrases,
        contexts: list[_CompiledContext],
        exclude: _Phrases,
        none: _Phrases,
    ) -> _CompiledRules:
        """The rules of these phrase lists, with the ids of all their phrases."""
        ids = terms.ids | exclude.ids | none.ids
        for c in contexts:
            ids |= c.anchors.ids | c.context.ids | c.group_ids
        return cls(norm, terms, contexts, exclude, none, ids)

    def diagnose(self, fields: list[_Field], texts: dict[str, str]) -> list[str]:
        """What these rules set aside in these fields, in words, for `topics explain`."""
        notes: list[str] = []

        def quoted(hits: Iterable[Hit]) -> str:
            return ", ".join(sorted({repr(texts[h.field][h.start : h.end]) for h in hits}))

        ruled_out = [h for fld in fields for h in fld.find(self.none)]
        if ruled_out:
            notes.append(f"[{self.lang}] ruled out by {quoted(ruled_out)}")
        named = [h for fld in fields for h in fld.find(self.terms)]
        other = [h for h in named if h not in _without_other_meanings(named, fields)]
        if other:
            notes.append(f"[{self.lang}] {quoted(other)}: the text defines it as something else")
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
        if native is not None:
            return self._native_hits(fields)  # which tells rules without a match at once
        if all(self.ids.isdisjoint(fld.matches) for fld in fields):
            return []  # what the rules below conclude when none of their phrases matched
        return self._python_hits(fields)

    def _native_hits(self, fields: list[_Field]) -> list[Hit]:
        """`hits` by the native module's RuleSet: the same decisions on the same located
        matches, without a Python object per phrase list, match or set of positions (the
        Python path cost 0.8 s over the benchmark corpus)."""
        assert native is not None
        rules = self._native
        if rules is None:
            rules = native.RuleSet(
                [p.pid for p in self.terms.items],
                [
                    (
                        [p.pid for p in c.anchors.items],
                        [p.pid for p in c.context.items],
                        c.window,
                        [[p.pid for p in g.items] for g in c.groups],
                    )
                    for c in self.contexts
                ],
                [p.pid for p in self.exclude.items],
                [p.pid for p in self.none.items],
                {pid: fields[0].vocabulary.phrases[pid].term for pid in self.ids},
            )
            object.__setattr__(self, "_native", rules)
        found, named = rules.labelled(
            [fld.native_matches() for fld in fields], [fld.name for fld in fields]
        )
        if named:
            phrases = fields[0].vocabulary.phrases
            for n, pid in named:
                fields[n].source.namesakes.add(phrases[pid].term)
        if not found:
            return []
        return _without_other_meanings(list(map(_new_hit, found)), fields)

    def _python_hits(self, fields: list[_Field]) -> list[Hit]:
        """`hits` without the native module, for rules with some phrase matched."""
        if self.none.items and any(fld.find(self.none) for fld in fields):
            return []
        found: list[Hit] = []
        title_has_context: dict[int, bool] = {}
        for fld in fields:
            # A phrase list without a match in the field finds nothing there, and does not
            # note namesakes either: such a field's, or groups', turn may be skipped.
            if self.ids.isdisjoint(fld.matches):
                continue
            masked = {i for h in fld.find(self.exclude) for i in range(h.first, h.last + 1)}
            found += fld.find(self.terms, masked)
            for n, ctx in enumerate(self.contexts):
                if ctx.groups:
                    if ctx.group_ids.isdisjoint(fld.matches):
                        continue
                    together = _near([fld.find(g, masked) for g in ctx.groups], ctx.window)
                    if together and (
                        not ctx.context.items or any(f.find(ctx.context) for f in fields)
                    ):
                        found += together
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
        return _without_other_meanings(found, fields) if found else found


def _near(groups: list[tuple[Hit, ...]], window: int) -> list[Hit]:
    """The hits of every group that lie within `window` words of a hit of each other group
    (Kazakhstan and "talks" in one sentence, not one in the first paragraph and the other in
    the last), or none when some group has no such hit."""
    if not all(groups):
        return []
    kept = [
        [h for h in hits if all(any(abs(o.first - h.first) <= window for o in g) for g in groups)]
        for hits in groups
    ]
    return [h for hits in kept for h in hits] if all(kept) else []


def _without_other_meanings(found: list[Hit], fields: list[_Field]) -> list[Hit]:
    """Hits without the names the article places elsewhere, and without the abbreviations
    the article itself defines as something else: "PBB" after "Partai Bulan Bintang (PBB)"
    is a party, not the UN, in every field of the article. The UN's own expansion before it
    ("Perserikatan Bangsa-Bangsa (PBB)") is a hit of the topic, and then it stands."""
    texts = {fld.name: fld.source for fld in fields}
    # One sense per article: a name the text once places in a US state ("Syria, Va.") is that
    # namesake wherever else the article repeats it ("the Syria store")
    namesakes = set().union(*(t.namesakes for t in texts.values()))
    if namesakes:
        found = [h for h in found if h.term not in namesakes]
    other: set[str] = set()
    # defined_by needs a "(" before the word: most articles have none, and most hits' gaps
    # neither (38,000 calls to it found 30 abbreviations over the benchmark corpus)
    if not any("(" in t.text for t in texts.values()):
        return found
    for hit in found:
        if hit.first != hit.last:
            continue
        source = texts[hit.field]
        if "(" not in source.parts[2 * hit.first]:
            continue
        defined = source.defined_by(hit.first)
        if defined is None:
            continue
        own = any(
            h.field == hit.field and defined[0] <= h.first and h.last <= defined[1] for h in found
        )
        if not own:
            other.add(source.tokens[hit.first])
    if not other:
        return found
    return [h for h in found if not (h.first == h.last and texts[h.field].tokens[h.first] in other)]


_START = itemgetter(4)  # Hit.start


def _scored(hits: list[Hit], title_weight: float) -> tuple[float, list[Hit]]:
    """A topic's score (title_weight a title hit, 1 a body hit, summed in order) and its hits
    in evidence order (title first, then by offset; stable), sorted by a C-level getter: a
    key lambda per hit cost ~0.02 s of cProfile over the benchmark corpus."""
    if not hits:
        return 0, []
    score = sum(title_weight if h.field == "title" else 1.0 for h in hits)
    titles = sum(1 for h in hits if h.field == "title")
    ordered = sorted(hits, key=_START)
    if 0 < titles < len(hits):
        ordered = [h for h in ordered if h.field == "title"] + [
            h for h in ordered if h.field != "title"
        ]
    return score, ordered


def _pids(phrases: _Phrases) -> tuple[list[int], dict[int, tuple[int, ...]]]:
    """A phrase list as its ids and their places (made again without `_Phrases.of`'s loop)."""
    return [p.pid for p in phrases.items], phrases.places


def _snapshot(vocabulary: _Vocabulary, compiled: list[_CompiledRules]) -> tuple[Any, ...]:
    """A vocabulary just compiled from rules and those rules, as strings, numbers, lists
    and dicts (rules_cache), for `_restored` to make again. Only what compiling sets is
    kept: the rest of a vocabulary starts empty, as before its first text. The heads made
    for the file are the vocabulary's own kept heads too (as if read from it), so its first
    text does not make them again."""
    vocabulary._kept_heads = _kept(
        _heads_of(vocabulary.lang, vocabulary._by_form, vocabulary._by_text)
    )
    vocabulary._kept_rest_heads = _kept(_heads_of(vocabulary.lang, vocabulary._rest_forms, ()))
    words = list(vocabulary._words.values())
    place = {id(w): n for n, w in enumerate(words)}
    phrases = list(vocabulary.phrases.values())
    if [p.pid for p in phrases] != list(range(len(phrases))) or any(
        found is not p for found, p in zip(vocabulary._by_key.values(), phrases, strict=True)
    ):
        raise AssertionError("a compiled vocabulary's phrases are not in id order")
    return (
        [(kind, text, list(w.values)) for (kind, text), w in vocabulary._words.items()],
        [(p.term, [place[id(w)] for w in p.words]) for p in phrases],
        list(vocabulary._by_key),
        [
            (term, exact, [p.pid for p in found])
            for (term, exact), found in vocabulary._phrases_of.items()
        ],
        vocabulary._by_form,
        vocabulary._by_text,
        [p.pid for p in vocabulary._prefixes],
        sorted(vocabulary.infix),
        sorted(vocabulary._rest_forms),
        vocabulary._kept_heads,
        vocabulary._kept_rest_heads,
        [
            (
                _pids(rules.terms),
                [
                    (_pids(c.anchors), _pids(c.context), c.window, [_pids(g) for g in c.groups])
                    for c in rules.contexts
                ],
                _pids(rules.exclude),
                _pids(rules.none),
            )
            for rules in compiled
        ],
    )


def _kept_heads(data: Any) -> _KeptHeads:
    """Kept heads as read, of the shape `_heads()` makes a _Heads from (else ValueError)."""
    size, *sets = data
    if not isinstance(size, int) or len(sets) != 5 or not all(isinstance(s, list) for s in sets):
        raise ValueError("heads of another shape")
    return (size, *sets)


def _restored(norm: str, data: Any, count: int) -> tuple[_Vocabulary, list[_CompiledRules]] | None:
    """The vocabulary and `count` rules `_snapshot` kept, made again as compiling made them;
    None for data of another shape (a file of other code: compiled anew)."""
    if data is None:
        return None
    try:
        return _restore(norm, data, count)
    except (ValueError, TypeError, IndexError, KeyError):
        return None


def _restore(norm: str, data: Any, count: int) -> tuple[_Vocabulary, list[_CompiledRules]]:
    (word_data, phrase_data, keys, phrases_of, by_form, by_text, prefixes, infix, rest) = data[:9]
    heads, rest_heads, rules = data[9:]
    if len(rules) != count or len(keys) != len(phrase_data):
        raise ValueError("rules of another count")
    vocabulary = _Vocabulary(norm)
    words = [_Word(kind, frozenset(values)) for kind, _, values in word_data]
    vocabulary._words = {
        (kind, text): w for (kind, text, _), w in zip(word_data, words, strict=True)
    }
    phrases = [
        _Phrase(term, tuple([words[n] for n in places]), pid)
        for pid, (term, places) in enumerate(phrase_data)
    ]
    at = phrases.__getitem__
    vocabulary.phrases = dict(enumerate(phrases))
    vocabulary._by_key = dict(zip(map(tuple, keys), phrases, strict=True))
    vocabulary._phrases_of = {
        (term, exact): tuple(map(at, pids)) for term, exact, pids in phrases_of
    }
    vocabulary._by_form = by_form
    vocabulary._by_text = by_text
    vocabulary._prefixes = list(map(at, prefixes))
    vocabulary.infix = set(infix)
    vocabulary._rest_forms = set(rest)
    vocabulary._kept_heads = _kept_heads(heads)
    vocabulary._kept_rest_heads = _kept_heads(rest_heads)

    def listed(kept: tuple[list[int], dict[int, tuple[int, ...]]]) -> _Phrases:
        pids, places = kept
        return _Phrases(tuple(map(at, pids)), frozenset(places), places)

    compiled = []
    for terms, contexts, exclude, none in rules:
        made = []
        for anchors, context, window, groups in contexts:
            parts = tuple(map(listed, groups))
            group_ids: frozenset[int] = frozenset().union(*(g.ids for g in parts))
            made.append(
                _CompiledContext(listed(anchors), listed(context), window, parts, group_ids)
            )
        compiled.append(
            _CompiledRules.made(norm, listed(terms), made, listed(exclude), listed(none))
        )
    return vocabulary, compiled


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
        self._choices: dict[str, list[list[_CompiledRules]]] = {}  # language -> _chosen, per topic

    @property
    def topic_ids(self) -> list[str]:
        return [topic.id for topic, _ in self._topics]

    def _codes(self, n: int, lang: str) -> list[str]:
        """Which of topic `n`'s rules apply to a text in `lang`, in order."""
        by_lang = self._topics[n][1]
        codes = [code for code in by_lang if code in (lang, ANY_LANGUAGE)]
        if lang not in by_lang:
            near = [c for c in NEIGHBOURS.get(lang, ()) if c in by_lang]
            codes = codes + near if near else list(by_lang)
        return codes

    def _chosen(self, n: int, lang: str) -> list[_CompiledRules]:
        by_lang = self._topics[n][1]
        found = []
        for code in self._codes(n, lang):
            compiled = self._compiled.get((n, code))
            if compiled is None:
                compiled = _CompiledRules.of(by_lang[code], code, self._vocabularies)
                self._compiled[(n, code)] = compiled
            found.append(compiled)
        return found

    def _compile(self, lang: str) -> list[list[_CompiledRules]]:
        """Every topic's rules for `lang` (`_chosen`), compiled with the cyclic collector
        paused, then frozen with all else loaded so far. What compiling makes lives as long
        as the tagger and holds no garbage: over the benchmark corpus the collector's passes
        during the compiles (~150, one of them full) freed nothing and cost ~0.03 s of CPU,
        and a later full pass over the same objects ~0.02 s. Refcounting still frees frozen
        objects (a tagger replaced on reload); as in tokens._morph."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._compile_new(lang)
            choices = [self._chosen(n, lang) for n in range(len(self._topics))]
        finally:
            if enabled:
                gc.enable()
        gc.freeze()
        return choices

    def _compile_new(self, lang: str) -> None:
        """Compile, or read from rules_cache, the rules `_chosen` will ask for in `lang`
        that go into a vocabulary not made yet. Such a vocabulary's phrases (their ids, the
        indexes) depend only on the rules compiled into it, in the order `_chosen` asks for
        them: topic by topic, each topic's codes in order; that is the order here too, so
        the vocabulary and its rules are what compiling them one by one makes. Rules for a
        vocabulary already made (a `*` rule's English, then English's own) are left to
        `_chosen`, which adds them to it as before."""
        pending: dict[str, list[tuple[int, str]]] = {}
        for n in range(len(self._topics)):
            for code in self._codes(n, lang):
                if (n, code) not in self._compiled:
                    norm = "en" if code == ANY_LANGUAGE else code
                    pending.setdefault(norm, []).append((n, code))
        for norm, which in pending.items():
            if norm in self._vocabularies:
                continue
            codes = [code for _, code in which]
            rules = [self._topics[n][1][code] for n, code in which]
            where = rules_cache.path(norm, codes, rules)
            made = _restored(norm, rules_cache.load(where), len(which))
            if made is None:
                made = self._compiled_afresh(norm, codes, rules)
                rules_cache.save(where, _snapshot(*made))
            vocabulary, compiled = made
            self._vocabularies[norm] = vocabulary
            self._compiled.update(zip(which, compiled, strict=True))

    def _compiled_afresh(
        self, norm: str, codes: list[str], rules: list[LanguageRules]
    ) -> tuple[_Vocabulary, list[_CompiledRules]]:
        vocabularies = {norm: _Vocabulary(norm)}
        compiled = [
            _CompiledRules.of(r, c, vocabularies) for r, c in zip(rules, codes, strict=True)
        ]
        return vocabularies[norm], compiled

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
        choices = self._choices.get(lang)
        if choices is None:
            choices = self._choices[lang] = self._compile(lang)
        term_cache.save()  # the forms of new rules' words, for the next process
        for (topic, _), chosen in zip(self._topics, choices, strict=True):
            hits: dict[tuple[str, int], Hit] = {}
            notes: list[str] = []
            for rules in chosen:
                if rules.lang not in fields_by_lang:
                    vocabulary = self._vocabularies[rules.lang]
                    fields_by_lang[rules.lang] = [_Field(t, vocabulary) for t in sources]
                fields = fields_by_lang[rules.lang]
                found = rules.hits(fields)
                if found:
                    keep = hits.setdefault
                    for hit in found:
                        keep((hit.field, hit.first), hit)  # one position counts once
                if explain is not None:
                    notes += rules.diagnose(fields, texts)
            score, ordered = _scored(list(hits.values()), topic.title_weight)
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
