"""The native module (native/src/lib.rs) against the Python paths it replaces: the same
answers on every code point, on real articles and on random text."""

from __future__ import annotations

import json
import random
import re
import sys
from itertools import accumulate
from types import ModuleType
from typing import Any

import pytest

from pipeline.native import native
from pipeline.stages import dedupe, tagging, tokens
from pipeline.stages.clean import _SURROGATES, scrub
from pipeline.stages.dedupe import NumpyFingerprints, simhash_numpy
from pipeline.stages.tagging import Tagger
from pipeline.stages.tokens import fold, fold_python, split, split_python
from pipeline.taxonomy import load_taxonomy
from tests.support.paths import FIXTURES

HEBREW_QUOTES = ['"', "'", "\u05f3", "\u05f4"]


@pytest.fixture(scope="module")
def built() -> ModuleType:
    # `make install` builds it (cargo from rustup on PATH); without it every path below
    # would silently be Python's, and these tests would compare Python with itself
    assert native is not None, "pipeline._native is not built: `make install` needs cargo"
    return native


def _texts() -> list[str]:
    texts = []
    for name in ("coverage-dev.jsonl", "languages.jsonl"):
        for line in (FIXTURES / "eval" / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            texts += [item.get("title") or "", item.get("text") or ""]
    return texts


def test_split_agrees_on_every_code_point(built: ModuleType) -> None:
    # one string per 4,096 code points, each between spaces: which of them are word letters
    # (str.isalnum, the table native/gen_tables.py generated) is then visible in the split
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for at in range(0, len(points), 4096):
        text = " ".join(chr(c) for c in points[at : at + 4096])
        assert built.split(text) == split_python(text), hex(points[at])


def test_split_agrees_on_real_and_random_text(built: ModuleType) -> None:
    texts = _texts()
    alphabet = [chr(c) for c in [*range(0x20, 0x250), *range(0x590, 0x600), *range(0x4E00, 0x4E20)]]
    alphabet += [*HEBREW_QUOTES * 10, "\U0001d7d8", "\U00010400", "_", "\x00", "\n"]
    rng = random.Random(14)
    texts += ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(20_000)]
    texts += ['האו"ם', 'ה"', '"ה', "ש'ש'ש", 'ש""ש', "a_b", "", " ", "x", "²½٣Ⅻ𝟘"]
    assert len(texts) > 20_000
    for text in texts:
        assert built.split(text) == split_python(text), text


def test_split_parts_are_stored_as_python_stores_them(built: ModuleType) -> None:
    # each part is made from the text's characters in the narrowest width for its largest
    # character, told from the OR of its code points (lib.rs `new_part`): == alone would
    # not see an all-ASCII part stored as Latin-1 (str.isascii() would), sys.getsizeof does
    rng = random.Random(5)
    alphabet = ["a", " ", "\x7f", "\x80", "\xff", "\u0100", "\uffff", "\U00010000", "ж", "😀"]
    alphabet += ["\ud800", "ש", '"', "1", ",", "é"]
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(20_000)]
    texts += ["a\x7f", "a\x80", "a\xff", "a\u0100", "a\uffff", "a\U00010000", "\x80\x7f"]
    for text in texts:
        parts = built.split_offsets(text)[0]
        expected = split_python(text)
        assert parts == expected, ascii(text)
        for got, want in zip(parts, expected, strict=True):
            assert sys.getsizeof(got) == sys.getsizeof(want), ascii(text)
            assert got.isascii() == want.isascii(), ascii(text)


def test_split_reads_lone_surrogates(built: ModuleType) -> None:
    # read from the str's stored characters: a lone surrogate is a gap's character, also
    # between a Hebrew letter and a quote
    text = "abc \ud800 def"
    assert split(text) == built.split(text) == split_python(text)
    assert split(text) == ["", "abc", " \ud800 ", "def", ""]
    for text in ['ש\ud800"ש', 'ש"\udfffש', "\ud800", "a\udc00", '\ud800"ש"ש']:
        assert built.split(text) == split_python(text), ascii(text)


def test_fold_agrees_on_every_code_point(built: ModuleType) -> None:
    # each code point after a Latin, a Turkish İ (lowered with a combining dot), a Hebrew, an
    # Arabic and a Greek letter (accented, and the ohm sign, which lowers to ω): the native
    # fold may decline (None: Python folds), never differ
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    declined = 0
    for at in range(0, len(points), 512):
        chars = [chr(c) for c in points[at : at + 512]]
        for lead in ("A", "İ", "\u05e9", "\u0643", "\u0386", "\u2126"):
            text = " ".join(lead + c for c in chars)
            folded = built.fold_plain(text)
            if folded is not None:
                assert folded == fold_python(text), hex(points[at])
                continue
            for c in chars:  # one at a time, to check those it does fold
                one = built.fold_plain(lead + c + "b")
                declined += one is None
                assert one is None or one == fold_python(lead + c + "b"), hex(ord(c))
    assert declined < len(points)  # most text is folded natively


def test_fold_agrees_on_real_and_random_text(built: ModuleType) -> None:
    texts = _texts()
    alphabet = [chr(c) for c in [*range(0x20, 0x250), *range(0x370, 0x530), *range(0x590, 0x700)]]
    # acute, diaeresis and a breathing alone, and polytonic Greek, which it declines
    alphabet += ["\u0301", "\u0308", "\u0313", *(chr(c) for c in range(0x1F00, 0x1F04))]
    alphabet += ["\u0130", "\u0307", "\u0401", "\u03a3", "\u2126", "\u1161", *HEBREW_QUOTES * 5]
    rng = random.Random(15)
    texts += ["".join(rng.choices(alphabet, k=rng.randint(0, 16))) for _ in range(30_000)]
    folded = 0
    texts += ["", "A", "É", "Ab", "ÉA", "\ud800", "a\ud800", "ǅ", "ΣΑ", "\U0001d400a"]
    for text in texts:
        ours = built.fold_plain(text)
        assert ours is None or ours == fold_python(text), text
        if ours is not None:  # written into a new str in the width Python's has
            assert ours.isascii() == fold_python(text).isascii(), ascii(text)
            # (one Latin-1 character is CPython's shared str, whose size counts a UTF-8
            # copy once any caller asked for one)
            if len(ours) > 1:
                assert sys.getsizeof(ours) == sys.getsizeof(fold_python(text)), ascii(text)
        folded += ours is not None
        assert fold(text) == fold_python(text)
    assert folded > len(texts) // 2


def test_only_the_ohm_sign_lowers_into_greek() -> None:
    # what fold_plain assumes when it tells a Greek text from its characters as written
    def greek(c: str) -> bool:
        return "\u0370" <= c <= "\u03ff" or "\u1f00" <= c <= "\u1fff"

    points = (chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert [c for c in points if not greek(c) and any(map(greek, c.lower()))] == ["\u2126"]


def test_fold_takes_monotonic_greek(built: ModuleType) -> None:
    # Greek folds natively: accents and diaereses off every letter of a Greek text (a Latin
    # é too, as Python's NFD drops it); polytonic Greek is left to Python
    for text in ("Η Συρία, ο ΟΗΕ και η Γενεύη", "ΆΣΤΑΝΑ: Προϊόντα, café", "Ω\u2126 ϊ\u0301"):
        assert built.fold_plain(text) == fold_python(text), text
    assert built.fold_plain("Συρία, ἡ Ἑλλάς") is None


def _simhash_of_words(built: ModuleType, text: str) -> int | None:
    """simhash_text's answer the long way: Python's split, the words joined and folded
    natively (None where Python must fold), then hashed."""
    folded = built.fold_plain("\x00".join(split_python(text)[1::2]))
    return None if folded is None else built.simhash_folded(folded)


def test_simhash_of_text_agrees_with_folding_the_joined_words(built: ModuleType) -> None:
    # split, join, fold and hash in one call: the same fingerprint as folding the words of
    # Python's split joined and hashing them, or None where the fold is Python's (polytonic
    # Greek, a final Σ); Hebrew quotes and lone surrogates (gap characters) among the words
    rng = random.Random(16)
    alphabet = [*"abcİIΣσάΆé\"'ש\u05b0\u0307ك ", *"ΑΒΓ Ἀ שלום .,\ud800", *HEBREW_QUOTES]
    real = _texts()
    texts = [*real, "ΟΗΕ ΣΥΡΙΑΣ και Συρία", "Συρία, ἡ Ἑλλάς", 'שלום "עולם" Σ', "", " ", "a"]
    texts += ['ש\ud800"ש', 'ש"\udfffש ab', "\ud800", "a\udc00b", '\ud800"ש"ש', "x_y"]
    texts += ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(20_000)]
    # without Greek or Hebrew, the one-pass path: Turkish İ (i and a dot), Arabic marks and
    # letter variants, ё, the Kelvin sign (k), Hangul jamo (NFC may join them), astral letters
    plain = [*"aAiIİıKkZ ёЁЖж,.!'\"ـًيىكأإآةابΩ\u212a\u1100\u1161\u00c5\u0130\ud800"]
    plain += ["\U0001d400", "\U00010400", "\u4e2d", "\u0307", "\u0301", "\uffff", "\n"]
    texts += ["".join(rng.choices(plain, k=rng.randint(0, 40))) for _ in range(20_000)]
    declined = 0
    for text in texts:
        ours = built.simhash_text(text)
        assert ours == _simhash_of_words(built, text), ascii(text)
        declined += ours is None
    assert declined > 0
    assert sum(built.simhash_text(t) is None for t in real) < len(real) // 10


@pytest.mark.parametrize("lead", ["", "\u05e9\u05dc ", "\u03b1\u03b2 ", "\u03b1 \u05e9 "])
def test_simhash_of_text_agrees_on_every_code_point(built: ModuleType, lead: str) -> None:
    # each code point in words of a text in one script (the one-pass path unless Greek or
    # Hebrew), four at a time: after a letter, alone, and before one; and in a Hebrew, a
    # Greek and a Greek and Hebrew text (each character's step from a table made for those)
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    compared = 0
    for at in range(0, len(points), 4):
        chars = [chr(c) for c in points[at : at + 4]]
        text = lead + " ".join(f"a{c} {c} {c}b" for c in chars)
        ours = built.simhash_text(text)
        assert ours == _simhash_of_words(built, text), [hex(ord(c)) for c in chars]
        compared += ours is not None
    assert compared > len(points) // 8


def test_simhash_agrees_with_numpy(built: ModuleType) -> None:
    compared = 0
    for text in _texts():
        words = split_python(text)[1::2]
        if len(words) < dedupe.MIN_WORDS:
            continue
        folded = fold("\x00".join(words))
        assert built.simhash_folded(folded) == simhash_numpy(folded), text
        compared += 1
    assert compared > 500
    # words that fold to nothing (Arabic tatweel is a letter to str.isalnum, and fold drops
    # it), last, in the middle and first: numpy once raised IndexError on the first case
    for text in ("كلمة " * 15 + "ـــــ", "كلمة " * 8 + "ـــ " + "كلمة " * 8, "ـ " + "كلمة " * 14):
        folded = fold("\x00".join(split_python(text)[1::2]))
        assert built.simhash_folded(folded) == simhash_numpy(folded), text
    # a lone surrogate in the text: split() falls back to Python; the words hash natively
    joined = fold("\x00".join(["word"] * 30))
    assert dedupe.simhash("word " * 30 + "\udcff") == simhash_numpy(joined)


def test_simhash_of_random_text_agrees_with_numpy(built: ModuleType) -> None:
    # the reference definition end to end: Python's split and fold, then numpy's hashing,
    # against simhash_text (each character's share of its word's hash from a table, bit
    # counts in 4- and 8-bit counters) and simhash_folded, over texts of every script the
    # native paths tell apart (Latin-1, one- to four-byte UTF-8, Arabic marks and tatweel,
    # the Turkish İ, Greek and Hebrew), with 0 to ~600 bigrams: the counters' flushes every
    # 15 and 255 bigrams, and the bigram counts around them
    rng = random.Random(17)
    scripts = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "àéîõüßÀÉÎÕÜçÇñÑøØåÅæÆ",
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
        "ابتثجحخدذرزسشصضطظعغفقكلمنهويىأإآةیکـًٌٍَُِّْٰ",
        "中文字符测试日本語のテキスト한국어텍스트",
        "İIıiKk\u212a\u0130\u1e9e",
        "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰ\u2126",
        "אבגדהוזחטיכלמנסעפצקרשת\u05b0\u05b4\u05bc\u05f3\u05f4\"'",
        "\U0001d400\U0001d41a\U00010400\U00020000",
    ]
    gaps = [" ", " ", " ", ", ", ". ", "\n", " - ", "\u00a0", "\u3000"]
    texts = []
    for n in range(600):
        chosen = rng.sample(scripts, rng.choice([1, 1, 1, 2, 3]))
        alphabet = "".join(chosen)
        words = rng.choice([0, 1, 2, 14, 15, 16, 17, 30, 254, 255, 256, 257, 300, 511, 600])
        words = words if n % 3 else rng.randint(0, 700)
        text = "".join(
            "".join(rng.choices(alphabet, k=rng.randint(1, 12))) + rng.choice(gaps)
            for _ in range(words)
        )
        texts.append(text)
    # the same bigram again and again: every counter of a set bit fills up to its flush
    texts += ["word " * n for n in (16, 17, 256, 257, 600)] + ["ab cd " * 300, "ё " * 300]
    compared = 0
    for text in texts:
        folded = fold_python("\x00".join(split_python(text)[1::2]))
        expected = simhash_numpy(folded)
        assert built.simhash_folded(folded) == expected, ascii(text[:200])
        ours = built.simhash_text(text)
        assert ours is None or ours == expected, ascii(text[:200])
        compared += ours is not None
    assert compared > len(texts) * 3 // 4


def test_nearest_fingerprint_agrees_with_numpy(built: ModuleType) -> None:
    rng = random.Random(7)
    ours, theirs = built.Fingerprints(500), NumpyFingerprints(500)
    assert ours.nearest(5, 0) is None and theirs.nearest(5, 0) is None
    for slot in range(500):
        fp = rng.getrandbits(64) if slot % 7 else 0xFFFF  # repeats: ties go to the first
        ours.set(slot, fp)
        theirs.set(slot, fp)
    fps = [theirs._fps[slot] for slot in range(500)]
    for n in range(900):
        probe, size = rng.getrandbits(64), rng.randint(1, 500)
        if n % 3:  # a near copy of a fingerprint (the native search goes in blocks of 64)
            probe = int(fps[rng.randrange(500)])
            for _ in range(n % 5):
                probe ^= 1 << rng.randrange(64)
        assert ours.nearest(probe, size) == theirs.nearest(probe, size)
    assert ours.nearest(0xFFFF, 500) == theirs.nearest(0xFFFF, 500) == (0, 0)
    with pytest.raises(IndexError):
        ours.set(500, 1)


def test_word_table_tells_words_by_their_characters(built: ModuleType) -> None:
    # CPython stores each str in one of three widths; a word is new once, whatever object
    # holds it, and only equal strings are one word (surrogates and long words included)
    long = "Donaudampfschifffahrtsgesellschaftskapitän"
    words = ["", "a", "é", "e\u0301", "Сирия", "😀", "\ud800", "\udfff", long, long + "s"]
    table = built.WordTable()
    assert table.scan(words + words) == words
    copies = ["".join(list(w)) for w in words]  # other objects, the same characters
    assert table.scan(copies) == []
    assert table.scan(["ä", "a"]) == ["ä"]
    assert len(table) == len(words) + 1
    table.clear()
    assert table.scan(["a"]) == ["a"] and len(table) == 1


def test_word_table_reads_every_character_of_a_word(built: ModuleType) -> None:
    # words are hashed by loads that overlap (lib.rs `word_hash`): a word and the word with
    # any one character changed are two words, at every length and in every width
    for base in ("a", "é", "ж", "😀"):
        for length in range(41):
            table = built.WordTable()
            word = base * length
            changed = [word[:at] + "b" + word[at + 1 :] for at in range(length)]
            assert table.scan([word, *changed]) == [word, *changed]
            assert table.scan([word, *changed]) == []


def test_word_table_agrees_with_a_set_as_it_grows(built: ModuleType) -> None:
    # the table's own index grows from 1,024 slots by doubling: every word is new once,
    # in text order, across many growths, whatever the width; equal bytes in two widths
    # ("\x00\x01" and "Ā" are both stored as 00 01) are two words
    rng = random.Random(7)
    letters = "ab\x00\x01éĀСир😀\ud800"
    table = built.WordTable()
    seen: set[str] = set()
    for _ in range(40):
        tokens = [
            "".join(rng.choice(letters) for _ in range(rng.randint(0, rng.choice([4, 4, 40]))))
            for _ in range(rng.randint(0, 600))
        ]
        expected = [w for w in dict.fromkeys(tokens) if w not in seen]
        seen.update(tokens)
        assert table.scan(tokens) == expected
        assert len(table) == len(seen)
    assert len(table) > 2_000  # grown several times
    fresh = built.WordTable()
    assert fresh.scan(["\x00\x01", "Ā", "\x00\x01", "Ā"]) == ["\x00\x01", "Ā"]


def test_word_table_gives_each_pair_one_slot(built: ModuleType) -> None:
    table = built.WordTable()
    tokens = ["UN", "envoy", "UN", "envoy", "UN", "talks", "UN"]
    table.scan(tokens)
    table.learn(["UN"])
    # the first (UN, envoy), (UN, talks) and (UN, end of text) get new slots 0, 1, 2
    assert table.live_pairs() == [0, 4, 6]
    assert table.matched([True, False, True]) == [0, 0, 2, 0, 6, 2]
    assert table.pair_count() == 3
    assert table.scan(["talks", "UN", "UN"]) == []
    assert table.live_pairs() == [1]  # (UN, UN) is new: slot 3; (UN, end of text) is not
    assert table.matched([True]) == [1, 3, 2, 2]
    with pytest.raises(ValueError):
        table.matched([])
    with pytest.raises(KeyError):
        table.learn(["never scanned"])
    table.clear_pairs()
    assert table.pair_count() == 0
    table.scan(["UN"])
    assert table.live_pairs() == [0]  # the word stays live, its pairs are new again


def _tag_all(items: list[tuple[str, str, str]]) -> list[Any]:
    tagger = Tagger(load_taxonomy())
    return [tagger.tag(title, text, lang) for title, text, lang in items]


@pytest.mark.parametrize("limit", [None, 40, 400])
def test_tagging_with_the_word_table_agrees(
    built: ModuleType, monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    # the same topics and evidence with and without the native word table, on real
    # articles, on edge cases (a phrase at the text's end, a repeated phrase, surrogates,
    # one word in two scripts), and with caches so small that they are cleared in every text
    items = []
    for line in (FIXTURES / "eval" / "coverage-dev.jsonl").read_text().splitlines()[:300]:
        item = json.loads(line)
        items.append((item.get("title") or "", item.get("text") or "", item["lang"]))
    items += [
        ("", "Talks in Astana", "en"),
        ("Syria Syria Syria", "UN envoy Pedersen, UN envoy Pedersen, Astana talks", "en"),
        ("\ud800 Syria \udfff", "Astana\ud800talks on Syria", "en"),
        ("ООН в Сирии", "OOH Сирия Cирия", "ru"),
        ("", "", "en"),
    ]
    if limit is not None:
        monkeypatch.setattr(tagging, "MAX_CACHED_WORDS", limit)
    native_tags = _tag_all(items)
    monkeypatch.setattr(tagging, "native", None)
    python_tags = _tag_all(items)
    assert native_tags == python_tags
    assert sum(bool(m.topics) for m in native_tags) > 100


def test_part_offsets_agree_with_python(built: ModuleType) -> None:
    # where each part begins, in characters: surrogates and astral characters count one
    texts = [*_texts()[:400], "", "a", "\ud800 Syria 😀 Сирия", "😀😀 a😀b ", " \U0001f600x "]
    for text in texts:
        parts = split_python(text)
        got = list(memoryview(built.part_offsets(parts)).cast("Q"))
        assert got == list(accumulate(map(len, parts), initial=0))
        source = tagging._Text("text", text)
        for n in range(len(source.tokens)):  # the Python path's spans are the same
            assert source.span(n, n) == (source._offset(2 * n + 1), source._offset(2 * n + 2))


def test_split_offsets_are_split_and_its_offsets(built: ModuleType) -> None:
    # one scan gives both: the same parts as split, and where each part begins (then the
    # text's end), in characters, in each width and with surrogates and Hebrew quotes
    rng = random.Random(3)
    alphabet = ["a", " ", ",", "ש", '"', "é", "ж", "😀", "\ud800", "猫", "_", "\n"]
    texts = [*_texts()[:400], "", "a", " ", "\ud800 Syria 😀 Сирия", 'האו"ם אמר', "😀😀 a😀b "]
    texts += ["".join(rng.choices(alphabet, k=rng.randint(0, 30))) for _ in range(5_000)]
    for text in texts:
        parts, offsets = built.split_offsets(text)
        assert parts == split_python(text), ascii(text)
        got = list(memoryview(offsets).cast("Q"))
        assert got == list(accumulate(map(len, parts), initial=0)), ascii(text)
        assert offsets == built.part_offsets(parts)


def test_text_spans_come_from_split_offsets(built: ModuleType) -> None:
    text = "Syria, Virginia: 😀 Сирия (ООН) \ud800 end"
    source = tagging._Text("text", text)
    assert source.parts == split_python(text)
    assert source.offsets() == built.part_offsets(source.parts)
    for n, token in enumerate(source.tokens):
        start, end = source.span(n, n)
        assert text[start:end] == token


EDGE_WORDS = [
    "UN", "un", "Syria", "SYRIEN", "Nordsyrien", "İstanbul", "ёлка", "Ёж", "OOН", "Сирия",
    "Συρία", "שלום", "سوريا", "Straße", "STRASSE", "\u212aelvin", "e\u0301", "é", "😀", "a",
    "\ud800", "x\udfffy", "ﬁsh", "Ǆemal", "Σ", "ΣΥΡΙΑΣ", "Астана", "Astana", "астана", "1945",
    "国連", "シリア", "シリアル", "유엔", "Україна", "Türkiye", "ĳ", "Łódź", "ŁÓDŹ", "ıi",
    "ΟΗΕ", "ΟΗΕΣ", "ΣΟΗΕ", "ΆΈΉΊΌΎΏ", "ΪΫϊϋΐΰ", "ς", "Σς", "ΣΥΜΒΟΥΛΙΟ", "Ἀθῆναι", "Ω",
    'האו"ם', "והאו״ם", "ושכשהאו׳ם", "כשער", "בהם", "ולה", "ﬠב", "שָׁלוֹם", "שלוםa",
]  # fmt: skip


def test_the_start_filter_keeps_every_word_python_keeps(
    built: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # _quick_misses with the native filter in front keeps the same words as without it,
    # in every language whose words take that path, on real and edge-case words
    words: dict[str, set[str]] = {}
    for line in (FIXTURES / "eval" / "coverage-dev.jsonl").read_text().splitlines():
        item = json.loads(line)
        text = f"{item.get('title') or ''} {item.get('text') or ''}"
        words.setdefault(item["lang"], set()).update(split_python(text)[1::2])
    tagger = Tagger(load_taxonomy())
    checked = 0
    for lang, found in sorted(words.items()):
        if lang in tagging.SLOW_START and lang not in tagging._NATIVE_CLITICS:
            continue  # Python's alone
        tagger.tag("", "", lang)  # compiles the language's rules
        vocabulary = tagger._vocabularies.get(lang)
        if vocabulary is None:
            continue
        listed = sorted(found) + EDGE_WORDS
        if lang in tagging.SLOW_START:  # a lone surrogate fails their stemmer (either path)
            listed = [w for w in listed if not any("\ud800" <= c <= "\udfff" for c in w)]
        with_filter = vocabulary._quick_misses(listed)
        monkeypatch.setattr(tagging, "native", None)
        without = vocabulary._quick_misses(listed)
        monkeypatch.setattr(tagging, "native", built)
        assert sorted(with_filter) == sorted(without), lang
        assert len(vocabulary._start_filter(vocabulary._heads()).maybe(listed)) < len(listed)
        checked += 1
    assert checked >= 10


def test_the_start_filter_folds_and_cuts_clitics(built: ModuleType) -> None:
    # a head that begins a Greek, Hebrew or Arabic word's fold, or (in a Hebrew or Arabic
    # text) one of its beginnings with the clitics cut and stemmed, keeps the word: each
    # Greek letter and its capital, with tonos or dialytika, a capital sigma first, inside
    # and last; Arabic and Persian letters, marks and the stemmer's prefixes
    rng = random.Random(7)

    def some(letters: list[str], longest: int) -> list[str]:
        return ["".join(rng.choices(letters, k=rng.randint(1, longest))) for _ in range(3000)]

    greek = [chr(c) for c in range(0x386, 0x3D0) if chr(c).isalpha()]
    words = {"el": [*some(greek, 7), *(c + "ΣΑΣ" for c in greek), "Σ", "ΣΣ", "ΑΣ", "ΟΗΕΣ"]}
    hebrew = [chr(c) for c in range(0x5D0, 0x5EB)] + ['"', "\u05f4"]
    words["he"] = [w.strip('"\u05f4') for w in some(hebrew, 8)]
    words["he"] += ["ושכשהאום", "כשער", "ובהאום", "ושהאום", "מהאום", "כשהאום"]
    arabic = [chr(c) for c in [*range(0x621, 0x64B), 0x64E, 0x640, 0x6A9, 0x6CC, 0x6BE, 0x679]]
    arabic += ["ال", "لل", "نست", "تست", "يست", "ست", "سي", "وال", "بال", "كال", "فب", "ون"]
    words["ar"] = [*some(arabic, 6), "ستتستخدم", "نستعمل", "والمسئولين", "ﻻ", "سوريا"]
    words["ur"] = some(arabic, 5)
    # Persian: the letters its stemmer reads otherwise (ئ ؤ ہ), the endings it rewrites
    # and the suffixes it deletes
    persian = [*arabic, "ئ", "ؤ", "ہ", "اخبار", "اساتید", "خواس", "ان", "ها", "ی", "ته", "رفت"]
    words["fa"] = [*some(persian, 6), "ئیران", "اخبارها", "مسئولان", "والمسئولین", "رفته"]
    clitics = {"el": "", "he": "hebrew", "ar": "arabic", "ur": "arabic", "fa": "persian"}
    for lang, listed in words.items():
        for word in filter(None, listed):
            # Greek words in any language: their fold only (not a SLOW_START language)
            flat = tokens.all_beginnings([fold(word)], lang)[0] if clitics[lang] else []
            for mode, beginnings in (("", [fold(word)]), (clitics[lang], flat)):
                for begins in filter(None, beginnings):  # an empty head begins nothing
                    for heads, whole in (([begins[:4]], []), ([], [begins[:3]])):
                        if len(begins) > 3 and whole:
                            continue  # no short form
                        start_filter = built.StartFilter(heads, whole, [], [])
                        kept = start_filter.maybe([word], clitics=mode)
                        assert kept == [word], (lang, word, begins)
    none = built.StartFilter(["zzzz"], [], [], [])
    assert none.maybe(["ΣΥΡΙΑ", "האום", "ושכשהאום"], clitics="hebrew") == []
    assert none.maybe(["ΣΥΡΙΑ", "سوريا", "والسوريين", "مسئول"], clitics="arabic") == ["مسئول"]
    assert none.maybe(["ΣΥΡΙΑ", "האום", "Ἀθῆναι", "שָׁלוֹם"]) == ["Ἀθῆναι", "שָׁלוֹם"]
    assert none.maybe(["سوريا"]) == ["سوريا"]  # Python's, outside a SLOW_START language
    # no stems in Hebrew, Yiddish and Urdu; Arabic's known (StartFilter::arabic_starts)
    assert [tokens._snowball(lang) for lang in ("he", "yi", "ur")] == [None, None, None]
    assert tokens._SNOWBALL["ar"] == "arabic"
    assert none.maybe(["ئیران", "اخبارها", "ملاساتید", "ولیران"], clitics="persian") == [
        "اخبارها",
        "ملاساتید",
    ]
    with pytest.raises(ValueError):
        none.maybe([], clitics="indonesian")


def test_persian_stems_begin_the_word_as_its_stemmer_reads_it() -> None:
    # StartFilter::persian_starts: a folded word's Snowball Persian stem begins the word
    # with ئ ؤ ہ read as ی و ه, but where it holds an ending the stemmer rewrites
    stem = tokens._snowball("fa")
    assert stem is not None
    rng = random.Random(11)
    letters = [chr(c) for c in [*range(0x621, 0x63B), *range(0x641, 0x64B)]] + list("پچژکگیہ")
    letters += ["ان", "ها", "ی", "ته", "ده", "رفت", "تر", "ین", "ید", "ام", "اند", "گاه"]
    words = ["".join(rng.choices(letters, k=rng.randint(1, 8))) for _ in range(20000)]
    for line in (FIXTURES / "eval" / "coverage-dev.jsonl").read_text().splitlines():
        item = json.loads(line)
        if item["lang"] == "fa":
            words += split_python(f"{item.get('title') or ''} {item.get('text') or ''}")[1::2]
    read = str.maketrans({"ئ": "ی", "ؤ": "و", "ہ": "ه"})
    rewritten = ("اخبار", "خواس", "اساتید")
    for word in words:
        folded = fold(word).translate(read)
        if not any(key in folded for key in rewritten):
            stemmed = stem.stemWord(fold(word))
            assert folded.startswith(stemmed), (word, stemmed)
    assert stem.stemWord("اخبار") == "خبر"  # why the rewritten endings stay Python's


def test_the_start_filter_refuses_long_heads(built: ModuleType) -> None:
    with pytest.raises(ValueError):
        built.StartFilter(["syrien"], [], [], [])
    assert built.StartFilter([], [], [], []).maybe(["Syria", "\ud800"]) == ["\ud800"]


RULE_EDGES = [
    ("Syria, Va.", "The Syria store in Syria, Virginia, and the Syria \u212aansas road", "en"),
    ("", "Partai Bulan Bintang (PBB) dan PBB; Perserikatan Bangsa-Bangsa (PBB)", "id"),
    ("Astana", "Astana talks. " + "word " * 40 + "Syria ceasefire guarantors Astana", "en"),
    ("Nordsyrien", "Der Syrienkrieg und Nordsyrien, UN-Sicherheitsrat", "de"),
    ("国連", "国連のシリア特使、全国連合、シリアル", "ja"),
    ("UN", "UN, UN, UN (UN) United Nations (UN) Security Council", "en"),
    ("Сирия, ООН", "Переговоры в Астане по Сирии, Сирия, Texas", "ru"),
    ("Syria", "Syria,\ud800 Virginia Syria , ohio", "en"),
    ("", "Syria, ", "en"),
    ("Syria", "", "xx"),
]


def _random_articles(seed: int, count: int) -> list[tuple[str, str, str]]:
    """Articles of words drawn from real ones and from the taxonomy's terms, with the
    punctuation the rules look at (commas before US states, parentheses, sentence ends)."""
    rng = random.Random(seed)
    taxonomy = load_taxonomy()
    words: dict[str, list[str]] = {}
    for line in (FIXTURES / "eval" / "coverage-dev.jsonl").read_text().splitlines():
        item = json.loads(line)
        words.setdefault(item["lang"], []).extend(split_python(item.get("text") or "")[1::2])
    terms: dict[str, list[str]] = {}
    for topic in taxonomy.topics:
        for lang, rules in topic.rules.items():
            bag = terms.setdefault(lang, [])
            bag += rules.terms + rules.exact + rules.exclude + rules.none
            for ctx in rules.context:
                bag += ctx.terms + ctx.with_ + [t for g in ctx.all_of for t in g]
    glue = [" ", " ", " ", ", ", ". ", " (", ") ", ", Virginia ", ", Texas, ", "-", "; "]
    langs = sorted(set(words) & set(terms))
    articles = []
    for _ in range(count):
        lang = rng.choice(langs)

        def text(size: int, lang: str = lang) -> str:
            drawn = [
                rng.choice(terms[lang]).rstrip("*")
                if rng.random() < 0.3
                else rng.choice(words[lang])
                for _ in range(size)
            ]
            return "".join(w + rng.choice(glue) for w in drawn)

        articles.append((text(rng.randint(0, 8)), text(rng.randint(0, 120)), lang))
    return articles


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_native_rules_agree_on_random_articles(
    built: ModuleType, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # RuleSet and FieldMatches against _python_hits: the same topics, scores and evidence
    # (namesakes, masks, contexts, groups, defined abbreviations), and the same explanations
    items = RULE_EDGES + _random_articles(seed, 150)
    native_tags = _tag_all(items)
    tagger = Tagger(load_taxonomy())
    native_notes = [tagger.explain(*item) for item in items[:40]]
    monkeypatch.setattr(tagging, "native", None)
    assert native_tags == _tag_all(items)
    tagger = Tagger(load_taxonomy())
    assert native_notes == [tagger.explain(*item) for item in items[:40]]
    assert sum(bool(m.topics) for m in native_tags) > 30


def test_field_matches_refuse_bad_input(built: ModuleType) -> None:
    parts = split_python("UN envoy")
    offsets = built.part_offsets(parts)
    qualifiers = frozenset({"texas"})
    with pytest.raises(ValueError):  # a token beyond the text: an error, not a panic
        built.FieldMatches({0: [(5, 5)]}, parts, offsets, qualifiers, {})
    with pytest.raises(ValueError):  # spans must match the matches one to one
        built.FieldMatches({0: [(0, 0)]}, parts, offsets, qualifiers, {0: []})
    with pytest.raises(TypeError):
        built.FieldMatches({"x": [(0, 0)]}, parts, offsets, qualifiers, {})
    field = built.FieldMatches({0: [(0, 0)], 1: [(1, 1)]}, parts, offsets, qualifiers, {})
    # the hits as tagging.Hit's fields, terms and field names told
    rules = built.RuleSet([1, 0, 1, 7], [([0], [9], 3, [])], [], [], {0: "un", 1: "envoy"})
    assert rules.labelled([], []) == ([], [])
    found, named = rules.labelled([field], ["title"])
    assert found == [
        ("envoy", "title", 1, 1, 3, 8),
        ("un", "title", 0, 0, 0, 2),
        ("envoy", "title", 1, 1, 3, 8),
    ]
    assert named == []
    with pytest.raises(ValueError):  # one name per field
        rules.labelled([field], [])
    with pytest.raises(ValueError):  # a hit whose phrase has no term
        built.RuleSet([0], [], [], [], {1: "envoy"}).labelled([field], ["text"])


_LANGID_TEXTS = [
    "",
    " ",
    "Переговоры по Сирии в Астане",
    "Colloqui sulla Siria ad Astana",
    "叙利亚 和谈",
    "Firefighters battled the flames for four hours on Sunday night. " * 12,
    "\U0001f600 \u0301 ½ ²",
    "x" * 700,
]


@pytest.mark.skipif(native is None, reason="native module not built")
def test_native_ngram_walk_counts_as_py3langid() -> None:
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts

    from pipeline.stages import language
    from pipeline.stages.language_ngrams import NativeWalkIdentifier

    packaged = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier = language._identifier()
    assert isinstance(identifier, NativeWalkIdentifier)
    walk = identifier._walk
    for text in _LANGID_TEXTS:
        encoded = packaged._encode(text)
        python = visit_counts(packaged.tk_nextmove, packaged._rowbase, packaged.tk_output, encoded)
        # the same features in the same order (the order the scores sum their rows in)
        assert list(walk.counts(encoded).items()) == list((python or {}).items())
        assert np.array_equal(identifier._decide(text), packaged._decide(text))
    # a walk of a model whose tables it would leave raises rather than read past them
    assert native is not None
    broken = native.NgramWalk(
        np.zeros(256, dtype=np.uint32) + 5, np.zeros(2, np.uint16), np.zeros(2, np.int32)
    )
    with pytest.raises(ValueError):
        broken.counts(b"a")


def test_has_surrogates_is_whether_utf8_fails(built: ModuleType) -> None:
    # scrub's test, exactly where str.encode("utf-8") raises: every width a str is stored in,
    # a surrogate at each place around the scan's 64-unit blocks, and random texts
    def fails(text: str) -> bool:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    texts = ["", "a", "é" * 70, "Сирия" * 30, "😀" * 70, "\ud7ff\ue000\uffff"]
    for filler in ("a", "é", "Ж", "😀"):
        for size in (1, 63, 64, 65, 130):
            for at in {0, size // 2, size - 1, 63 % size, 64 % size}:
                for surrogate in ("\ud800", "\udbff", "\udc00", "\udfff"):
                    chars = [filler] * size
                    chars[at] = surrogate
                    texts.append("".join(chars))
    rng = random.Random(14)
    alphabet = ["a", "é", "Ж", "\ud7ff", "\ud800", "\udfff", "\ue000", "😀", "\U0010ffff"]
    texts += ["".join(rng.choices(alphabet, k=rng.randrange(1, 200))) for _ in range(2_000)]
    assert sum(map(fails, texts)) > 1_000
    for text in texts:
        assert built.has_surrogates(text) == fails(text), ascii(text)
        assert scrub(text) == (_SURROGATES.sub("\ufffd", text) if fails(text) else text)
        scrub(text).encode("utf-8")  # never raises


def _texts_of_every_width() -> list[str]:
    rng = random.Random(393)
    alphabet = ["a", "\x00", "\x7f", "\x80", "é", "\xff", "\u0100", "Ж", "ё", "İ", "ά", "ش"]
    alphabet += ["א", "한", "\u2126", "\ud800", "\uffff", "😀", "\U0010ffff"]
    texts = ["", "a", "\xff", "\u0100", "😀", "Сирия\x00Syria", "Syria\x00Siria\x00Suriyé"]
    texts += ["".join(rng.choices(alphabet, k=rng.randrange(1, 40))) for _ in range(3_000)]
    # slices and joins of wide strs: CPython stores each result in its own narrowest width
    texts += [text[1:] for text in texts if text] + [
        "\x00".join(texts[n : n + 3]) for n in range(99)
    ]
    return texts


def test_char_width_is_the_width_of_the_widest_character(built: ModuleType) -> None:
    for text in _texts_of_every_width():
        widest = max(map(ord, text), default=0)
        truth = 1 if widest <= 0xFF else 2 if widest <= 0xFFFF else 4
        assert built.char_width(text) == truth, ascii(text)
        # width 1: no character above U+00FF
        assert (built.char_width(text) == 1) == (not any(ord(c) > 0xFF for c in text))


def _char_classes() -> list[tokens.CharClass]:
    found = [
        p for m in (tokens, tagging) for p in vars(m).values() if isinstance(p, tokens.CharClass)
    ]
    assert len(found) == 11  # tokens' eight, tagging's three
    return found


def _texts_near_classes(classes: list[tokens.CharClass]) -> list[str]:
    """Each end of each class's ranges and its neighbours, alone and inside strs of every
    width, before and after the 64-character blocks the native scan tests at once."""
    ends = {0, 0xFF, 0x100, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF}
    for char_class in classes:
        for lo, hi in tokens._class_ranges(_members(char_class)):
            ends |= {lo - 1, lo, lo + 1, hi - 1, hi, hi + 1}
    chars = [chr(c) for c in sorted(ends) if 0 <= c <= 0x10FFFF]
    texts = []
    for c in chars:
        for pad in ("a", "é", "\u0100", "😀", "\u0301"):  # ASCII, Latin-1, UCS-2, UCS-4, a mark
            for before in (0, 1, 63, 64, 65, 200):
                texts += [pad * before + c, pad * before + c + pad * 3]
    return texts


def _members(char_class: tokens.CharClass) -> str:
    # the members back from the regex's escapes (the class keeps only its pattern)
    return re.sub(r"\\U([0-9a-f]{8})", lambda m: chr(int(m[1], 16)), char_class.pattern[1:-1])


def test_char_class_holds_what_its_regex_finds_on_every_code_point(built: ModuleType) -> None:
    # one str per 4,096 code points (surrogates too, which `re` reads as code points): the
    # native scan, the Python path and the regex agree on each block, then on each code
    # point of the blocks where the class holds any
    for char_class in _char_classes():
        compiled = re.compile(char_class.pattern)
        for at in range(0, 0x110000, 4096):
            block = "".join(map(chr, range(at, at + 4096)))
            found = compiled.search(block) is not None
            assert char_class.holds(block) == found == char_class.holds_python(block)
            if found:
                for c in block:
                    assert char_class.holds(c) == (compiled.search(c) is not None), hex(ord(c))


def test_char_class_holds_what_its_regex_finds(built: ModuleType) -> None:
    classes = _char_classes()
    texts = _texts_of_every_width() + _texts_near_classes(classes) + _texts()
    texts += [
        "Сирия",
        "ООН",
        "OOН",
        "Ελλάδα",
        "Ω",
        "\u2126",
        "سوريا",
        "ישראל",
        "시리아",
        "İstanbul",
    ]
    for char_class in classes:
        compiled = re.compile(char_class.pattern)
        for text in texts:
            found = compiled.search(text) is not None
            assert char_class.holds(text) == found, (char_class.pattern, ascii(text))
            assert char_class.holds_python(text) == found, (char_class.pattern, ascii(text))


def test_char_class_answers_latin1_strs_from_their_width(built: ModuleType) -> None:
    # a class above U+00FF never reads a str stored one byte a character: a native holds
    # on a huge Latin-1 str costs no more than on a short one (the scan is skipped)
    cyrillic = built.CharClass([(0x400, 0x4FF)])
    assert not cyrillic.holds("é" * 1_000_000)
    assert cyrillic.holds("é" * 100 + "ж")
    assert built.CharClass([(0xE9, 0xE9)]).holds("a" * 100 + "é")


def test_char_class_is_the_regex_of_its_members() -> None:
    assert tokens._class_ranges("a-zA-Z") == [(0x61, 0x7A), (0x41, 0x5A)]
    assert tokens._class_ranges("ёЁİ\u0307\u0370-\u03ff") == [
        (0x451, 0x451),
        (0x401, 0x401),
        (0x130, 0x130),
        (0x307, 0x307),
        (0x370, 0x3FF),
    ]
    char_class = tokens.CharClass("\u0400-\u04ffx")
    assert re.compile(char_class.pattern).findall("xЖy") == ["x", "Ж"]
    assert char_class.findall("xЖy") == ["x", "Ж"]


@pytest.mark.parametrize("members", ["", "^a", "a-", "-a", "z-a", "a\\b", "[a]", "a-b-c"])
def test_char_class_refuses_what_a_regex_class_reads_otherwise(members: str) -> None:
    with pytest.raises(ValueError):
        tokens.CharClass(members)
