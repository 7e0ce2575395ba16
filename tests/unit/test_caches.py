"""What is kept between processes (CLDR names, py3langid's unpacked model): the same answers
as without it, and a cache that cannot be read or written changes nothing but the time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.cache import JsonStore
from pipeline.taxonomy import cldr_cache
from pipeline.taxonomy.expand import cldr_names
from tests.support.paths import FIXTURES


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(cldr_cache, "_store", JsonStore(cldr_cache._path))
    cldr_names.cache_clear()
    yield tmp_path
    cldr_names.cache_clear()


def test_names_survive_a_restart_unchanged(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = cldr_names("UA", "it", "uk")
    assert "Ucraina" in first
    cldr_cache.save()
    [written] = (fresh / "mediamon").glob("cldr-names-*.json")
    assert "UA|it|uk" in written.read_text(encoding="utf-8")
    # a new process: nothing in memory, the file answers without Babel
    monkeypatch.setattr(cldr_cache, "_store", JsonStore(cldr_cache._path))
    cldr_names.cache_clear()
    assert cldr_cache.get("UA|it|uk") == first
    assert cldr_names("UA", "it", "uk") == first


def test_a_broken_or_unwritable_cache_is_only_slower(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fresh / "mediamon").mkdir()
    path = cldr_cache._path()
    assert path is not None
    path.write_text("{not json", encoding="utf-8")
    assert cldr_names("SY", "de") == ("Syrien",)
    # a cache home that is a file (as root, permissions would not stop the write)
    blocker = fresh / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    cldr_cache.save()  # no error: the next process reads Babel again
    assert cldr_cache._store.dirty


def test_unpacked_language_model_scores_as_the_packaged_one(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from pipeline.stages import language

    language._identifier.cache_clear()
    try:
        cached = language._identifier()
        assert list((fresh / "mediamon").glob("py3langid-model-*.npz"))
        packaged = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        assert cached.nb_classes == packaged.nb_classes
        # its table as float32 (a copy beside it): the same scores, bit for bit, as the
        # packaged float16 table's
        assert list((fresh / "mediamon").glob("py3langid-ptc32-*.npy"))
        assert cached.nb_ptc.dtype == np.float32 and packaged.nb_ptc.dtype == np.float16
        texts = ["Переговоры по Сирии в Астане", "Colloqui sulla Siria ad Astana", "叙利亚"]
        for line in (FIXTURES / "eval" / "coverage-dev.jsonl").read_text("utf-8").splitlines():
            item = json.loads(line)
            texts += [item["title"], f"{item['title']}\n{item.get('text', '')}"]
        for text in texts:
            assert np.array_equal(
                cached._decide(text).view(np.uint32), packaged._decide(text).view(np.uint32)
            ), text
        # a broken float32 copy: the float16 table, the same scores
        [table] = (fresh / "mediamon").glob("py3langid-ptc32-*.npy")
        table.write_bytes(b"not an npy")
        language._identifier.cache_clear()
        half = language._identifier()
        assert half.nb_ptc.dtype == np.float16
        assert np.array_equal(half._decide(texts[0]), packaged._decide(texts[0]))
        # a broken copy: the package's own path, same answers
        [copy] = (fresh / "mediamon").glob("py3langid-model-*.npz")
        copy.write_bytes(b"not an npz")
        language._identifier.cache_clear()
        again = language._identifier()
        assert np.array_equal(again._decide("Syria talks"), packaged._decide("Syria talks"))
    finally:
        language._identifier.cache_clear()


def test_term_forms_survive_a_restart_unchanged(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.stages import term_cache
    from pipeline.stages.tokens import _term_forms, term_forms

    monkeypatch.setattr(term_cache, "_store", JsonStore(term_cache._path))
    term_forms.cache_clear()
    try:
        words = [("Сирия", "ru"), ("Astana", "kk"), ("Syrien", "de"), ("سوريا", "ar")]
        first = [term_forms(w, lang) for w, lang in words]
        assert first == [_term_forms(w, lang) for w, lang in words]
        term_cache.save()
        [written] = (fresh / "mediamon").glob("term-forms-*.json")
        assert "ru\\u0000Сирия" in written.read_text(encoding="utf-8")
        # a new process: nothing in memory, the file answers without the analysers
        monkeypatch.setattr(term_cache, "_store", JsonStore(term_cache._path))
        term_forms.cache_clear()
        assert [term_forms(w, lang) for w, lang in words] == first
        assert not term_cache._store.dirty
        # a broken file: computed again, the same forms
        written.write_text("{not json", encoding="utf-8")
        monkeypatch.setattr(term_cache, "_store", JsonStore(term_cache._path))
        term_forms.cache_clear()
        assert [term_forms(w, lang) for w, lang in words] == first
    finally:
        term_forms.cache_clear()


@pytest.fixture
def names(fresh: Path) -> Iterator[Path]:
    """A copy of the shipped name tables, no table parsed in this process yet."""
    import shutil

    from pipeline.taxonomy.expand import NAMES_DIR, name_tables

    copy = fresh / "names"
    shutil.copytree(NAMES_DIR, copy)
    name_tables.cache_clear()
    yield copy
    name_tables.cache_clear()


def test_parsed_name_tables_equal_the_yaml_and_follow_an_edit(fresh: Path, names: Path) -> None:
    import json
    import os

    from pipeline.taxonomy.expand import name_tables

    parsed = name_tables(names)
    [written] = (fresh / "mediamon").glob("names-*.json")
    name_tables.cache_clear()
    again = name_tables(names)  # a new process: read from the cache
    assert again == parsed and len(again) == len(list(names.glob("*.yaml")))
    # the cache holds what it is read for, not what the files say: prove it is read
    data = json.loads(written.read_text(encoding="utf-8"))
    data["en"]["syria"]["terms"] = ["Cached"]
    written.write_text(json.dumps(data), encoding="utf-8")
    name_tables.cache_clear()
    assert name_tables(names)["en"]["syria"].terms == ["Cached"]
    # an edited file makes a new key: its new content, not the cache's
    en = names / "en.yaml"
    en.write_text("syria:\n  terms: [Edited]\n", encoding="utf-8")
    os.utime(en, ns=(1, 1))
    name_tables.cache_clear()
    edited = name_tables(names)
    assert edited["en"]["syria"].terms == ["Edited"] and "syria" not in edited.get("xx", {})
    assert edited["de"] == parsed["de"]
    # a broken cache: the YAML again
    for path in (fresh / "mediamon").glob("names-*.json"):
        path.write_text("{not json", encoding="utf-8")
    name_tables.cache_clear()
    assert name_tables(names)["de"] == parsed["de"]


def test_a_name_cache_of_another_shape_or_a_file_saved_mid_read_is_not_served(
    fresh: Path, names: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import os

    from pipeline.taxonomy import expand
    from pipeline.taxonomy.expand import name_tables

    parsed = name_tables(names)
    [written] = (fresh / "mediamon").glob("names-*.json")
    # a cache written by a version whose entries had another field: the YAML answers
    data = json.loads(written.read_text(encoding="utf-8"))
    data["de"]["syria"]["weight"] = 2
    written.write_text(json.dumps(data), encoding="utf-8")
    name_tables.cache_clear()
    assert name_tables(names)["de"] == parsed["de"]
    # a file saved while the tables are read: the next process sees the new content
    original = expand._parse

    def parse_then_edit(path: Path) -> object:
        data = original(path)
        if path.name == "en.yaml":
            path.write_text("syria:\n  terms: [Saved meanwhile]\n", encoding="utf-8")
            os.utime(path, ns=(2, 2))
        return data

    for path in (fresh / "mediamon").glob("names-*.json"):
        path.unlink()
    monkeypatch.setattr(expand, "_parse", parse_then_edit)
    name_tables.cache_clear()
    assert name_tables(names)["en"] == parsed["en"]  # what was read
    monkeypatch.setattr(expand, "_parse", original)
    name_tables.cache_clear()
    assert name_tables(names)["en"]["syria"].terms == ["Saved meanwhile"]


@pytest.mark.parametrize(
    "data",
    [
        {"a": ["x", "y"], "b": [], "c": ["z"]},
        {"a": ["x"], "b": "not a list", "c": ["z"]},
        {"a": ["x", 1], "b": ["y"]},
        {"a": None, "b": [["nested"]], "c": [None], "d": {"k": "v"}, "e": ["ok"]},
        {},
    ],
)
def test_a_store_file_keeps_exactly_its_lists_of_strings(
    tmp_path: Path, data: dict[str, object]
) -> None:
    """JsonStore's load tells a well-formed file in C; what it keeps must be what the
    entry-by-entry filter keeps, in the same order, for well-formed and other files."""
    path = tmp_path / "store.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    store = JsonStore(lambda: path)
    wanted = {
        k: v for k, v in data.items() if isinstance(v, list) and all(isinstance(x, str) for x in v)
    }
    loaded = store._load()
    assert loaded == wanted and list(loaded) == list(wanted)
    assert all(store.get(k) == v for k, v in wanted.items())


def _fields_set(value: object) -> object:
    """`value` with every model's set fields beside its values: what validating a dump
    with exclude_unset must give back."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        fields = {k: _fields_set(v) for k, v in value.__dict__.items()}
        return (type(value).__name__, sorted(value.model_fields_set), fields)
    if isinstance(value, list):
        return [_fields_set(x) for x in value]
    if isinstance(value, dict):
        return {k: _fields_set(v) for k, v in value.items()}
    return value


def test_expanded_taxonomy_survives_a_restart_unchanged(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.taxonomy import Taxonomy, load_taxonomy
    from pipeline.taxonomy import expand as expand_module
    from pipeline.taxonomy.expand import expand, name_tables

    taxonomy = load_taxonomy()
    computed = expand(taxonomy)
    [written] = (fresh / "mediamon").glob("taxonomy-*.json")
    direct = expand_module._expand(taxonomy, name_tables())
    assert computed == direct and _fields_set(computed) == _fields_set(direct)

    def no_expanding(*args: object) -> None:
        raise AssertionError("expanded again")

    with monkeypatch.context() as patched:
        patched.setattr(expand_module, "_expand", no_expanding)
        cached = expand(load_taxonomy())  # a new process: read from the file
        assert cached == direct and _fields_set(cached) == _fields_set(direct)
        # another taxonomy (a value, or only which fields are set) is another file
        assert "version" in taxonomy.model_fields_set and taxonomy.version == 3  # the default
        other = Taxonomy.model_validate(taxonomy.model_dump(by_alias=True, exclude={"version"}))
        assert other == taxonomy
        assert expand_module._expanded_cache(other) != expand_module._expanded_cache(taxonomy)
        with pytest.raises(AssertionError, match="expanded again"):
            expand(other)
        # the tables a caller gives are its own: never served from the file
        with pytest.raises(AssertionError, match="expanded again"):
            expand(taxonomy, {})
    # a broken file, or one that does not validate: expanded anew, and written again
    for content in ("{not json", '{"topics": [{"id": "x"}]}'):
        written.write_text(content, encoding="utf-8")
        assert expand(taxonomy) == direct
        assert Taxonomy.model_validate_json(written.read_bytes()) == direct


def test_taxonomy_data_survives_a_restart_and_errors_keep_their_lines(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from pipeline.errors import ConfigError
    from pipeline.taxonomy import load_taxonomy

    path = fresh / "taxonomy.yaml"
    path.write_text(
        "topics:\n  - id: grain\n    label: Grain\n    rules: {en: {terms: [grain*]}}\n",
        encoding="utf-8",
    )
    first = load_taxonomy(path)
    assert len(list((fresh / "mediamon").glob("yaml-data-*.json"))) == 1

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(yaml, "load", no_parsing)
        again = load_taxonomy(path)  # a new process: the data from the cache
    assert again == first and _fields_set(again) == _fields_set(first)
    # an edit is new text: parsed, and its error told with file and line as before
    path.write_text(
        "topics:\n  - id: grain\n    label: Grain\n    rules: {en: {terms: ['gr*ain']}}\n",
        encoding="utf-8",
    )
    for _ in range(2):  # the second time from the cache: the same message
        with pytest.raises(ConfigError, match=rf"{path}:4: .*only allowed at the end"):
            load_taxonomy(path)


def test_only_data_json_gives_back_unchanged_is_kept() -> None:
    import datetime

    from pipeline.yamlfile import _plain

    assert _plain({"a": [1, 2.5, True, None, "x", {"b": []}]})
    for value in (
        {1: "int key"},
        {"d": datetime.date(2024, 1, 1)},
        [float("nan")],
        [float("inf")],
        {"s": {1, 2}},
        [b"bytes"],
        ("tuple",),
    ):
        assert not _plain(value), value


@pytest.mark.parametrize(
    "terms",
    [["ok", "fine phrase"], ["", "x"], ["x", "  "], ["*"], [" * "], ["a*b"], ["ok*"], ["a**"]],
)
def test_terms_checked_at_once_as_one_by_one(terms: list[str]) -> None:
    from pipeline.taxonomy import _terms

    def one_by_one(values: list[str]) -> list[str]:
        for value in values:
            if not value.strip() or value.strip() == "*":
                raise ValueError(f"empty term {value!r}")
            if "*" in value.rstrip("*"):
                raise ValueError(f"{value!r}: '*' is only allowed at the end of a word")
        return values

    try:
        expected: object = one_by_one(terms)
    except ValueError as exc:
        expected = str(exc)
    try:
        got: object = _terms(terms)
    except ValueError as exc:
        got = str(exc)
    assert got == expected
