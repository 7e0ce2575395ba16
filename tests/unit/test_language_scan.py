"""settle()'s one scan of a text (language_scripts._Scan): the native pass against Python's
on every code point, and the rules it lets settle() skip, each on a text where the skipped
rule decides, read by both paths."""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from pipeline.native import native
from pipeline.stages import language_scripts as scripts
from pipeline.stages.language_scripts import settle


@pytest.fixture(scope="module")
def built() -> ModuleType:
    assert native is not None, "pipeline._native is not built: `make install` needs cargo"
    return native


def _python_scan(text: str) -> tuple[frozenset[str], bool]:
    found = frozenset(scripts._scanned().findall(text))
    return found, bool(re.search("[\u0400-\u04ff]", text))


def _native_scan(text: str) -> tuple[frozenset[str], bool]:
    scanner = scripts._scanner()
    assert scanner is not None
    found, cyrillic = scanner.scan(text)
    assert len(found) == len(set(found))  # each letter once
    return frozenset(found), cyrillic


def test_the_scan_looks_for_every_letter_a_rule_tests_without_searching() -> None:
    # _Scan.has answers for a _Letters only if the scan looked for all its letters
    for letters in vars(scripts).values():
        if isinstance(letters, scripts._Letters):
            assert letters.chars <= scripts._SCANNED


@pytest.mark.usefixtures("built")
def test_native_scan_equals_python_on_every_code_point() -> None:
    letters = sorted(scripts._SCANNED)
    for start in range(0, sys.maxunicode + 1, 4096):
        # one character of each code point, in texts of each storage width (1, 2, 4 bytes)
        chunk = "".join(chr(c) for c in range(start, min(start + 4096, sys.maxunicode + 1)))
        for text in (chunk, "a" + chunk, "\u0100" + chunk, "\U0001f600" + chunk):
            assert _native_scan(text) == _python_scan(text)
    for c in ["\u03ff", "\u0400", "\u04ff", "\u0500", "\ud800", *letters]:
        for text in (c, f"ab{c}cd", f"\u0100{c}", f"\U0001f600{c}"):
            assert _native_scan(text) == _python_scan(text), hex(ord(c))


@pytest.mark.usefixtures("built")
def test_native_scan_equals_python_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = [*scripts._SCANNED, *"abc \u0430\u0431\u0400\u04ff\u0500\u00e9", "\U0001f600"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert _native_scan(text) == _python_scan(text)


@pytest.fixture(params=["native", "python"])
def scan_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "python":
        monkeypatch.setattr(scripts, "_scanner", lambda: None)
    elif native is None:
        pytest.skip("native module not built")
    yield request.param


_ITALIAN = "Il governo ha approvato la riforma delle pensioni dopo un lungo dibattito in aula. "


@pytest.mark.usefixtures("scan_path")
@pytest.mark.parametrize(
    ("text", "guess", "lang"),
    [
        # -ciones without ó or ñ: the only branch searched where the scan finds neither
        (_ITALIAN + "Las elecciones generales", "it", "es"),
        ("Las ELECCIONES generales de España", "it", "es"),  # ñ
        ("La nación vota", "it", "es"),  # -ción
        (_ITALIAN, "it", None),
        # Kazakh ң ө ү beside і for a Ukrainian guess: the two shares asked the other way round
        ("Үкімет бүгін жаңа өңірлік бағдарламаны бекітті деп хабарлады", "uk", "kk"),
        ("Уряд ухвалив нову програму підтримки регіонів і громад", "uk", None),
        # Turkmen Latin ň ý beside ş ç: counted only where the scan finds one
        ("Türkmenistanyň prezidenti ýurduň ykdysadyýetini ösdürmek barada çykyş etdi", "tr", "tk"),
        ("Türkiye ekonomisi büyümeye devam ediyor, işsizlik düştü", "tr", None),
        # Uzbek oʻ gʻ: the strong apostrophe once, or ' twice
        ("Oʻzbekiston prezidenti yangi qonunni imzoladi", "tr", "uz"),
        ("O'zbekiston va g'arb davlatlari o'rtasida yangi kelishuv", "tr", "uz"),
        ("Boeing's new plane and Hong Kong's airport", "en", None),
        # Kazakh Latin ū; Estonian õ keeps a q beside ä Estonian
        ("Qazaqstan ūlttyq bankı bazalyq mölşerlemeni özgertpedi", "tr", "kk"),
        ("Jäägrid võitsid A. Le Coq Arenal mängu qq", "et", None),
        # Maltese ħ and Lithuanian ė į ų, shares of the letters
        ("Il-gvern ħabbar ħafna bidliet fil-ħajja tal-ħaddiema", "it", "mt"),
        ("Vyriausybė patvirtino naują įstatymą dėl mokesčių ir išlaidų", "pl", "lt"),
        # Tatar or Turkmen җ ә without Kazakh's letters; Cyrillic in a Tatar guess
        ("Татарстан Республикасы Президенты белән очрашу булды һәм сөйләште", "tt", "tt"),
        ("Бу хабар буенча республика карар кабул итте", "ba", "tk"),
    ],
)
def test_rules_the_scan_skips_still_decide(text: str, guess: str, lang: str | None) -> None:
    assert settle(text, guess) == lang


# Whole words of every kind _TG_WORDS tells apart: forms at the start, middle and end, after
# a digit or _ (no word start), in capitals, a form inside a longer word, ᲁ as д
_TAJIK_CASES = [
    "дар аз ба бо барои низ шуд шуданд кард карданд намуд гуфт",
    "ДАР Аз БО мебошад мешавад меварзад мекунад медиҳад мегӯяд мегирад мезананд",
    "1дар _аз дар_ аздар бодар мед мекун ме-ад ᲁар Дар",
    "Президент гуфт, ки дар Душанбе аз 5 то 7 ва бо (барои) «низ» шуд.",
    "Уряд ухвалив нову програму, бо мета й медіа зростають",
    "ме мебад медяд мекунанд МЕКУНАНД мебошадмекунад",
]


def test_tajik_words_found_as_by_the_plain_pattern() -> None:
    rng = random.Random(3)
    words = [*" ".join(_TAJIK_CASES).split(), "а", "б", "Д", "1", "_", ",", "ᲁ"]
    texts = [*_TAJIK_CASES]
    for _ in range(3000):
        separators = [" ", "", "-", "\n", "_", "5"]
        texts.append(
            "".join(rng.choice(words) + rng.choice(separators) for _ in range(rng.randrange(8)))
        )
    for text in texts:
        assert scripts._TG_WORDS.findall(text) == scripts._TG_WORDS_PLAIN.findall(text), text


def test_tajik_words_start_at_every_letter_re_reads_as_a_first_one() -> None:
    # _TG_WORDS skips to its first letters matched case by case: they must be every character
    # that `re`, ignoring case, takes for a form's first letter, or a word is missed
    everything = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    firsts = "".join(sorted({form[0] for form in scripts._TG_WORD_FORMS}))
    read = set(re.findall(f"[{firsts}]", everything, re.IGNORECASE))
    assert read == set(scripts._TG_FIRST_LETTERS)


def test_y_vowel_found_where_the_counting_pattern_finds_one() -> None:
    rng = random.Random(5)
    alphabet = [*"yYbBtqşğñaeı _-1", "Ş"]
    texts = ["qatty otyrysy", "tyty", "Byk", "BYk", "_By", "1ty", "y", "ay", "Ty Ky", "aBy"]
    for _ in range(5000):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(6))))
    for text in texts:
        found = scripts._y_vowels(text) > 0
        assert found == (scripts._Y_VOWEL.search(text) is not None), text
