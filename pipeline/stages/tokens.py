"""Tokens and their normalized forms per language (lemmas, stems), so that one configured
term ("Сирия", "Astana talks") covers its inflected forms (Сирии, Сирией; Astana's)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Words; apostrophes and hyphens split (Suriye'de -> Suriye + de, UN-Sicherheitsrat ->
# UN + Sicherheitsrat, d'Astana -> d + Astana), consistently for terms and for text.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SPLIT = re.compile(r"([^\W_]+)")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff]")
_ARABIC_MARKS = re.compile(r"[\u064b-\u065f\u0670\u0640]")  # harakat, dagger alef, tatweel
# Arabic clitics written attached: wa-/fa- (and), bi-/li-/ka- (with/for/like), al- (the).
_ARABIC_PREFIX = re.compile(r"^(?:و|ف)?(?:ب|ل|ك)?(?:ال|لل)?")
_SNOWBALL = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "tr": "turkish",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ar": "arabic",
    "fa": "persian",
    "ro": "romanian",
    "pl": "polish",
    "sv": "swedish",
}
# Kazakh has no Snowball stemmer: the case, plural and possessive endings that news text puts
# on names, longest first (Астанада, Сирияның, келіссөздері).
_KK_SUFFIXES = sorted(
    {
        "дағы",
        "дегі",
        "тағы",
        "тегі",
        "ндағы",
        "ндегі",
        "ның",
        "нің",
        "дың",
        "дің",
        "тың",
        "тің",
        "ға",
        "ге",
        "қа",
        "ке",
        "на",
        "не",
        "ны",
        "ні",
        "ды",
        "ді",
        "ты",
        "ті",
        "да",
        "де",
        "та",
        "те",
        "нда",
        "нде",
        "дан",
        "ден",
        "тан",
        "тен",
        "нан",
        "нен",
        "мен",
        "бен",
        "пен",
        "лар",
        "лер",
        "дар",
        "дер",
        "тар",
        "тер",
        "сы",
        "сі",
        "ы",
        "і",
        "ларының",
        "лерінің",
        "лары",
        "лері",
        "дары",
        "дері",
        "тары",
        "тері",
    },
    key=len,
    reverse=True,
)


MIN_STEM = 4


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # as written
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]


def split(text: str) -> list[str]:
    """`text` as [gap, word, gap, word, ..., gap]: `[1::2]` are the texts of `tokenize(text)`,
    and the cumulative lengths give their offsets, without a Python object per token."""
    return _SPLIT.split(text)


def fold(word: str) -> str:
    """Lowercase, ё->е, Arabic/Persian letter variants and diacritics unified."""
    word = word.lower().replace("ё", "е")
    # A regex, not a loop over characters: simhash folds whole bodies (36 -> 3 µs per body).
    if _ARABIC_SCRIPT.search(word):
        word = _ARABIC_MARKS.sub("", word)
        word = word.replace("ي", "ی").replace("ى", "ی").replace("ك", "ک")
        word = word.replace("أ", "ا").replace("إ", "ا").replace("آ", "ا").replace("ة", "ه")
    return unicodedata.normalize("NFC", word)


@lru_cache(maxsize=4)
def _morph(lang: str) -> Any:
    # deferred on purpose: loading pymorphy3 and its dictionaries costs ~0.5 s, paid only by
    # a process that meets Russian or Ukrainian text
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang=lang)


@lru_cache(maxsize=32)
def _stemmer(lang: str) -> Callable[[str], str] | None:
    name = _SNOWBALL.get(lang)
    if name is None:
        return None
    import Stemmer  # deferred with the stemmer it builds (see _morph)

    stemmer = Stemmer.Stemmer(name)
    return stemmer.stemWord  # type: ignore[no-any-return]


def _kk_stem(word: str) -> str:
    for suffix in _KK_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=200_000)
def forms(word: str, lang: str) -> frozenset[str]:
    """Every normalized form of `word` in `lang`: the folded word itself plus its lemmas
    (Russian, Ukrainian: pymorphy3, up to three parses) or stem (Snowball; Kazakh suffixes)."""
    folded = fold(word)
    found = {folded}
    if lang in ("ru", "uk"):
        for parse in _morph(lang).parse(folded)[:3]:
            found.add(fold(parse.normal_form))
    elif lang == "kk":
        found.add(_kk_stem(folded))
    else:
        base = folded
        if lang in ("ar", "fa"):
            stripped = _ARABIC_PREFIX.sub("", folded)
            if len(stripped) >= 3:
                base = stripped
                found.add(base)
        stem = _stemmer(lang)
        if stem is not None:
            stemmed = stem(base)
            # Over-stemmed names collide with common words (Persian آستانه -> است, "is").
            if len(stemmed) >= MIN_STEM:
                found.add(stemmed)
    return frozenset(found)
