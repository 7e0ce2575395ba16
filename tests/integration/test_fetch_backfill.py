"""`mediamon fetch` on the real Elasticsearch: an article indexed from a one-line teaser is
read again from its page (tagged from it, found by a word only the page has); a page that
cannot be had is recorded by reason; a long feed text is left alone; a second run fetches
only what is still without its page and changes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deploy.feedserver import serve_feeds
from mediamon.main import app
from pipeline.adapters.elastic import make_client
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.schema import RawArticle
from pipeline.stages.enrich import Enricher
from pipeline.taxonomy import load_taxonomy
from pipeline.worker import prepare
from tests.integration.conftest import Env
from tests.integration.test_retag import docs

PAGE = (
    "<html><body><article><h1>Talks</h1>"
    + "<p>Delegations of Russia, Turkey and Iran met in Astana to discuss the ceasefire in "
    "Syria with the UN envoy; the Kestrelvale memorandum was signed.</p>"
    * 4
    + "</article></body></html>"
)


async def index(env: Env, base: str) -> None:
    await prepare(env.settings)
    enricher = Enricher(load_taxonomy())
    long_text = "<p>" + "Markets rose on Tuesday as investors cheered earnings. " * 20 + "</p>"
    raws = [
        RawArticle(
            id="teaser", url=f"{base}/talks.html", title="Briefing", summary_html="Read on."
        ),
        RawArticle(id="gone", url=f"{base}/gone.html", title="Gone", summary_html="Read on."),
        RawArticle(id="long", url=f"{base}/talks.html", title="Markets", content_html=long_text),
    ]
    es = make_client(env.settings)
    try:
        report = await ArticleIndexer(es, env.settings).index([enricher.enrich(r) for r in raws])
        assert report.indexed == 3
    finally:
        await es.close()


def test_fetch_reads_teasers_from_their_pages_once(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "talks.html").write_text(PAGE, encoding="utf-8")
    with serve_feeds(tmp_path) as site:
        asyncio.run(index(env, site.base_url))
        before = asyncio.run(docs(env))
        assert before["teaser"]["topics"] == [] and before["teaser"]["content_from"] == "feed"
        for key, value in {**env.vars, "MEDIAMON_HOST_SPACING": "0"}.items():
            monkeypatch.setenv(key, value)
        from pipeline.settings import get_settings

        get_settings.cache_clear()
        runner = CliRunner()
        first = runner.invoke(app, ["fetch", "--since", "1d", "--json"])
        assert first.exit_code == 0, first.output
        summary: dict[str, Any] = json.loads(first.output)
        assert (summary["seen"], summary["from_page"]) == (3, 1)
        assert summary["problems"] == {"http_4xx": 1}
        after = asyncio.run(docs(env))
        teaser = after["teaser"]
        assert teaser["content_from"] == "page" and "Kestrelvale" in teaser["text"]
        assert {"syria", "astana_process", "un"} <= set(teaser["topics"])
        assert teaser["title"] == "Briefing" and teaser["story_id"] == before["teaser"]["story_id"]
        assert after["gone"]["page_problem"] == "http_4xx" and after["gone"]["text"] == "Read on."
        assert after["long"] == before["long"]  # long enough: never asked for its page

        second = runner.invoke(app, ["fetch", "--since", "1d", "--json"])
        assert json.loads(second.output) | {"problems": None} == {
            "seen": 2,  # the one read from its page is not asked again
            "from_page": 0,
            "problems": None,
            "newer_meanwhile": 0,
            "failed": 0,
        }
        assert asyncio.run(docs(env)) == after
        get_settings.cache_clear()
