"""Each panel of the shipped dashboard, as the query Kibana would send, on the sample feeds
enriched and indexed by the project's own code into the real Elasticsearch (and, for the alerts
panels, alert records shaped by the deliverer and written by the alerts index's own code). The
queries are derived from the NDJSON, so a panel on a wrong, renamed or always-empty field
fails here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.normalize import parse_feed
from pipeline.adapters.elastic import make_client
from pipeline.adapters.kibana import DASHBOARD_ID, objects_for
from pipeline.alerts.delivery import AlertDeliverer
from pipeline.alerts.matching import RulesFile, event_for
from pipeline.alerts.rules import KeywordRule
from pipeline.alerts.store import ensure_alerts_index, index_alert_documents
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.indexing.layout import ensure_articles_index
from pipeline.schema import EnrichedArticle
from pipeline.settings import Settings
from pipeline.stages.enrich import Enricher
from tests.integration.conftest import Env
from tests.support.kibana_objects import (
    Column,
    Layer,
    layer_aggregations,
    lens_layers,
    load_objects,
    search_data_view,
)
from tests.support.paths import SAMPLES

OBJECTS = load_objects()
BY_KEY = {(o["type"], o["id"]): o for o in OBJECTS}
DASHBOARD = BY_KEY[("dashboard", DASHBOARD_ID)]
ARTICLES_DATA_VIEW = "mediamon-articles-data-view"
ALERTS_DATA_VIEW = "mediamon-alerts-data-view"
ALERT_STATUSES = ("sent", "throttled", "story_copy", "digest", "failed")


def dashboard_panels() -> list[Any]:
    return [
        pytest.param(BY_KEY[(r["type"], r["id"])], id=r["id"])
        for r in DASHBOARD["references"]
        if r["type"] in ("lens", "search")
    ]


def data_view(settings: Settings, view_id: str = ARTICLES_DATA_VIEW) -> dict[str, Any]:
    """A data view as `mediamon setup kibana` would import it for this test's namespace."""
    for obj in objects_for(settings, OBJECTS):
        if (obj["type"], obj["id"]) == ("index-pattern", view_id):
            return obj
    raise AssertionError(f"no data view {view_id!r} in pipeline/adapters/dashboards/")


def panel_data_views(saved_object: dict[str, Any]) -> set[str]:
    """The data views a panel reads: each Lens layer's, or the saved search's."""
    if saved_object["type"] == "lens":
        return {layer.data_view for layer in lens_layers(saved_object)}
    return {search_data_view(saved_object)}


def base_query(settings: Settings, view_id: str) -> dict[str, Any]:
    """What Kibana sends for a panel on this data view: its pattern as the index, the time
    field's range as the filter. Articles: unbounded (the samples date from 2017). Alerts: the
    dashboard's own time range (last 30 days), which the alert records are dated within."""
    view = data_view(settings, view_id)["attributes"]
    time_field = view["timeFieldName"]
    query: dict[str, Any] = {"exists": {"field": time_field}}
    if view_id == ALERTS_DATA_VIEW:
        attributes = DASHBOARD["attributes"]
        window = {"gte": attributes["timeFrom"], "lte": attributes["timeTo"]}
        query = {"range": {time_field: window}}
    return {"index": view["title"], "query": query, "track_total_hits": True}


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


async def sample_alert_records(
    settings: Settings, rules_path: Path, now: datetime
) -> list[dict[str, Any]]:
    """Alert records as the deliverer writes them (AlertDeliverer._doc) for sample articles:
    two rules, every status, matched within the last three weeks. The rules only label the
    records here: no query runs."""
    rules = [
        KeywordRule(id="astana-talks", name="Astana talks", query="Astana", channels=["ops"]),
        KeywordRule(id="syria-news", query="Syria OR Сирия", channels=["ops", "newsroom"]),
    ]
    articles = sample_articles(settings)[:15]
    assert len(articles) == 15
    docs: list[dict[str, Any]] = []
    # _doc reads neither the rules file nor the HTTP client: a missing file, no requests
    async with httpx.AsyncClient() as client:
        deliverer = AlertDeliverer(settings, RulesFile(rules_path), {}, client, clock=lambda: now)
        for i, article in enumerate(articles):
            matched = now - timedelta(days=(i * 3) % 22, hours=1 + i)
            event = event_for(rules[i % len(rules)], article).model_copy(
                update={"matched_at": matched, "enriched_at": matched - timedelta(seconds=2)}
            )
            status = ALERT_STATUSES[i % len(ALERT_STATUSES)]
            error = "ops: HTTP 500 (after 6 attempts)" if status == "failed" else None
            docs.append(deliverer._doc(event, status, matched + timedelta(seconds=1), error))
    return docs


async def _index_alerts(settings: Settings, rules_path: Path) -> int:
    docs = await sample_alert_records(settings, rules_path, datetime.now(UTC))
    es = make_client(settings)
    try:
        index = await ensure_alerts_index(es, settings)
        assert index == data_view(settings, ALERTS_DATA_VIEW)["attributes"]["title"]
        await index_alert_documents(es, index, docs)
        await es.indices.refresh(index=index)
        # the mapping is strict: a record it refused is only logged, so count what arrived
        count = (await es.count(index=index))["count"]
        expected = len({doc["_id"] for doc in docs})
        assert count == expected, f"{count} of {expected} alert records indexed"
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


def check_lens(settings: Settings, lens: dict[str, Any]) -> None:
    layers: list[Layer] = lens_layers(lens)
    assert layers
    for layer in layers:
        base = base_query(settings, layer.data_view)
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
    views = panel_data_views(saved_object)
    assert views and views <= {ARTICLES_DATA_VIEW, ALERTS_DATA_VIEW}, views
    if ARTICLES_DATA_VIEW in views:
        assert asyncio.run(_index_samples(settings)) >= 30
    if ALERTS_DATA_VIEW in views:
        assert asyncio.run(_index_alerts(settings, env.logs / "rules.yaml")) >= 10
    if saved_object["type"] == "lens":
        check_lens(settings, saved_object)
    else:
        check_search(settings, saved_object, base_query(settings, search_data_view(saved_object)))


def test_alerts_by_status_shows_every_status(env: Env) -> None:
    asyncio.run(_index_alerts(env.settings, env.logs / "rules.yaml"))
    (layer,) = lens_layers(BY_KEY[("lens", "mediamon-alerts-by-status")])
    (status,) = layer.buckets
    resp = asyncio.run(
        _search(
            env.settings,
            **base_query(env.settings, layer.data_view),
            size=0,
            aggs=layer_aggregations(layer),
        )
    )
    shown = {bucket["key"] for bucket in resp["aggregations"][status.id]["buckets"]}
    assert shown == set(ALERT_STATUSES)


def test_topic_cooccurrence_pairs_different_topics(env: Env) -> None:
    # The seed article is tagged syria, astana_process and un: the heatmap must show pairs of
    # different topics, not only its diagonal (each topic with itself).
    asyncio.run(_index_samples(env.settings))
    (layer,) = lens_layers(BY_KEY[("lens", "mediamon-topic-cooccurrence")])
    x, y = layer.buckets
    resp = asyncio.run(
        _search(
            env.settings,
            index=data_view(env.settings, layer.data_view)["attributes"]["title"],
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
