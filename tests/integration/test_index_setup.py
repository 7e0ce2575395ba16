"""The articles index on the real server: setup is idempotent and upgrades older indices,
monthly indices behind one alias, per-language analysis, updates that change month, and
documents the mapping refuses."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from mediamon.search import build_query
from pipeline.adapters.elastic import make_client
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.indexing.layout import ensure_articles_index
from pipeline.schema import EnrichedArticle
from tests.integration.conftest import Env


def test_setup_is_idempotent_and_adds_new_fields(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    alias = env.settings.articles_alias

    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        es = make_client(env.settings)
        try:
            old_index = f"{alias}-2020.01"
            old = {"dynamic": "strict", "properties": {"id": {"type": "keyword"}}}
            await es.indices.create(index=old_index, mappings=old, aliases={alias: {}})
            first = await ensure_articles_index(es, env.settings)
            assert await ensure_articles_index(es, env.settings) == first  # twice: harmless
            doc = EnrichedArticle(id="a1", story_id="s1", topics=["un"]).to_document()
            await es.index(index=old_index, id="a1", document=doc, refresh=True)
            got = (await es.search(index=alias, query={"ids": {"values": ["a1"]}}))["hits"]["hits"][
                0
            ]
            indices = await es.indices.get_alias(name=alias)
            return first, dict(got["_source"]), dict(indices)
        finally:
            await es.close()

    with caplog.at_level(logging.WARNING):
        index, source, indices = asyncio.run(scenario())
    assert index == f"{alias}-{datetime.now(UTC):%Y.%m}"
    assert {index, f"{alias}-2020.01"} <= set(indices)
    assert source["story_id"] == "s1" and source["topics"] == ["un"]
    # the test server has no x-pack: setup says retention is not applied and carries on
    assert any("no index lifecycle management" in r.getMessage() for r in caplog.records)


def _article(i: str, lang: str, title: str, text: str, published: datetime) -> EnrichedArticle:
    return EnrichedArticle(id=i, lang=lang, title=title, text=text, published=published)


def test_language_analysis_monthly_indices_and_moved_updates(env: Env) -> None:
    alias = env.settings.articles_alias
    jan, mar = datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    batch = [
        _article("ru1", "ru", "Переговоры по Сирии в Астане", "Делегации обсудили Сирию.", jan),
        _article("en1", "en", "Talks resume", "The delegations were talking about Syria.", jan),
        _article("kk1", "kk", "Сирия туралы келіссөздер", "Астанада келіссөздер өтті.", jan),
        _article("moved", "en", "Ceasefire monitored", "An early version.", jan),
    ]

    async def scenario() -> dict[str, Any]:
        es = make_client(env.settings)
        indexer = ArticleIndexer(es, env.settings)
        try:
            await ensure_articles_index(es, env.settings)
            first = await indexer.index(batch)
            await es.indices.refresh(index=alias)
            # the update moved the article's date into March: one copy must remain, in March
            moved = _article("moved", "en", "Ceasefire monitored", "Updated text.", mar)
            second = await indexer.index([moved])
            await es.indices.refresh(index=alias)

            async def ids(query: str) -> set[str]:
                resp = await es.search(index=alias, query=build_query(query, [], [], None))
                return {h["_id"] for h in resp["hits"]["hits"]}

            copies = await es.search(index=alias, query={"ids": {"values": ["moved"]}})
            ru = await es.search(index=alias, query={"ids": {"values": ["ru1"]}})
            ru_source = ru["hits"]["hits"][0]["_source"]
            return {
                "first": first,
                "second": second,
                "сирия": await ids("Сирия"),
                "сирийский": await ids("Сирию AND переговор"),
                "talk": await ids("talk"),
                "астана": await ids("Астана"),
                "moved": [h["_index"] for h in copies["hits"]["hits"]],
                "ru_source": ru_source,
            }
        finally:
            await es.close()

    got = asyncio.run(scenario())
    assert got["first"].indexed == 4 and not got["first"].rejected
    # «Сирия» finds «Сирии» and «Сирию» (Russian analyzer); the Kazakh «Сирия» matches as is
    assert got["сирия"] == {"ru1", "kk1"}
    assert got["сирийский"] == {"ru1"}  # «переговор» stems like «Переговоры»
    assert got["talk"] == {"en1"}  # English stemming: "talking" and "Talks"
    # the light Russian stemmer: «Астана» and «Астане» meet (Snowball makes "аста"/"астан")
    assert got["астана"] == {"ru1"}
    assert got["moved"] == [f"{alias}-2026.03"]
    assert got["second"].strays_removed == 1
    # the language copies are indexed but not stored twice
    assert "text_ru" not in got["ru_source"] and got["ru_source"]["text"].startswith("Делегации")


def test_a_document_the_mapping_refuses_is_reported_not_retried(env: Env) -> None:
    good = EnrichedArticle(id="ok", title="fine", topic_scores={"syria": 2.0})
    # a dotted topic id clashes with an existing one in the topic_scores object mapping
    bad = EnrichedArticle(id="bad", title="clash", topic_scores={"syria": 1.0, "syria.x": 1.0})

    async def scenario() -> Any:
        es = make_client(env.settings)
        try:
            await ensure_articles_index(es, env.settings)
            return await ArticleIndexer(es, env.settings).index([good, bad])
        finally:
            await es.close()

    report = asyncio.run(scenario())
    assert report.indexed == 1 and report.retries == 0
    assert [i for i, _ in report.rejected] == ["bad"]
    assert "mapper" in report.rejected[0][1] or "parsing" in report.rejected[0][1]


def test_a_batch_larger_than_one_bulk_request_is_split(env: Env) -> None:
    # 60 maximal Cyrillic articles: ~200 KB of UTF-8 each, sent twice (text and text_ru),
    # about 24 MB in all: more than one bulk request may carry (MAX_BULK_BYTES)
    text = ("Переговоры по Сирии продолжились в Астане. " * 2400)[:100_000]
    batch = [
        EnrichedArticle(id=f"big-{n}", lang="ru", title=f"Большой {n}", text=text)
        for n in range(60)
    ]

    async def scenario() -> tuple[Any, int]:
        es = make_client(env.settings)
        try:
            await ensure_articles_index(es, env.settings)
            report = await ArticleIndexer(es, env.settings).index(batch)
            await es.indices.refresh(index=env.settings.articles_alias)
            count = await es.count(index=env.settings.articles_alias)
            return report, int(count["count"])
        finally:
            await es.close()

    report, count = asyncio.run(scenario())
    assert (report.indexed, report.rejected, report.retries, count) == (60, [], 0, 60)


def test_an_update_redated_before_a_refresh_still_leaves_one_copy(env: Env) -> None:
    # the first copy is not searchable yet when the re-dated one arrives (refresh is 1 s)
    first = _article("quick", "en", "Talks", "v1", datetime(2026, 9, 30, 23, tzinfo=UTC))
    second = _article("quick", "en", "Talks", "v2", datetime(2026, 10, 1, 1, tzinfo=UTC))

    async def scenario() -> tuple[list[str], int]:
        es = make_client(env.settings)
        indexer = ArticleIndexer(es, env.settings)
        try:
            await ensure_articles_index(es, env.settings)
            await indexer.index([first])
            report = await indexer.index([second])
            await es.indices.refresh(index=env.settings.articles_alias)
            copies = await es.search(
                index=env.settings.articles_alias, query={"ids": {"values": ["quick"]}}
            )
            return [h["_index"] for h in copies["hits"]["hits"]], report.strays_removed
        finally:
            await es.close()

    indices, removed = asyncio.run(scenario())
    assert indices == [f"{env.settings.articles_alias}-2026.10"] and removed == 1


def _copy(text: str, fetched: datetime, published: datetime) -> EnrichedArticle:
    article = _article("versioned", "en", "Talks", text, published)
    return article.model_copy(update={"fetched_at": fetched})


def test_an_older_copy_arriving_late_never_replaces_a_newer_one(env: Env) -> None:
    """A copy retried through the retry topic or replayed from a dead-letter topic can reach
    the indexer after a newer copy of the same article: it is skipped, in the same monthly
    index (the write is conditional on the version) and in another one (dated differently,
    it lands there first and is then removed as the stale copy)."""
    alias = env.settings.articles_alias
    jan, mar = datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)
    v1 = _copy("first version", datetime(2026, 3, 11, 8, tzinfo=UTC), mar)
    v2 = _copy("second version", datetime(2026, 3, 11, 9, tzinfo=UTC), mar)
    v1_january = _copy("first version, dated January", v1.fetched_at or jan, jan)

    async def held(es: Any) -> list[tuple[str, str]]:
        await es.indices.refresh(index=alias)
        resp = await es.search(index=alias, query={"ids": {"values": ["versioned"]}})
        return [(h["_index"], h["_source"]["text"]) for h in resp["hits"]["hits"]]

    async def scenario() -> dict[str, Any]:
        es = make_client(env.settings)
        indexer = ArticleIndexer(es, env.settings)
        try:
            await ensure_articles_index(es, env.settings)
            got: dict[str, Any] = {"newer": await indexer.index([v2])}
            got["same_month"] = await indexer.index([v1])
            got["after_same_month"] = await held(es)
            got["again"] = await indexer.index([v2])  # a redelivery of the same version
            got["other_month"] = await indexer.index([v1_january])
            got["after_other_month"] = await held(es)
            return got
        finally:
            await es.close()

    got = asyncio.run(scenario())
    march = f"{alias}-2026.03"
    assert got["newer"].indexed == 1 and not got["newer"].superseded
    assert got["same_month"].superseded == ["versioned"] and got["same_month"].indexed == 0
    assert not got["same_month"].rejected and not got["same_month"].deferred
    assert got["after_same_month"] == [(march, "second version")]
    assert got["again"].indexed == 1 and not got["again"].superseded
    assert got["other_month"].superseded == ["versioned"]
    assert got["other_month"].strays_removed == 0
    assert f"{alias}-2026.01" not in got["other_month"].indices
    assert got["after_other_month"] == [(march, "second version")]
