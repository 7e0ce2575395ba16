"""tokens.py's cheaper forms of its regexes against the regexes they stand for, on many
words: every script the tagger meets, combining marks, title-case letters, digits of other
scripts, surrogates, the "\\x00" that joins words."""

from __future__ import annotations

import random
import re

from pipeline.stages import tokens

_ALPHABET = [
    *"aBzZ09_-'\x00\n ",
    *"AЯЁІҚӘаяёіқә",  # the tail's capitals and lower-case letters
    *"ДжЎўЪ",  # Cyrillic outside them
    *"ÉéßİıǅǄǆ",  # Latin-1, Turkish, title-case digraphs
    *"ΑαΩω\u2126",  # Greek, the ohm sign
    *"\u0301\u0307\u064b",  # combining marks
    *"٣৩\u00b2\u2167",  # other decimal digits, a superscript, a Roman numeral
    *"وفبلكالשוהבלמכ",  # Arabic and Hebrew clitic letters
    *"시국\u3042😀\ud800\udfff",
]


def _words(count: int, seed: int, alphabet: list[str] = _ALPHABET) -> list[str]:
    rng = random.Random(seed)
    words = ["", "UN", "BMTning", "COP29", "ООНга", "UNde", "Syria", "syria", "ООН", "ǅx"]
    words += ["ABc", "AB\n", "ABc\n", "xABc", "AbCDef", "A1Bc", "ABC٣", "ABСd", "ȺB"]
    words += ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(count)]
    capitals = [*"ABZАЯЁІҚӘ", *"abяёқә19٣", "x", "\u0301"]
    words += ["".join(rng.choices(capitals, k=rng.randint(1, 8))) for _ in range(count)]
    return words


def test_abbreviation_tail_is_the_regex_match() -> None:
    matched = 0
    for word in _words(40_000, 1):
        found = tokens._ABBREVIATION_TAIL.match(word)
        mine = tokens._abbreviation_tail(word)
        assert (mine and mine.groups()) == (found and found.groups()), ascii(word)
        matched += found is not None
    assert matched > 1_000  # the matches were tried, not only the skips


# The patterns tokens.py had before: optional groups (`(?:...)?`), and a match at the start
# and after each "\x00" of joined words
_ARABIC_PREFIX = re.compile(r"^(?:و|ف)?(?:ب|ل|ك)?(?:ال|لل)?")
_HEBREW_PREFIX = re.compile(r"^(?:ו)?(?:ש)?(?:כש|ב|ל|כ|מ)?(?:ה)?")
_ARABIC_BEFORE = re.compile(r"(?:^|(?<=\x00))(?:و|ف)?(?:ب|ل|ك)?(?:ال|لل)?")
_HEBREW_BEFORE = re.compile(r"(?:^|(?<=\x00))(?:ו)?(?:ש)?(?:כש|ב|ל|כ|מ)?(?:ה)?")
_CLITICS = [*"وفبلكالשוהבלמכ", "\x00", "\x00", "ا", "x", "\u064b"]


def test_cut_is_the_prefix_sub() -> None:
    words = _words(20_000, 2) + _words(20_000, 6, _CLITICS)
    pairs = [(tokens._ARABIC_PREFIX, _ARABIC_PREFIX), (tokens._HEBREW_PREFIX, _HEBREW_PREFIX)]
    for word in words:
        for prefix, before in pairs:
            assert tokens._cut(prefix, word) == before.sub("", word), ascii(word)
            assert prefix.match(word)[0] == before.match(word)[0], ascii(word)  # type: ignore[index]


def test_cut_all_cuts_every_word_as_the_pattern_at_each_start() -> None:
    rng = random.Random(3)
    words = _words(5_000, 4) + _words(5_000, 5, _CLITICS)
    pairs = [
        (tokens._ARABIC_PREFIX_ALL, _ARABIC_BEFORE, _ARABIC_PREFIX),
        (tokens._HEBREW_PREFIX_ALL, _HEBREW_BEFORE, _HEBREW_PREFIX),
    ]
    for _ in range(3_000):
        group = rng.sample(words, rng.randint(1, 6))
        joined = "\x00".join(group)
        for each_start, before, prefix in pairs:
            cut = tokens._cut_all(each_start, joined)
            assert cut == before.sub("", joined), ascii(joined)
            # what all_beginnings reads: each word cut as bases() cuts it alone
            assert cut.split("\x00") == [prefix.sub("", w) for w in joined.split("\x00")]
