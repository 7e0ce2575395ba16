"""pymorphy3's DAWG files read in place by the native module (pipeline/stages/mapped_dawgs.py):
the same answers as the `dawg` package's, for every lookup pymorphy3 makes in parsing."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pipeline.native import native
from pipeline.stages import mapped_dawgs
from pipeline.stages.tokens import _morph, tokenize

pytestmark = pytest.mark.skipif(native is None, reason="native module not built")


def _folder(lang: str) -> str:
    path: str = importlib.import_module(f"pymorphy3_dicts_{lang}").get_path()
    return path


def _words(lang: str) -> list[str]:
    from tests.support.paths import REPO

    found: set[str] = set()
    for path in sorted((REPO / "tests/fixtures/eval").glob("coverage*.jsonl")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            if item["lang"] == lang:
                found.update(t.text.lower() for t in tokenize(item["title"] + " " + item["text"]))
    # letters the substitutes replace (е -> ё, г -> ґ), twice in a word, at its ends; a
    # word no dictionary holds; the empty word
    extra = ["еж", "елка", "ее", "еще", "береза", "ганок", "гудзик", "г", "е", "qwerty", ""]
    assert len(found) > 500
    return sorted(found) + extra


@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_mapped_lookups_are_dawgs(lang: str) -> None:
    from pymorphy3 import dawg

    morph = _morph(lang)
    replaces = morph.char_substitutes
    assert replaces  # the substitutes are walked
    folder = _folder(lang)
    words = dawg.WordsDawg().load(os.path.join(folder, "words.dawg"))
    mapped = mapped_dawgs.MappedRecords(os.path.join(folder, "words.dawg"), dawg.WordsDawg)
    suffixes = [
        (
            dawg.PredictionSuffixesDAWG().load(str(path)),
            mapped_dawgs.MappedRecords(str(path), dawg.PredictionSuffixesDAWG),
        )
        for path in sorted(Path(folder).glob("prediction-suffixes-*.dawg"))
    ]
    replaced = 0
    for word in _words(lang):
        theirs = words.similar_items(word, replaces)
        assert mapped.similar_items(word, replaces) == theirs, word
        assert mapped.similar_item_values(word, replaces) == words.similar_item_values(
            word, replaces
        )
        replaced += any(key != word for key, _ in theirs)
        for end in (word[-1:], word[-3:], word[-5:]):
            for their_dawg, my_dawg in suffixes:
                assert my_dawg.similar_items(end, replaces) == their_dawg.similar_items(
                    end, replaces
                ), end
    assert replaced > 3


def test_mapped_probabilities_are_dawgs() -> None:
    from pymorphy3 import dawg

    morph = _morph("ru")
    path = os.path.join(_folder("ru"), "p_t_given_w.intdawg")
    theirs = dawg.ConditionalProbDistDAWG().load(path)
    mine = mapped_dawgs.MappedProbabilities(path, dawg.ConditionalProbDistDAWG)
    known = 0
    for word in _words("ru")[::3]:
        for parse in morph.parse(word):
            assert mine.prob(word, parse.tag) == theirs.prob(word, parse.tag)
            key = f"{word}:{parse.tag}"
            assert mine.get(key) == theirs.get(key)
            assert mine.get(key, -5) == theirs.get(key, -5)
            known += theirs.get(key) is not None
    assert known > 100
    assert mine.get("стали:\x00x") == theirs.get("стали:\x00x")  # read up to the NUL


def test_morph_reads_its_dawgs_in_place() -> None:
    # the analyzers _morph makes hold mapped DAWGs, and pymorphy3's own loaders are back
    from pymorphy3 import analyzer, dawg
    from pymorphy3.opencorpora_dict import storage

    for lang in ("ru", "uk"):
        dictionary = _morph(lang).dictionary
        assert isinstance(dictionary.words, mapped_dawgs.MappedRecords)
        assert all(
            isinstance(d, mapped_dawgs.MappedRecords) for d in dictionary.prediction_suffixes_dawgs
        )
    estimator = _morph("ru").prob_estimator
    assert isinstance(estimator.p_t_given_w, mapped_dawgs.MappedProbabilities)
    assert storage.dawg is dawg
    assert analyzer.ConditionalProbDistDAWG is dawg.ConditionalProbDistDAWG


def test_other_uses_load_the_dawg_once() -> None:
    from pymorphy3 import dawg

    path = os.path.join(_folder("ru"), "words.dawg")
    mapped = mapped_dawgs.MappedRecords(path, dawg.WordsDawg)
    assert mapped.compile_replaces({"е": "ё"}) == dawg.WordsDawg.compile_replaces({"е": "ё"})
    assert mapped._fallback._loaded is None  # compiling replaces loads nothing
    assert "ёж" in mapped and "qwerty" not in mapped
    loaded = mapped._fallback._loaded
    assert loaded is not None
    assert mapped.items("ёжик") == loaded.items("ёжик") != []
    assert mapped._fallback._loaded is loaded


def test_a_file_that_cannot_be_mapped_is_dawgs_to_load(tmp_path: Path) -> None:
    from pymorphy3 import dawg

    loader: Any = mapped_dawgs._Loader(mapped_dawgs.MappedRecords, dawg.WordsDawg)
    good = os.path.join(_folder("ru"), "words.dawg")
    assert isinstance(loader().load(good), mapped_dawgs.MappedRecords)
    for data in (b"", b"\x00\x00\x00\x10abcd"):  # empty; shorter than its size
        bad = tmp_path / "bad.dawg"
        bad.write_bytes(data)
        with pytest.raises(OSError):  # dawg's "Invalid data format"
            loader().load(str(bad))
    with pytest.raises(ValueError):
        native.MappedDawg(b"\x00\x00\x00\x10abcd", ">HH")  # type: ignore[union-attr]
