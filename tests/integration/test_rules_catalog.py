"""The rules as data (the alert-rules index) on the real server: the file is published to
the index (unchanged rules keep their dates, removed ones go), rules written to the index
are loaded beside the file's without a restart, a bad or clashing one is reported and left
out, and an index rule matches like a file rule."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from pipeline.adapters.elastic import make_client
from pipeline.alerts.catalog import RulesCatalog
from pipeline.alerts.matching import RuleMatcher
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.indexing.layout import ensure_articles_index
from pipeline.schema import EnrichedArticle
from tests.integration.conftest import Env

RULES_V1 = """\
channels:
  hook: {type: webhook, url: "http://127.0.0.1:9/hook"}
rules:
  - {id: astana, query: "Астана AND Сирия", channels: [hook], owner: desk-ru}
  - {id: geneva, query: "Geneva", languages: [en]}
  - {id: retired, query: "zzqx"}
"""
RULES_V2 = """\
channels:
  hook: {type: webhook, url: "http://127.0.0.1:9/hook"}
rules:
  - {id: astana, query: "Астана AND Сирия", channels: [hook], owner: desk-ru}
  - {id: geneva, query: "Geneva OR Женева", languages: [en, ru]}
"""


def test_file_and_index_rules_meet_in_one_catalog(
    env: Env, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES_V1, encoding="utf-8")
    settings = env.settings.model_copy(update={"rules_file": path})
    index = settings.alert_rules_index

    async def scenario() -> None:
        es = make_client(settings)
        try:
            catalog = RulesCatalog(settings, poll_seconds=0)

            async def docs() -> dict[str, dict[str, Any]]:
                await es.indices.refresh(index=index)
                answer = await es.search(index=index, size=100)
                return {h["_id"]: h["_source"] for h in answer["hits"]["hits"]}

            await catalog.refresh(es)
            first = await docs()
            assert set(first) == {"astana", "geneva", "retired"}
            assert first["astana"]["owner"] == "desk-ru" and first["astana"]["source"] == "file"
            assert first["geneva"]["every_batch"] is None

            await asyncio.sleep(0.01)  # a later `updated` for what changes
            path.write_text(RULES_V2, encoding="utf-8")
            await catalog.refresh(es)
            second = await docs()
            assert set(second) == {"astana", "geneva"}  # "retired" left the file
            assert second["astana"]["updated"] == first["astana"]["updated"]  # unchanged
            assert second["geneva"]["created"] == first["geneva"]["created"]
            assert second["geneva"]["updated"] > first["geneva"]["updated"]
            assert second["geneva"]["languages"] == ["en", "ru"]

            # rules written to the index by something else: loaded without a restart
            extra: dict[str, dict[str, Any]] = {
                "zebra": {"id": "zebra", "query": "zebrafish", "channels": ["hook"]},
                "broken": {"id": "broken", "query": "Сирия AND ("},
                "astana": {"id": "astana", "query": "anything"},  # the file's id: ignored
                "nochan": {"id": "nochan", "query": "x", "channels": ["pager"]},
            }
            for doc_id, doc in extra.items():
                await es.index(
                    index=index,
                    id=f"idx-{doc_id}",
                    document={**doc, "source": "index", "enabled": True},
                    refresh=True,
                )
            await catalog.refresh(es)
            ruleset = catalog.current()
            ids = [r.id for r in ruleset.rules]
            assert ids == ["astana", "geneva", "zebra"]
            assert ruleset.get("astana").query == "Астана AND Сирия"  # type: ignore[union-attr]
            problems = "\n".join(ruleset.problems)
            assert "rule broken" in problems and "rule astana" in problems
            assert "rule nochan" in problems and "pager" in problems

            # an index rule matches like a file rule
            await ensure_articles_index(es, settings)
            article = EnrichedArticle(
                id="z1", lang="en", title="A zebrafish study", text="Zebrafish in Geneva."
            )
            report = await ArticleIndexer(es, settings).index([article])
            matched = await RuleMatcher(es, settings, catalog).match([article], report.indices)
            assert {e.rule_id for e in matched.events} == {"zebra", "geneva"}
        finally:
            await es.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
