"""A vocabulary that gains phrases after reading texts (a later language's rules compiled
into a shared vocabulary) forgets what it remembered of words, so that the new phrases are
found; before any text it has nothing to forget and skips the clearing."""

from __future__ import annotations

import pytest

from pipeline.stages.tagging import _Vocabulary


@pytest.mark.parametrize("native", [True, False])
def test_a_phrase_added_after_find_is_found(native: bool) -> None:
    vocabulary = _Vocabulary("en")
    if not native:
        vocabulary._table = None
    alpha = vocabulary.phrase("alpha").pid
    tokens = ["beta", "gamma", "alpha"]
    assert vocabulary.find(tokens) == {alpha: [(2, 2)]}
    beta = vocabulary.phrase("beta gamma").pid
    assert vocabulary.find(tokens) == {alpha: [(2, 2)], beta: [(0, 1)]}


def test_a_phrase_added_after_new_words_is_found() -> None:
    vocabulary = _Vocabulary("en")
    vocabulary._table = None  # the Python path reads what _new_words remembered
    vocabulary.phrase("betamax")  # "beta" begins like it: _starts reads it, remembers ()
    assert vocabulary._new_words(["beta"]) == []
    assert vocabulary._starting.get("beta") == ()
    beta = vocabulary.phrase("beta").pid
    assert vocabulary.find(["beta"]) == {beta: [(0, 0)]}


def test_phrases_of_returns_the_phrases_made_first() -> None:
    vocabulary = _Vocabulary("de")  # compounding: the name's infix variant too
    first = vocabulary.phrases_of("Syrien")
    count = len(vocabulary.phrases)
    assert vocabulary.phrases_of("Syrien") == first
    made = (vocabulary.phrase("Syrien"), vocabulary.phrase("Syrien", kind="infix"))
    assert first == made
    assert len(vocabulary.phrases) == count
