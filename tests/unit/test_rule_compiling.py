"""Compiling a language's rules the cheap way gives what the plain way gave: terms' words
cut from `split` as `tokenize` finds them, a vocabulary's words made once and shared by its
phrases, words and phrases that hash and compare as frozen ones did, the heads' automata
filled by map, and pymorphy3's paradigms read as one array."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest

from pipeline.stages import tagging, tokens
from pipeline.stages.tagging import _heads_automaton, _term_tokens, _Vocabulary
from pipeline.stages.tokens import tokenize

TERMS = [
    "Syria",
    "Astana talks",
    "UN-Sicherheitsrat",
    "d'Astana",
    "Suriye'de",
    "Syri*",
    "Astana* process",
    'האו"ם',
    'דיון באו"ם היום',
    "联合国",
    "WFPが",
    "  spaced   out  ",
    "...",
    "",
    "Ü-Bahn İstanbul",
]


@pytest.mark.parametrize("native", [True, False])
def test_term_words_are_tokenizes(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not native:
        monkeypatch.setattr(tokens, "native", None)
    _term_tokens.cache_clear()
    try:
        for term in TERMS:
            expected = tuple((t.text, t.end) for t in tokenize(term))
            assert _term_tokens(term) == expected, term
    finally:
        _term_tokens.cache_clear()


def test_a_vocabularys_words_are_made_once() -> None:
    vocabulary = _Vocabulary("en")
    syria = vocabulary.phrase("Syria")
    talks = vocabulary.phrase("Syria talks")
    assert talks.words[0] is syria.words[0]
    assert vocabulary.phrase("UN", exact=True).words[0].kind == "exact"
    # the same text as another kind of word is another word
    assert vocabulary.phrase("Syria*").words[0].kind == "prefix"
    assert vocabulary.phrase("Syria", kind="infix").words[0].kind == "infix"
    assert syria.words[0].kind == "forms"


def test_heads_automaton_holds_each_head_with_its_length() -> None:
    automaton = _heads_automaton(["ab", "abc", "", "xyz", "ab"])
    assert sorted(automaton.items()) == [("\x00ab", 3), ("\x00abc", 4), ("\x00xyz", 4)]
    assert _heads_automaton(["", ""]) is None


def test_words_and_phrases_hash_and_compare_by_value() -> None:
    """Not frozen (cheaper to make), yet hashed and compared as the frozen ones were."""
    word = tagging._Word("forms", frozenset({"syria"}))
    same = tagging._Word("forms", frozenset({"syria"}))
    assert word == same and hash(word) == hash(same) and len({word, same}) == 1
    assert word != tagging._Word("infix", frozenset({"syria"}))
    phrase = tagging._Phrase("Syria talks", (word, same), 3)
    assert phrase == tagging._Phrase("Syria talks", (same, word), 3)
    assert hash(phrase) == hash(tagging._Phrase("Syria talks", (same, word), 3))
    assert phrase.rest == (same,)


@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_paradigms_are_pymorphy3s(lang: str, tmp_path: Path) -> None:
    from pymorphy3.opencorpora_dict import storage

    path = str(Path(tokens._dictionary_path(lang) or "") / "paradigms.array")
    expected = storage._load_paradigms(path)
    assert tokens._paradigms(path, fallback=storage._load_paradigms) == expected
    assert len(expected) > 3000

    def refused(filename: str) -> list[array[int]]:
        return [array("H", [7])]

    # a file that ends before, or goes on after, its last paradigm is pymorphy3's to read
    data = Path(path).read_bytes()
    for broken in (data[:-2], data + b"\x00\x00", data[:1], b""):
        copy = tmp_path / "paradigms.array"
        copy.write_bytes(broken)
        assert tokens._paradigms(str(copy), fallback=refused) == [array("H", [7])]
