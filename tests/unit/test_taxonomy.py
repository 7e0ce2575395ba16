"""The taxonomy file: the default loads, user files are validated with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.stages.tagging import Tagger
from pipeline.taxonomy import load_taxonomy


def test_default_taxonomy_has_the_three_topics_in_nine_languages() -> None:
    taxonomy = load_taxonomy()
    assert [t.id for t in taxonomy.topics] == ["syria", "astana_process", "un"]
    for topic in taxonomy.topics:
        assert {"ru", "en", "kk", "tr", "ar", "fa", "fr", "de", "uk"} <= set(topic.rules)


def test_user_topic_without_python(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "topics:\n"
        "  - id: grain\n"
        "    label: Grain deal\n"
        "    rules:\n"
        "      en: {terms: [grain deal, grain corridor]}\n"
        "      ru: {terms: [зерновая сделка, зерновой коридор]}\n",
        encoding="utf-8",
    )
    tagger = Tagger(load_taxonomy(path))
    assert tagger.tag("Talks on the grain deal resume", "", "en").topics == ["grain"]
    assert tagger.tag("Продление зерновой сделки обсудят", "", "ru").topics == ["grain"]
    assert tagger.tag("Weather report", "", "en").topics == []


def test_invalid_taxonomy_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "topics:\n"
        "  - id: ok\n"
        "    label: OK\n"
        "    rules: {en: {terms: [fine]}}\n"
        "  - id: Bad Id\n"
        "    label: Broken\n"
        "    rules: {en: {terms: ['bad*term']}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_taxonomy(path)
    message = str(err.value)
    assert f"{path}:5: topics.1.id" in message
    assert "only allowed at the end" in message and f"{path}:7" in message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("topics:\n  - id: x\n   label: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml:\d+: invalid YAML"):
        load_taxonomy(path)


def test_overlapping_terms_and_any_language_rules(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "topics:\n"
        "  - id: talks\n"
        "    label: Talks\n"
        "    rules:\n"
        '      "*": {terms: [Astana], exact: [UN]}\n'
        "      ru: {terms: [переговоры в Астане, переговоры, Астана]}\n",
        encoding="utf-8",
    )
    tagger = Tagger(load_taxonomy(path))
    match = tagger.tag("Переговоры в Астане", "UN and Astana; un", "ru")
    # One hit per position, the first listed term keeping it; "*" rules apply in English.
    assert [(e["term"], e["text"], e["field"]) for e in match.evidence["talks"]] == [
        ("переговоры в Астане", "Переговоры в Астане", "title"),
        ("Астана", "Астане", "title"),
        ("UN", "UN", "text"),
        ("Astana", "Astana", "text"),
    ]
    assert match.scores == {"talks": 6.0}


def test_compiled_rules_are_frozen_and_the_collector_left_as_found(tmp_path: Path) -> None:
    import gc

    path = tmp_path / "t.yaml"
    path.write_text(
        "topics:\n  - id: grain\n    label: Grain deal\n    rules:\n"
        "      en: {terms: [grain deal]}\n      ru: {terms: [зерновая сделка]}\n",
        encoding="utf-8",
    )
    tagger = Tagger(load_taxonomy(path))
    was = gc.isenabled()
    try:
        for lang, title, enabled in (("en", "Grain deal", True), ("ru", "Зерновая сделка", False)):
            (gc.enable if enabled else gc.disable)()
            assert tagger.tag(title, "", lang).topics == ["grain"]
            assert gc.isenabled() is enabled  # paused while compiling, then as it was
            # what was compiled for this language is out of the collector's generations
            compiled = tagger._choices[lang][0][0]
            assert not any(o is compiled for o in gc.get_objects())
    finally:
        (gc.enable if was else gc.disable)()


def test_a_dropped_tagger_is_freed_though_frozen() -> None:
    # frozen objects are never traversed by the collector: a tagger replaced on reload must
    # hold no reference cycle, or its compiled rules would stay for the process's life
    import weakref

    tagger = Tagger(load_taxonomy())
    for lang, title in (("en", "Syria talks in Astana"), ("ru", "Переговоры по Сирии")):
        tagger.tag(title, "", lang)
    refs = [weakref.ref(v) for v in tagger._vocabularies.values()] + [weakref.ref(tagger)]
    del tagger
    assert all(ref() is None for ref in refs)
