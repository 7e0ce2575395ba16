"""Records, settings and the JDK finder."""

from __future__ import annotations

import json

import pytest

from deploy.java import find_java
from pipeline.errors import SchemaVersionError, StackError
from pipeline.schema import EnrichedArticle, RawArticle
from pipeline.settings import Settings
from tests.conftest import REPO


def test_raw_article_round_trip_carries_schema() -> None:
    raw = RawArticle(id="a1", title="t", url="https://x.example/a")
    data = json.loads(raw.to_json())
    assert data["schema"] == 1
    assert RawArticle.from_json(raw.to_json()) == raw


def test_newer_schema_is_refused_with_a_reason() -> None:
    payload = json.dumps({"schema": 2, "id": "a1"})
    with pytest.raises(SchemaVersionError, match="newer"):
        RawArticle.from_json(payload)


def test_enriched_document_has_no_unknown_fields() -> None:
    doc = EnrichedArticle(id="a", lang="ru", topics=["syria"]).to_document()
    template = json.loads((REPO / "deploy/elasticsearch/articles-template.json").read_text())
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
