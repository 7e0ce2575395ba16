"""The articles index layout without a server: monthly routing, per-language copies, and the
lifecycle (ILM) path that only a full Elasticsearch distribution can take."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from pipeline.indexing.bulk import to_es_document
from pipeline.indexing.layout import (
    LANGUAGE_ANALYZERS,
    articles_template,
    ensure_articles_index,
    month_of,
    monthly_index,
)
from pipeline.schema import EnrichedArticle
from pipeline.settings import Settings


def test_the_languages_the_issue_names_have_their_analyzers() -> None:
    required = {"ru": "mediamon_russian", "en": "english", "tr": "turkish", "ar": "arabic"}
    required |= {"fa": "persian", "fr": "french", "de": "german"}
    assert required.items() <= LANGUAGE_ANALYZERS.items()


def test_language_copies_only_for_analysed_languages() -> None:
    ru = to_es_document(EnrichedArticle(id="1", lang="ru", title="Сирия", text="В Сирии"))
    kk = to_es_document(EnrichedArticle(id="2", lang="kk", title="Сирия", text="Сирияда"))
    assert ru["title_ru"] == "Сирия" and ru["text_ru"] == "В Сирии"
    assert not [k for k in kk if k.startswith(("title_", "text_"))]


def test_month_is_the_publication_month_unless_the_date_is_not_believable() -> None:
    fetched = datetime(2026, 11, 20, 8, tzinfo=UTC)
    ok = EnrichedArticle(id="1", published=datetime(2026, 3, 31, 23, tzinfo=UTC))
    future = EnrichedArticle(id="2", published=datetime(2099, 1, 1, tzinfo=UTC), fetched_at=fetched)
    epoch = EnrichedArticle(id="3", published=datetime(1970, 1, 1, tzinfo=UTC), fetched_at=fetched)
    undated = EnrichedArticle(id="4", fetched_at=fetched)
    assert month_of(ok) == datetime(2026, 3, 1, tzinfo=UTC)
    for article in (future, epoch, undated):
        assert month_of(article) == datetime(2026, 11, 1, tzinfo=UTC)
    settings = Settings(namespace="t-")
    assert monthly_index(settings, month_of(ok)) == "t-articles-2026.03"


class FakeIndices:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.templates: list[dict[str, Any]] = []

    async def put_index_template(self, name: str, **body: Any) -> None:
        self.templates.append(body)

    async def exists(self, index: str) -> bool:
        return False

    async def create(self, index: str, settings: dict[str, Any] | None = None) -> None:
        self.created.append({"index": index, "settings": settings})

    async def put_mapping(self, index: str, properties: dict[str, Any]) -> None:
        return None

    async def get_mapping(self, index: str) -> Any:
        return SimpleNamespace(body={})


class FakeILM:
    def __init__(self) -> None:
        self.policies: dict[str, Any] = {}

    async def put_lifecycle(self, name: str, policy: dict[str, Any]) -> None:
        self.policies[name] = policy


class FakeNodes:
    def __init__(self, modules: list[str]) -> None:
        self.modules = modules

    async def info(self, **_: Any) -> dict[str, Any]:
        return {"nodes": {"n1": {"modules": [{"name": m} for m in self.modules]}}}


class FakeES:
    """Only what ensure_articles_index calls; the real server is in the integration tests."""

    def __init__(self, modules: list[str]) -> None:
        self.indices = FakeIndices()
        self.ilm = FakeILM()
        self.nodes = FakeNodes(modules)


def test_full_distribution_gets_a_retention_policy_counted_from_month_end() -> None:
    es = FakeES(["x-pack-core", "x-pack-ilm"])
    settings = Settings(es_retention_days=90)
    asyncio.run(ensure_articles_index(es, settings))  # type: ignore[arg-type]
    policy = es.ilm.policies["articles-retention"]
    assert policy["phases"]["delete"]["min_age"] == "90d"
    template = es.indices.templates[0]
    assert template["template"]["settings"]["lifecycle"] == {"name": "articles-retention"}
    created = es.indices.created[0]
    origin = created["settings"]["index.lifecycle.origination_date"]
    month_end = datetime.fromtimestamp(origin / 1000, UTC)
    assert month_end.day == 1 and month_end > datetime.now(UTC) - timedelta(days=1)


def test_without_ilm_no_policy_and_no_lifecycle_setting() -> None:
    es = FakeES(["x-pack-core"])
    asyncio.run(ensure_articles_index(es, Settings()))  # type: ignore[arg-type]
    assert es.ilm.policies == {}
    assert "lifecycle" not in es.indices.templates[0]["template"]["settings"]
    assert es.indices.created[0]["settings"] is None


def test_without_analysis_common_the_plugin_supplies_the_custom_analyzers() -> None:
    full = articles_template(Settings())["template"]["settings"]["analysis"]
    local = articles_template(Settings(), analysis_common=False)["template"]["settings"]["analysis"]
    assert full["analyzer"]["mediamon_russian"]["filter"][-1] == "mediamon_russian_stem"
    assert full["filter"]["mediamon_russian_stem"]["language"] == "light_russian"
    assert local == {"analyzer": {"mediamon_russian": {"type": "mediamon_russian_light"}}}


def test_template_searches_the_language_fields_by_default() -> None:
    body = articles_template(Settings(namespace="x-"))
    assert body["index_patterns"] == ["x-articles-*"]
    assert body["template"]["aliases"] == {"x-articles": {}}
    default_fields = body["template"]["settings"]["query"]["default_field"]
    assert {"title", "text", "title_*", "text_*"} == set(default_fields)
    assert body["template"]["mappings"]["_source"]["excludes"] == ["title_*", "text_*"]
