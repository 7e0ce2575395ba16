"""A language's compiled rules read back from rules_cache are what compiling makes: the same
vocabulary (phrase ids, indexes, words) and rules, the same tags; a changed rule or changed
code never reads another's file, and a broken file is compiled anew."""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import cache
from pipeline.stages import rules_cache, tagging
from pipeline.stages.tagging import Tagger, _heads_of, _Vocabulary
from pipeline.taxonomy import ContextRule, LanguageRules, Taxonomy, load_taxonomy

TEXTS = [
    ("de", "Syrien-Gespräche in Astana", "Die UN und Russland berieten über Syrien."),
    ("ru", "Переговоры по Сирии в Астане", "ООН и Турция обсудили ситуацию в Сирии."),
    ("zh", "叙利亚问题阿斯塔纳会谈", "联合国特使参加了叙利亚北部的会谈。"),
    ("ms", "Rundingan Syria di Astana", "PBB membincangkan Syria."),
    ("und", "UN envoy joins Astana talks", "Syria talks resume."),
]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(None)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rules_cache._code_file.cache_clear()
    yield tmp_path / "mediamon"
    rules_cache._code_file.cache_clear()


def _state(vocabulary: _Vocabulary) -> tuple[Any, ...]:
    """What compiling sets in a vocabulary, in order."""
    return (
        vocabulary.lang,
        list(vocabulary.phrases.items()),
        list(vocabulary._by_key.items()),
        list(vocabulary._words.items()),
        list(vocabulary._phrases_of.items()),
        list(vocabulary._by_form.items()),
        list(vocabulary._by_text.items()),
        vocabulary._prefixes,
        vocabulary.infix,
        vocabulary._rest_forms,
        vocabulary._remembering,
    )


def _compiled(tagger: Tagger) -> tuple[Any, ...]:
    vocabularies = {lang: _state(v) for lang, v in tagger._vocabularies.items()}
    places = [  # not compared by the rules' equality
        (
            [r.terms.places, r.exclude.places, r.none.places],
            [
                [c.anchors.places, c.context.places, *(g.places for g in c.groups)]
                for c in r.contexts
            ],
        )
        for r in tagger._compiled.values()
    ]
    return vocabularies, dict(tagger._compiled), places


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object) -> None:
        raise AssertionError("compiled although cached")

    monkeypatch.setattr(tagging._CompiledRules, "of", refused)


def test_cached_rules_are_the_compiled_ones(
    fresh: Path, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = Tagger(taxonomy)
    first = [compiled.tag(title, text, lang) for lang, title, text in TEXTS]
    assert sorted(p.name.split("-")[1] for p in fresh.glob("rules-*.marshal")) == sorted(
        compiled._vocabularies
    )
    assert not list(fresh.glob("*.tmp"))
    # a new process: every language read from its file, none compiled
    with monkeypatch.context() as patched:
        _no_compiling(patched)
        read = Tagger(taxonomy)
        again = [read.tag(title, text, lang) for lang, title, text in TEXTS]
    assert again == first
    assert any(m.topics for m in first)
    assert _compiled(read) == _compiled(compiled)
    for lang, vocabulary in read._vocabularies.items():
        words = {id(w) for p in vocabulary.phrases.values() for w in p.words}
        assert words == {id(w) for w in vocabulary._words.values()}, lang  # shared, as made
        # the heads made from what the file kept are those of the forms
        made = compiled._vocabularies[lang]
        assert vocabulary._heads() == _heads_of(lang, made._by_form, made._by_text), lang
        assert made._heads() == vocabulary._heads(), lang  # kept when the file was written
        vocabulary._dead_ends(["Syria"])
        assert vocabulary._rest_heads in (None, _heads_of(lang, made._rest_forms, ()))
    # a phrase added later is among the heads, and its later words among the rest's
    german = read._vocabularies["de"]
    german.phrase("Quuxland Zorbek")
    assert "quux" in german._heads().prefixes
    assert german._kept_rest_heads is None and german._rest_heads is None
    assert german._dead_ends(["Zorbek", "Blau"]) == {"Blau"}


def test_a_changed_rule_is_compiled_not_read(fresh: Path, taxonomy: Taxonomy) -> None:
    Tagger(taxonomy).tag("Syrien", "", "de")
    before = set(fresh.glob("rules-de-*.marshal"))
    changed = Tagger(taxonomy)
    topic, by_lang = changed._topics[0]
    by_lang["de"] = by_lang["de"].model_copy(update={"terms": [*by_lang["de"].terms, "Neuwort"]})
    match = changed.tag("Neuwort", "Neuwort und Neuwort", "de")
    assert topic.id in match.topics
    assert len(set(fresh.glob("rules-de-*.marshal")) - before) == 1
    # and the unchanged rules still read their own file, without the new word
    again = Tagger(taxonomy)
    assert topic.id not in again.tag("Neuwort", "Neuwort und Neuwort", "de").topics


def test_changed_code_makes_another_file(
    fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "code.py"
    source.write_text("one", encoding="utf-8")
    monkeypatch.setattr(cache, "find_spec", lambda name: _Spec(source))
    rules = LanguageRules(terms=["Syria", "Astana*"], exact=["UN"])
    before = rules_cache.path("en", ["en"], [rules])
    source.write_text("two, longer", encoding="utf-8")
    rules_cache._code_file.cache_clear()
    after = rules_cache.path("en", ["en"], [rules])
    assert before is not None and after is not None and before != after
    other = rules.model_copy(update={"exclude": [*rules.exclude, "x"]})
    assert rules_cache.path("en", ["en"], [other]) != after
    assert rules_cache.path("de", ["en"], [rules]) != after


class _Spec:
    def __init__(self, origin: Path) -> None:
        self.origin = str(origin)


def test_a_broken_or_foreign_file_is_compiled_anew(
    fresh: Path, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = Tagger(taxonomy)
    expected = compiled.tag("Syrien", "Die UN in Syrien", "de")
    [written] = fresh.glob("rules-de-*.marshal")
    for content in (b"not marshal", marshal.dumps((1, 2, 3)), b""):
        written.write_bytes(content)
        tagger = Tagger(taxonomy)
        assert tagger.tag("Syrien", "Die UN in Syrien", "de") == expected
        assert _compiled(tagger) == _compiled(compiled)
    # the file written anew is read again
    with monkeypatch.context() as patched:
        _no_compiling(patched)
        assert Tagger(taxonomy).tag("Syrien", "Die UN in Syrien", "de") == expected


def test_an_unwritable_cache_only_compiles(
    fresh: Path, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = fresh.parent / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    rules_cache._code_file.cache_clear()
    assert "syria" in Tagger(taxonomy).tag("Syrien", "Syrien", "de").topics


def _context(**fields: Any) -> ContextRule:
    """A context rule as compiling reads it, whether or not it validates alone."""
    return ContextRule.model_construct(**fields)


def _rules(**fields: Any) -> LanguageRules:
    return LanguageRules.model_construct(**fields)


def test_the_rules_key_tells_every_list_apart() -> None:
    def key(*rules: LanguageRules) -> str:
        return rules_cache._content("en", ["en"] * len(rules), rules)

    base = _rules(terms=["Syria", "Astana"])
    variants = [
        base,
        _rules(terms=["Syria"], exact=["Astana"]),
        _rules(terms=["Syria"], exclude=["Astana"]),
        _rules(terms=["Syria"], none=["Astana"]),
        _rules(terms=["Syria\x00Astana"]),
        _rules(terms=["Syria", "Astana"], context=[_context(terms=["talks"])]),
        _rules(terms=["Syria", "Astana"], context=[_context(terms=["talks"], window=3)]),
        _rules(terms=["Syria", "Astana"], context=[_context(with_=["talks"])]),
        _rules(terms=["Syria", "Astana"], context=[_context(all_of=[["talks"]])]),
        _rules(terms=["Syria", "Astana"], context=[_context(all_of=[["talks"], []])]),
    ]
    keys = [key(r) for r in variants]
    assert len(set(keys)) == len(keys)
    assert key(base) == key(_rules(terms=["Syria", "Astana"]))  # equal rules, one key
    assert key(base, base) not in keys
    # a word holding a NUL is keyed by the lists' JSON, still apart from its neighbours
    assert key(_rules(terms=["a\x00b", "c"])) != key(_rules(terms=["a", "b\x00c"]))


# What `_snapshot` keeps of a compiled vocabulary (beside `lang`, which names its file)
_KEPT = {
    "lang",
    "phrases",
    "_by_key",
    "_words",
    "_phrases_of",
    "_by_form",
    "_by_text",
    "_prefixes",
    "infix",
    "_rest_forms",
    "_kept_heads",
    "_kept_rest_heads",
}


def test_compiling_sets_nothing_the_file_does_not_keep(fresh: Path, taxonomy: Taxonomy) -> None:
    """A vocabulary's every other attribute is as a new one has it after compiling (caches
    filled by texts, parts built on first use): an attribute that compiling comes to set
    must be kept by `_snapshot` and made again by `_restore`, or a process reading the file
    would tag otherwise than the one that compiled."""
    tagger = Tagger(taxonomy)
    for lang in ("de", "ru", "ar", "ja"):
        tagger._compile(lang)
    assert {"de", "ru", "ar", "ja"} <= set(tagger._vocabularies)
    for lang, vocabulary in tagger._vocabularies.items():
        new = _Vocabulary(lang)
        assert set(vars(vocabulary)) == set(vars(new)), lang
        for name in set(vars(vocabulary)) - _KEPT:
            made, empty = getattr(vocabulary, name), getattr(new, name)
            if hasattr(made, "__len__"):  # the native word table has no equality
                assert len(made) == len(empty), (lang, name)
            else:
                assert made == empty, (lang, name)
