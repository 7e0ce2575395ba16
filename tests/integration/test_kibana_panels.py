"""Each panel of the shipped dashboard, as the query Kibana would send, on the sample feeds
enriched and indexed by the project's own code into the real Elasticsearch. The queries are
derived from the NDJSON, so a panel on a wrong, renamed or always-empty field fails here."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.normalize import parse_feed
from pipeline.adapters.elastic import ensure_articles_index, make_client
from pipeline.adapters.kibana import DASHBOARD_ID, objects_for
from pipeline.indexing import ArticleIndexer
from pipeline.schema import EnrichedArticle
from pipeline.settings import Settings
from pipeline.stages.enrich import Enricher
from tests.conftest import SAMPLES
from tests.integration.conftest import Env
from tests.kibana_objects import Column, Layer, layer_aggregations, lens_layers, load_objects

OBJECTS = load_objects()
BY_KEY = {(o["type"], o["id"]): o for o in OBJECTS}


def dashboard_panels() -> list[Any]:
    dashboard = BY_KEY[("dashboard", DASHBOARD_ID)]
    return [
        pytest.param(BY_KEY[(r["type"], r["id"])], id=r["id"])
        for r in dashboard["references"]
        if r["type"] in ("lens", "search")
    ]


def data_view(settings: Settings) -> dict[str, Any]:
    """The data view as `mediamon setup kibana` would import it for this test's namespace."""
    return next(o for o in objects_for(settings, OBJECTS) if o["type"] == "index-pattern")


def sample_articles(settings: Settings) -> list[EnrichedArticle]:
    """The sample feeds through the connector's parser and the worker's enrichment."""
    enricher = Enricher.from_path(settings.taxonomy_path)
    articles: list[EnrichedArticle] = []
    for path in sorted(SAMPLES.iterdir()):
        for raw in parse_feed(path.read_bytes(), f"http://127.0.0.1/{path.name}").articles:
            articles.append(enricher.enrich(raw))
    return articles


async def _index_samples(settings: Settings) -> int:
    docs = sample_articles(settings)
    es = make_client(settings)
    try:
        await ensure_articles_index(es, settings)
        # the worker's own indexing path: monthly indices, language copies
        report = await ArticleIndexer(es, settings).index(docs)
        assert not report.rejected and report.indexed == len(docs), report
        await es.indices.refresh(index=settings.articles_alias)
    finally:
        await es.close()
    return len(docs)


async def _search(settings: Settings, **body: Any) -> dict[str, Any]:
    es = make_client(settings)
    try:
        return dict(await es.search(**body))
    finally:
        await es.close()


def filled(result: dict[str, Any], buckets: list[Column], metrics: list[Column]) -> bool:
    """True when some path through the nested buckets ends with every metric above zero."""
    if not buckets:
        return all(result[m.id]["value"] > 0 for m in metrics if m.operation != "count")
    return any(
        bucket["doc_count"] > 0 and filled(bucket, buckets[1:], metrics)
        for bucket in result[buckets[0].id]["buckets"]
    )


def check_lens(settings: Settings, lens: dict[str, Any], base: dict[str, Any]) -> None:
    layers: list[Layer] = lens_layers(lens)
    assert layers
    for layer in layers:
        resp = asyncio.run(
            _search(settings, **base, size=0, aggs=layer_aggregations(layer) or None)
        )
        assert resp["hits"]["total"]["value"] > 0, f"{lens['id']}: no documents at all"
        aggregations = resp.get("aggregations", {})
        assert filled(aggregations, layer.buckets, layer.metrics), (
            f"{lens['id']} layer {layer.id}: empty for "
            f"{[(c.operation, c.field) for c in layer.columns]}: {aggregations}"
        )


def check_search(settings: Settings, search: dict[str, Any], base: dict[str, Any]) -> None:
    attributes = search["attributes"]
    sort = [{name: {"order": direction}} for name, direction in attributes["sort"]]
    resp = asyncio.run(_search(settings, **base, size=20, sort=sort))
    hits = [h["_source"] for h in resp["hits"]["hits"]]
    assert hits, f"{search['id']}: no documents"
    for name, direction in attributes["sort"]:
        values = [h[name] for h in hits]
        assert values == sorted(values, reverse=direction == "desc"), name
    for column in attributes["columns"]:
        assert any(h.get(column) for h in hits), f"{search['id']}: column {column} always empty"


@pytest.mark.parametrize("saved_object", dashboard_panels())
def test_panel_shows_data(env: Env, saved_object: dict[str, Any]) -> None:
    settings = env.settings
    assert asyncio.run(_index_samples(settings)) >= 30
    view = data_view(settings)["attributes"]
    # What Kibana sends: the data view's pattern as the index, the time field's range as the
    # filter (unbounded here: the samples date from 2017).
    base = {
        "index": view["title"],
        "query": {"exists": {"field": view["timeFieldName"]}},
        "track_total_hits": True,
    }
    if saved_object["type"] == "lens":
        check_lens(settings, saved_object, base)
    else:
        check_search(settings, saved_object, base)


def test_topic_cooccurrence_pairs_different_topics(env: Env) -> None:
    # The seed article is tagged syria, astana_process and un: the heatmap must show pairs of
    # different topics, not only its diagonal (each topic with itself).
    asyncio.run(_index_samples(env.settings))
    (layer,) = lens_layers(BY_KEY[("lens", "mediamon-topic-cooccurrence")])
    x, y = layer.buckets
    resp = asyncio.run(
        _search(
            env.settings,
            index=data_view(env.settings)["attributes"]["title"],
            size=0,
            aggs=layer_aggregations(layer),
        )
    )
    pairs = {
        (outer["key"], inner["key"])
        for outer in resp["aggregations"][x.id]["buckets"]
        for inner in outer[y.id]["buckets"]
    }
    assert any(a != b for a, b in pairs), pairs
