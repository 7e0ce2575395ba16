"""The pre-selection's reading of queries, against what Elasticsearch's query_string makes
of them (the structures below were checked with `_validate/query?explain` on the 8.19
server: docs/alerts.md), and its index of rules. The property test on the real server is
tests/integration/test_presearch.py."""

from __future__ import annotations

import re

import pytest

from pipeline.alerts.presearch import (
    Analysed,
    BatchFacts,
    BatchTerms,
    Presearcher,
    anchor,
    every_batch_reason,
    holds,
    needs_of,
    parse,
    requirement,
)

STOP_EN = {"the", "a", "of"}


def analysed(text: str) -> Analysed:
    """Two fields: `text` keeps every word, `text_en` drops English stop words and cuts a
    plural s (a stand-in for a stemmer)."""
    words = re.findall(r"\w+", text.lower())
    return {
        "text": words,
        "text_en": [w.rstrip("s") for w in words if w not in STOP_EN],
    }


def matches(query: str, *batch_words: str) -> bool:
    return holds(requirement(parse(query), analysed), BatchTerms(batch_words))


@pytest.mark.parametrize(
    ("query", "batch", "expected"),
    [
        ("syria AND astana", ["syria"], False),
        ("syria AND astana", ["syria", "astana"], True),
        ("syria OR astana", ["astana"], True),
        # Lucene's addClause: OR makes the clause before it optional, AND required
        ("la cessez OR feu", ["cessez"], False),  # +la cessez feu: "la" is required
        ("la cessez OR feu", ["la"], True),
        ("x OR y z", ["x", "y"], False),  # x y +z
        ("x OR y z", ["z"], True),
        ("a OR b AND c", ["a", "c"], False),  # a +b +c
        # plain words in a row are one text per field: all of them, in one field
        ("x y -z", ["x"], False),
        ("x y -z", ["x", "y", "z"], True),  # the NOT is the server's to apply
        ("+x y", ["y"], False),
        # a stop word in every field is dropped, and an AND then binds the clause before it
        ("p OR the AND q", ["q"], False),  # "the" is kept by `text`: +p? no: p +the +q
        ("ponies", ["ponie"], True),  # the stemmed form counts
        ("ponies", ["pony"], False),
        ('"happy ponies"', ["happy"], False),
        ('"happy ponies"', ["happy", "ponies"], True),
        ("contin*", ["continued"], True),
        ("contin*", ["cont"], False),
        ("NOT syria", [], True),  # only negations: every batch
        ("syria~1", [], True),  # fuzzy: the server decides
        ("lang:ru AND syria", ["syria"], True),
        ("lang:ru AND syria", ["astana"], False),
        ("*stan", [], True),
        ("[a TO c] AND syria", ["syria"], True),
        ("text_en:(astana talks)", ["astana"], False),
        ("text_en:(astana talks)", ["astana", "talk"], True),
        ("title:syria", [], True),  # a field this index does not map: the server says
        ("syria AND (astana OR NOT geneva)", ["syria"], False),  # (astana -geneva) needs astana
        ("syria AND (NOT geneva)", ["syria"], True),  # a group of negations: anything
        ("(syria", [], True),  # unreadable: every batch
    ],
)
def test_what_a_batch_must_contain(query: str, batch: list[str], expected: bool) -> None:
    assert matches(query, *batch) is expected


def test_a_clause_dropped_by_every_analyzer_moves_the_and_to_the_clause_before() -> None:
    def only_en(text: str) -> Analysed:  # one field, which drops stop words
        return {"text_en": [w for w in re.findall(r"\w+", text.lower()) if w not in STOP_EN]}

    # p OR the AND q: "the" is dropped, so the AND makes p required (Lucene's addClause
    # changes the last clause added, which is p)
    need = requirement(parse("p OR the AND q"), only_en)
    assert not holds(need, BatchTerms(["q"]))
    assert holds(need, BatchTerms(["p", "q"]))
    # a query of stop words only is left to the server
    assert holds(requirement(parse("the OR a"), only_en), BatchTerms([]))


def test_anchor_picks_the_longest_required_term() -> None:
    need = requirement(parse("un AND astana"), analysed)
    found = anchor(need)
    assert found is not None and found.terms == {"astana"}
    assert anchor(requirement(parse("NOT syria"), analysed)) is None


def facts(
    *words: str, langs: tuple[str, ...] = ("en",), topics: tuple[str, ...] = ()
) -> BatchFacts:
    return BatchFacts(BatchTerms(words), languages=set(langs), topics=set(topics))


def test_candidates_are_the_rules_the_batch_can_match_in_rule_order() -> None:
    rules = [
        needs_of("r1", "syria AND astana", analysed),
        needs_of("r2", "geneva", analysed),
        needs_of("r3", "NOT syria", analysed),
        needs_of("r4", "contin*", analysed),
        needs_of("r5", "syria", analysed, languages=["ru"]),
        needs_of("r6", "syria", analysed, topics=["un"]),
    ]
    pre = Presearcher(rules)
    assert pre.always == ["r3"]
    assert pre.candidates(facts("syria")) == ["r3"]
    assert pre.candidates(facts("syria", "astana")) == ["r1", "r3"]
    assert pre.candidates(facts("continental", "geneva")) == ["r2", "r3", "r4"]
    assert pre.candidates(facts("syria", langs=("ru", "en"), topics=("un",))) == [
        "r3",
        "r5",
        "r6",
    ]


def test_every_batch_reason_names_why() -> None:
    assert every_batch_reason("Сирия AND Астана") is None
    assert every_batch_reason("NOT syria") == "only negations"
    assert every_batch_reason("*stan OR un") == "leading wildcard"
    assert every_batch_reason("syria~2") == "fuzzy term"
    assert every_batch_reason("lang:ru") == "field lang"
