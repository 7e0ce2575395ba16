"""Records, settings and the JDK finder."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from pydantic import ValidationError

from deploy.java import find_java
from pipeline.errors import SchemaVersionError, StackError
from pipeline.schema import AlertEvent, EnrichedArticle, RawArticle, Record, Upgrade, carry_over
from pipeline.settings import Settings
from tests.support.paths import REPO


def test_raw_article_round_trip_carries_schema() -> None:
    raw = RawArticle(id="a1", title="t", url="https://x.example/a")
    data = json.loads(raw.to_json())
    assert data["schema"] == 2  # 2: the article page's text and why it was not used
    assert RawArticle.from_json(raw.to_json()) == raw


def test_carry_over_copies_fields_by_name_but_never_the_version() -> None:
    raw = RawArticle(id="a1", title="t", feed_id="f", authors=["x"], published_from_fetch=True)
    enriched = carry_over(raw, EnrichedArticle, text="body")
    assert (enriched.id, enriched.title, enriched.feed_id, enriched.authors) == (
        "a1",
        "t",
        "f",
        ["x"],
    )
    assert (enriched.text, enriched.schema_version) == ("body", EnrichedArticle.VERSION)
    event = carry_over(enriched, AlertEvent, id="r:a1", rule_id="r", article_id="a1")
    assert (event.id, event.title, event.lang) == ("r:a1", "t", "und")
    with pytest.raises(TypeError, match="neither a record nor a dataclass"):
        carry_over(raw, dict)


def test_a_version_1_raw_article_is_read_as_a_feed_only_one() -> None:
    old = RawArticle.from_json(json.dumps({"schema": 1, "id": "a1", "title": "t"}))
    assert (old.schema_version, old.text_source, old.page_text) == (2, "feed", "")


def test_newer_schema_is_refused_with_a_reason() -> None:
    payload = json.dumps({"schema": 3, "id": "a1"})
    with pytest.raises(SchemaVersionError, match="newer"):
        RawArticle.from_json(payload)


def test_newer_schema_with_other_fields_is_refused_for_its_version() -> None:
    # a future producer may rename fields: the reason must be the version, not a field
    with pytest.raises(SchemaVersionError, match="newer"):
        RawArticle.from_json(json.dumps({"schema": 3, "identifier": "a1"}))


class ArticleV3(Record):
    """A record at version 3: v1 had `headline`, v2 renamed it `title`, v3 added `words`."""

    VERSION: ClassVar[int] = 3
    UPGRADES: ClassVar[dict[int, Upgrade]] = {
        1: lambda p: {**{k: v for k, v in p.items() if k != "headline"}, "title": p["headline"]},
        2: lambda p: {**p, "words": len(p["title"].split())},
    }
    id: str
    title: str
    words: int


def test_older_schemas_are_upgraded_step_by_step() -> None:
    v1 = json.dumps({"schema": 1, "id": "a", "headline": "Talks in Astana"})
    v2 = json.dumps({"schema": 2, "id": "a", "title": "Talks in Astana"})
    v3 = ArticleV3(id="a", title="Talks in Astana", words=3, schema=3)
    assert ArticleV3.from_json(v1) == v3
    assert ArticleV3.from_json(v2) == v3
    assert ArticleV3.from_json(v3.to_json()) == v3
    assert json.loads(ArticleV3.from_json(v1).to_json())["schema"] == 3


def test_an_older_schema_without_an_upgrade_is_a_clear_error() -> None:
    class NoPath(Record):
        VERSION: ClassVar[int] = 2
        id: str

    with pytest.raises(SchemaVersionError, match="schema 1 has no upgrade to 2"):
        NoPath.from_json(json.dumps({"schema": 1, "id": "a"}))


def test_not_json_stays_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        RawArticle.from_json(b"\xff not json")


def test_enriched_document_has_no_unknown_fields() -> None:
    doc = EnrichedArticle(id="a", lang="ru", topics=["syria"]).to_document()
    template = json.loads((REPO / "pipeline/indexing/articles-template.json").read_text())
    mapped = set(template["template"]["mappings"]["properties"])
    assert set(doc) <= mapped


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAMON_NAMESPACE", "t1-")
    monkeypatch.setenv("MEDIAMON_FEEDS", "http://a/x.xml, http://b/y.xml,")
    monkeypatch.setenv("MEDIAMON_ES_PASSWORD", "s3cret")
    settings = Settings()
    assert settings.topic("articles.raw") == "t1-articles.raw"
    assert settings.articles_alias == "t1-articles"
    assert settings.feed_urls == ["http://a/x.xml", "http://b/y.xml"]
    assert "s3cret" not in repr(settings)


def test_find_java_finds_17_and_explains_when_missing() -> None:
    java = find_java(17)
    assert java.major >= 17 and java.executable.is_file()
    with pytest.raises(StackError, match="no Java 99\\+ found"):
        find_java(99)


def test_records_are_built_at_first_use_not_at_import() -> None:
    import subprocess
    import sys

    # a fresh process: this one's tests have used every record already
    probe = (
        "from pipeline.schema import AlertEvent, Enclosure, EnrichedArticle, RawArticle,"
        " Record, VolumeCount\n"
        "models = (Record, Enclosure, RawArticle, EnrichedArticle, AlertEvent, VolumeCount)\n"
        "assert not any(m.__pydantic_complete__ for m in models)\n"
        "RawArticle.model_validate({'id': 'a', 'enclosures': [{'url': 'u'}]})\n"
        "print(sorted(m.__name__ for m in models if m.__pydantic_complete__))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    # RawArticle built (Enclosure's schema inside it), the others still deferred
    assert result.stdout.split("\n")[0] == "['RawArticle']"
