"""The str-method checks that replaced `re` searches of the language stage (language_scripts'
_uz_latin, _kk_consonant, _ciones, _Scan.count and _letter_count, language_pairs' _words)
against the patterns they replaced, on generated strings of every script, combining marks,
apostrophe variants, surrogates and matches at the text's edges."""

from __future__ import annotations

import random
import re
import sys

import pytest

from pipeline.stages import language
from pipeline.stages import language_pairs as pairs
from pipeline.stages import language_scripts as scripts

# Characters the checks look at, their case and fold variants, and neighbours of every kind
_NEAR = [
    *"oOgGqQuUaAzZyY ",
    *scripts._UZ_APOSTROPHES,
    *"ğĞıIİiñÑcCiIoOnNeEsSſ\u212a",
    *"äÄüöşçėūħ",
    "\u0301",  # combining acute
    "\u0308",  # combining diaeresis
    *"дДᲁоОᲂіїєґЄЇҐӯўқғңөү",
    *"ابة\u06c7\u06cb",
    *"日本かカ",
    "\ud800",  # a lone surrogate
    "\udfff",
    "\U0001f600",
    *"1_-,.\n\t",
]


def _texts(seed: int, alphabet: list[str], count: int = 20000) -> list[str]:
    rng = random.Random(seed)
    texts = ["", "o", "o'", "o'z", "o'zb", "g\u2018ar", "q", "qu", "Q", "ones", "ciones"]
    for _ in range(count):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(12))))
    return texts


def _present(text: str) -> frozenset[str]:
    return frozenset(scripts._scanned().findall(text))


@pytest.mark.parametrize("enough", [1, 2, 3])
def test_uz_latin_counts_as_the_pattern(enough: int) -> None:
    words = ["o", "O", "g", "G", "zb", "ar", "a", "Zb", "bo", *scripts._UZ_APOSTROPHES]
    alphabet = [*_NEAR, *words, *words]
    for text in _texts(11 + enough, alphabet):
        expected = len(scripts._UZ_LATIN.findall(text)) >= enough
        assert scripts._uz_latin(text, _present(text), enough) == expected, repr(text)


def test_uz_latin_reads_only_the_apostrophes_the_scan_found() -> None:
    # the scan's letters decide which apostrophes are looked for: none present, no match
    assert scripts._uz_latin("o'zbek", frozenset("'"), 1)
    assert not scripts._uz_latin("o'zbek", frozenset(), 1)


def test_kk_consonant_found_as_by_the_pattern() -> None:
    for text in _texts(21, _NEAR):
        assert scripts._kk_consonant(text) == bool(scripts._KK_CONSONANT.search(text)), text


def test_ciones_found_as_by_the_pattern() -> None:
    pieces = ["ciones", "CIONES", "cIoNeS", "cioneſ", "cİones", "cıones", "ones", *_NEAR]
    for text in _texts(31, pieces):
        assert scripts._ciones(text) == bool(scripts._CIONES.search(text)), text


def test_ciones_prefilter_holds_every_fold_re_reads() -> None:
    # _ciones rejects a text whose lower case holds neither "ones" nor "oneſ": every
    # character `re` takes for o, n, e or s ignoring case must lower into those
    everything = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    for letter, lowered in (("o", "o"), ("n", "n"), ("e", "e"), ("s", "sſ")):
        for found in re.findall(letter, everything, re.IGNORECASE):
            assert found.lower() in lowered, (letter, found)


def test_scan_counts_letters_as_their_pattern() -> None:
    letters = [
        scripts._UK, scripts._KK_ONLY, scripts._TK_LATIN, scripts._MT, scripts._UZ_APOSTROPHE,
        scripts._ARABIC_ONLY, scripts._NOT_SR_CYRILLIC,
    ]  # fmt: skip
    alphabet = [*_NEAR, *"ħĦňýŇÝةثظйщЁѕЅ"]
    for text in _texts(41, alphabet, 5000):
        scan = scripts._Scan(text)
        for chars in letters:
            assert scan.count(chars) == len(chars.pattern.findall(text)), (text, chars.chars)
            assert scan.has(chars) == bool(chars.pattern.search(text)), (text, chars.chars)


def test_no_space_is_a_letter_and_every_alphabetic_character_is() -> None:
    # _letter_count splits on str's spaces and counts words str.isalpha takes whole
    letter = re.compile(r"[^\W\d_]")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isspace():
            assert not letter.match(char), hex(code)
        if char.isalpha():
            assert letter.match(char), hex(code)


def test_letter_count_counts_as_the_pattern() -> None:
    alphabet = [*_NEAR, "²", "½", "Ⅻ", "٣", "\u00a0", "\u2028", "\x1c", "ab", "Ша", "  "]
    for text in _texts(51, alphabet):
        expected = sum(map(len, scripts._LETTERS.findall(text)))
        assert scripts._letter_count(text) == expected, repr(text)


def test_pairs_words_are_the_pattern_s() -> None:
    alphabet = [*_NEAR, *"ab_1 -'\x7f\x00", "²", "word", "Word"]
    words = re.compile(r"[^\W\d_]+")
    ascii_only = [chr(c) for c in range(128)]
    for text in [*_texts(61, alphabet), *_texts(62, ascii_only)]:
        assert pairs._words(text) == words.findall(text), repr(text)


def test_tajik_words_grouped_find_what_the_plain_pattern_finds() -> None:
    # _TG_WORDS' forms grouped by first letter: the same matches as the plain alternation
    pieces = [*" ".join(scripts._TG_WORD_FORMS).split(), "ме", "кун", "ад", "янд", "МЕ", "ᲁар"]
    alphabet = [*_NEAR, *pieces, *pieces, " ", " ", "\u0306", "й"]
    for text in _texts(71, alphabet):
        found = scripts._TG_WORDS.findall(text)
        assert found == scripts._TG_WORDS_PLAIN.findall(text), repr(text)


def test_y_vowels_count_as_the_pattern() -> None:
    # overlapping candidates (tyty, ByBy), word boundaries by letters of other scripts, digits,
    # _ and combining marks, and y at both edges
    alphabet = [*"yyyYbBtTqşŞğñaeıI _-1", "\u0301", "д", "²", *_NEAR]
    pieces = ["ty", "By", "yt", "tyty", "yy"]
    for text in [*_texts(81, alphabet), *_texts(82, [*alphabet, *pieces])]:
        assert scripts._y_vowels(text) == len(scripts._Y_VOWEL.findall(text)), repr(text)


def test_three_letters_as_the_pattern() -> None:
    alphabet = [*_NEAR, "²", "ab", "\u0301", "7"]
    for text in _texts(91, alphabet):
        found = language._THREE_LETTERS.search(text) is not None
        assert language._three_letters(text) == found, repr(text)
