"""`mediamon retag` on the real Elasticsearch: a topic added to the taxonomy reaches what is
already indexed; the language-analysed copies survive; a second run changes nothing; a
newer copy written meanwhile is not overwritten."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mediamon.main import app
from pipeline.adapters.elastic import make_client
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.indexing.retag import retag
from pipeline.schema import RawArticle
from pipeline.stages.enrich import Enricher
from pipeline.stages.tagging import Tagger
from pipeline.taxonomy import DEFAULT_PATH, load_taxonomy
from pipeline.worker import prepare
from tests.integration.conftest import Env

ITEMS = [
    (
        "de1",
        "Die Ukraine verhandelt in Genf",
        "Die Ukraine und ihre Partner sprachen über Getreide.",
    ),
    ("fr1", "L'Ukraine demande des armes", "Kiev a de nouveau demandé des armes à ses alliés."),
    ("ru1", "Сирия и ООН", "Совбез ООН обсудил гуманитарную ситуацию в Сирии."),
    ("en1", "Markets rally", "Stocks rose on Tuesday as investors cheered earnings."),
]


def with_ukraine(tmp_path: Path) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        DEFAULT_PATH.read_text(encoding="utf-8")
        + "\n  - id: ukraine\n    label: Ukraine\n    territory: UA\n    language: uk\n",
        encoding="utf-8",
    )
    return path


async def docs(env: Env) -> dict[str, dict[str, Any]]:
    es = make_client(env.settings)
    try:
        await es.indices.refresh(index=env.settings.articles_alias)
        resp = await es.search(index=env.settings.articles_alias, size=100, version=True)
        return {h["_id"]: h["_source"] | {"_version": h["_version"]} for h in resp["hits"]["hits"]}
    finally:
        await es.close()


async def index_all(env: Env) -> None:
    await prepare(env.settings)
    enricher = Enricher(load_taxonomy())
    articles = [
        enricher.enrich(RawArticle(id=i, title=t, content_html=f"<p>{x}</p>")) for i, t, x in ITEMS
    ]
    es = make_client(env.settings)
    try:
        report = await ArticleIndexer(es, env.settings).index(articles)
        assert report.indexed == len(ITEMS)
    finally:
        await es.close()


def test_retag_adds_a_new_topic_once(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(index_all(env))
    before = asyncio.run(docs(env))
    assert not any("ukraine" in d["topics"] for d in before.values())
    for key, value in env.vars.items():
        monkeypatch.setenv(key, value)
    taxonomy = with_ukraine(tmp_path)
    runner = CliRunner()
    dry = runner.invoke(app, ["retag", "--taxonomy", str(taxonomy), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["changed"] == 2
    assert asyncio.run(docs(env)) == before  # a dry run writes nothing

    first = runner.invoke(app, ["retag", "--taxonomy", str(taxonomy), "--since", "1d", "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert (summary["seen"], summary["changed"], summary["added"]) == (4, 2, {"ukraine": 2})
    after = asyncio.run(docs(env))
    assert after["de1"]["topics"] == ["ukraine"] and after["fr1"]["topics"] == ["ukraine"]
    assert after["de1"]["topic_evidence"]["ukraine"][0]["text"] == "Ukraine"
    assert after["ru1"]["topics"] == before["ru1"]["topics"] == ["syria", "un"]
    assert after["de1"]["_version"] == before["de1"]["_version"]  # same version: newer copies win
    assert after["de1"]["indexed_at"] == before["de1"]["indexed_at"]

    second = runner.invoke(app, ["retag", "--taxonomy", str(taxonomy), "--json"])
    assert json.loads(second.output)["changed"] == 0

    # the German-analysed field (not in _source) was written again with the document
    async def german() -> int:
        es = make_client(env.settings)
        try:
            resp = await es.search(
                index=env.settings.articles_alias, query={"match": {"title_de": "Verhandelt"}}
            )
            return int(resp["hits"]["total"]["value"])
        finally:
            await es.close()

    assert asyncio.run(german()) == 1


def test_retag_leaves_a_newer_copy_alone(env: Env, tmp_path: Path) -> None:
    asyncio.run(index_all(env))
    asyncio.run(docs(env))  # refreshed: what a point in time sees
    tagger = Tagger(load_taxonomy(with_ukraine(tmp_path)))

    async def race() -> tuple[int, int]:
        es = make_client(env.settings)
        try:
            # the worker writes a newer copy of de1 between our read and our write
            newer = Enricher(load_taxonomy()).enrich(
                RawArticle(
                    id="de1",
                    title="Die Ukraine verhandelt in Genf",
                    content_html="<p>Neue Fassung.</p>",
                    fetched_at=datetime.now(UTC) + timedelta(seconds=5),
                )
            )
            original_search = es.search

            async def search_then_write(*args: Any, **kwargs: Any) -> Any:
                page = await original_search(*args, **kwargs)
                if page["hits"]["hits"] and not getattr(search_then_write, "done", False):
                    search_then_write.done = True  # type: ignore[attr-defined]
                    await ArticleIndexer(es, env.settings).index([newer])
                return page

            es.search = search_then_write  # type: ignore[method-assign]
            report = await retag(es, env.settings.articles_alias, tagger)
            return report.changed, report.newer_meanwhile
        finally:
            await es.close()

    assert asyncio.run(race()) == (1, 1)
    held = asyncio.run(docs(env))["de1"]
    assert held["text"] == "Neue Fassung."  # the newer copy stands
