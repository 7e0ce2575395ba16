"""Neighbouring standards told apart by how often each writes its words.

Detectors read letters, and Indonesian and Malay, Danish and Norwegian, Czech and Slovak,
Slovenian and Croatian share nearly all of theirs: a headline of names and common words
comes out as the neighbour (Indonesian "Utusan PBB hadiri perundingan soal Suriah" as Malay;
Danish "Vestas får stor ordre" as Norwegian). Their vocabularies differ more than their
letters: Indonesian writes Suriah, Malay Syria; Danish frit, Norwegian fritt. Word lists
written by hand from one round's misses did not carry to the next; frequencies measured on
large corpora (wordfreq's lists, tools/gen_language_pairs.py) do not depend on our examples.

For each pair the table holds the words one language writes at least ten times as often as
the other, as a log10 ratio (clipped at 3); a text's ratios add up to a log-likelihood ratio
over the words that tell the two apart. The detector's answer stands unless its neighbour is
ten times as likely (MARGIN) and the text has no letter the neighbour does not write.
"""

from __future__ import annotations

import logging
import re
import zipfile
from functools import cache, lru_cache
from pathlib import Path

log = logging.getLogger(__name__)
TABLE = Path(__file__).with_name("language_pairs.zip")
# wordfreq's codes for the detector's
_CODES = {"nb": "no", "sh": "hr"}
_WORDFREQ = {code: name for name, code in _CODES.items()}
# The pairs in the table, as the detector answers them
PAIRS = (
    ("id", "ms"),
    ("da", "no"),
    ("sv", "no"),
    ("sv", "da"),
    ("sv", "nl"),
    ("da", "nl"),
    ("no", "nl"),
    ("cs", "sk"),
    ("sk", "sl"),
    ("sl", "hr"),
    ("cs", "pl"),
    ("sk", "pl"),
    ("bg", "ru"),
    ("bg", "mk"),
    ("ru", "uk"),
    ("sr", "ru"),  # Serbian Cyrillic: the Serbo-Croatian list spelled so
    ("sr", "mk"),
    ("sr", "bg"),
)
_NEIGHBOURS: dict[str, list[tuple[str, str]]] = {}
for _a, _b in PAIRS:
    _NEIGHBOURS.setdefault(_a, []).append((_b, f"{_a}-{_b}"))
    _NEIGHBOURS.setdefault(_b, []).append((_a, f"{_a}-{_b}"))
_IN_PARAGRAPHS = frozenset({"id", "ms", "da", "no"})
# Ten times as likely: on every development set (4,576 headlines, with and without the
# lead) no right answer changed at margins 0.5-3, and 11 wrong ones did from 1.0 down.
MARGIN = 1.0
# The start of a long text says enough (CLD2 reads the rest)
SAMPLE_CHARS = 600
_WORDS = re.compile(r"[^\W\d_]+")
# Every ASCII character `re` takes for no letter of _WORDS (digits, _, spaces, punctuation),
# made a space: in an ASCII sample the letters' runs are then the words str.split finds
_ASCII_NOT_LETTER = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalpha()})


def _words(sample: str) -> list[str]:
    """`_WORDS.findall(sample)`, exactly (a unit test compares them): for an ASCII sample,
    most of them (Latin-script languages' neighbours), with str's translate and split, which
    cost a fraction of `re`'s match per word."""
    if sample.isascii():
        return sample.translate(_ASCII_NOT_LETTER).split()
    return _WORDS.findall(sample)


def _member(name: str) -> str:
    """A member of the table, or "" (no evidence, the detector's answer stands) when the
    installed package lacks it: a broken install must not dead-letter every article."""
    try:
        with zipfile.ZipFile(TABLE) as archive:
            return archive.read(name).decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        # logged once per member: the readers' caches keep the empty answer
        log.error("language pairs table %s unreadable (%s): not weighed", name, exc)
        return ""


@cache
def _ratios(pair: str) -> dict[str, float]:
    """word -> log10 of how much more often the pair's first language writes it: read on
    the first text guessed as one of the two (~10-40 ms and 2-6 MB a pair)."""
    a, b = (_WORDFREQ.get(code, code) for code in pair.split("-"))
    found: dict[str, float] = {}
    for line in _member(f"{a}-{b}").splitlines():
        word, _, value = line.partition("\t")
        found[word] = float(value)
    return found


@lru_cache(maxsize=1)
def _alphabets() -> dict[str, frozenset[str]]:
    """Each language's letters beyond ASCII."""
    found = {}
    for line in _member("alphabets").splitlines():
        code, _, letters = line.partition("\t")
        found[_CODES.get(code, code)] = frozenset(c for c in letters if not c.isascii())
    return found


def has_neighbours(lang: str, paragraph: bool = False) -> bool:
    """Whether `lang` has a neighbour to weigh; in a paragraph only the standards CLD2
    confuses there too (Danish read as Norwegian, Indonesian as Malay, on dev): elsewhere it
    reads paragraphs right, and weighing them costs ~0.1 ms each."""
    return lang in (_IN_PARAGRAPHS if paragraph else _NEIGHBOURS)


def neighbour(text: str, lang: str) -> str | None:
    """The neighbour of `lang` the words of `text` make at least ten times as likely (the
    likeliest of several), or None."""
    if lang not in _NEIGHBOURS:
        return None
    sample = text[:SAMPLE_CHARS].lower()
    words = _words(sample)
    letters = {c for c in sample if not c.isascii() and c.isalpha()}
    alphabets = _alphabets()
    best, best_margin = None, MARGIN
    for other, pair in _NEIGHBOURS[lang]:
        if not letters <= alphabets.get(other, frozenset()):
            continue  # a letter the neighbour does not write (Slovak ä, Czech ř, Russian ы)
        ratios = _ratios(pair)
        evidence = sum(ratios.get(word, 0.0) for word in words)  # for the pair's first
        margin = evidence if pair.split("-")[0] == other else -evidence
        if margin >= best_margin:
            best, best_margin = other, margin
    return best
