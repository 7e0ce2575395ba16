"""The shipped Kibana saved objects (Kibana cannot run here): what its import API requires,
references that resolve, fields that exist in the articles mapping with a usable type."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.kibana_objects import (
    field_problems,
    lens_layers,
    load_objects,
    mapping_fields,
)

DATA_VIEW = "mediamon-articles-data-view"
DASHBOARD_ID = "mediamon-articles-overview"
# What Kibana 8.19 writes into an export: core 8.8.0 for every type since model versions
# replaced the per-release migrations; per type, the last migration or model version it knows.
# Kibana refuses an object whose version is newer than its own, and runs every migration
# since 7.x on one that has none, so these must be present and not too new.
MIGRATION_VERSIONS = {
    "index-pattern": "8.0.0",
    "search": "10.5.0",
    "lens": "8.9.0",
    "dashboard": "10.3.0",
}
GRID_COLUMNS = 48  # a dashboard's width in grid units


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return load_objects()


@pytest.fixture(scope="module")
def by_key(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["type"], o["id"]): o for o in objects}


@pytest.fixture(scope="module")
def dashboard(by_key: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    return by_key[("dashboard", DASHBOARD_ID)]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    parsed: list[dict[str, Any]] = json.loads(dashboard["attributes"]["panelsJSON"])
    return parsed


# --- what the import API needs -------------------------------------------------------------


def test_every_line_is_an_importable_object(objects: list[dict[str, Any]]) -> None:
    assert objects, "no saved objects under deploy/kibana/"
    for obj in objects:
        where = f"{obj.get('type')}/{obj.get('id')}"
        assert {"id", "type", "attributes", "references"} <= obj.keys(), where
        assert obj["id"].startswith("mediamon-"), where
        assert obj["coreMigrationVersion"] == "8.8.0", where
        assert obj["typeMigrationVersion"] == MIGRATION_VERSIONS[obj["type"]], where
        assert obj["attributes"].get("title"), where
        for ref in obj["references"]:
            assert set(ref) == {"id", "name", "type"}, where
    keys = [(o["type"], o["id"]) for o in objects]
    assert len(keys) == len(set(keys)), "duplicate ids"


def test_every_reference_resolves_inside_the_file(
    objects: list[dict[str, Any]], by_key: dict[tuple[str, str], dict[str, Any]]
) -> None:
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in by_key, f"{obj['id']}: {ref} points nowhere"


def test_data_view(by_key: dict[tuple[str, str], dict[str, Any]]) -> None:
    attributes = by_key[("index-pattern", DATA_VIEW)]["attributes"]
    assert attributes["title"] == "articles*"
    assert attributes["timeFieldName"] == "published"
    for key in ("fieldAttrs", "fieldFormatMap", "runtimeFieldMap", "sourceFilters", "fields"):
        json.loads(attributes[key])  # Kibana stores these as JSON strings


def test_saved_search_points_at_the_data_view(
    by_key: dict[tuple[str, str], dict[str, Any]],
) -> None:
    search = by_key[("search", "mediamon-latest-articles")]
    source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    refs = {r["name"]: r for r in search["references"]}
    assert refs[source["indexRefName"]] == {
        "id": DATA_VIEW,
        "name": source["indexRefName"],
        "type": "index-pattern",
    }
    assert search["attributes"]["columns"] == ["title", "source_name", "lang", "topics", "url"]
    assert search["attributes"]["sort"] == [["published", "desc"]]


def _visualization_accessors(vis_type: str, vis: dict[str, Any]) -> list[tuple[str, str]]:
    """(layer id, column id) pairs the visualization draws."""
    if vis_type == "lnsXY":
        return [
            (layer["layerId"], accessor)
            for layer in vis["layers"]
            for accessor in [layer.get("xAccessor"), layer.get("splitAccessor")]
            + layer["accessors"]
            if accessor
        ]
    if vis_type == "lnsPie":
        return [
            (layer["layerId"], accessor)
            for layer in vis["layers"]
            for accessor in layer["primaryGroups"]
            + layer.get("secondaryGroups", [])
            + layer["metrics"]
        ]
    keys = {
        "lnsMetric": ["metricAccessor", "secondaryMetricAccessor", "breakdownByAccessor"],
        "lnsHeatmap": ["xAccessor", "yAccessor", "valueAccessor"],
    }
    if vis_type in keys:
        return [(vis["layerId"], vis[k]) for k in keys[vis_type] if vis.get(k)]
    if vis_type == "lnsDatatable":
        return [(vis["layerId"], c["columnId"]) for c in vis["columns"]]
    raise AssertionError(f"unchecked visualization type {vis_type}")


def test_lens_layers_are_complete(objects: list[dict[str, Any]]) -> None:
    lenses = [o for o in objects if o["type"] == "lens"]
    assert lenses
    for lens in lenses:
        state = lens["attributes"]["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        refs = {r["name"]: r for r in lens["references"]}
        for layer_id, layer in layers.items():
            # Lens finds a layer's data view by this reference name and no other.
            ref = refs[f"indexpattern-datasource-layer-{layer_id}"]
            assert (ref["type"], ref["id"]) == ("index-pattern", DATA_VIEW), lens["id"]
            assert sorted(layer["columnOrder"]) == sorted(layer["columns"]), lens["id"]
            for column in layer["columns"].values():
                order_by = column.get("params", {}).get("orderBy", {})
                if order_by.get("type") == "column":
                    assert order_by["columnId"] in layer["columns"], lens["id"]
        drawn = _visualization_accessors(
            lens["attributes"]["visualizationType"], state["visualization"]
        )
        assert drawn, lens["id"]
        for layer_id, column_id in drawn:
            assert column_id in layers[layer_id]["columns"], f"{lens['id']}: {column_id}"
        assert state["query"] == {"query": "", "language": "kuery"} and state["filters"] == []


def test_dashboard_panels(dashboard: dict[str, Any], objects: list[dict[str, Any]]) -> None:
    attributes = dashboard["attributes"]
    json.loads(attributes["optionsJSON"])
    json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    used: set[str] = set()
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        index = panel["panelIndex"]
        grid = panel["gridData"]
        assert grid["i"] == index
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= GRID_COLUMNS, index
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{index} overlaps {cells[(x, y)]}"
                cells[(x, y)] = index
        # Kibana injects a by-reference panel's saved object from "<panelIndex>:<panelRefName>".
        name = f"{index}:{panel['panelRefName']}"
        assert refs[name]["type"] == panel["type"], index
        used.add(name)
    assert used == set(refs), "dashboard references no panel uses"
    shown = {(r["type"], r["id"]) for r in dashboard["references"]}
    others = {
        (o["type"], o["id"]) for o in objects if o["type"] not in ("dashboard", "index-pattern")
    }
    assert shown == others, "every visualization and search is on the dashboard"


def test_dashboard_has_the_panels_analysts_asked_for(
    dashboard: dict[str, Any], by_key: dict[tuple[str, str], dict[str, Any]]
) -> None:
    uses: list[list[tuple[str, str]]] = []  # per lens layer: (operation, field) in order
    for ref in dashboard["references"]:
        if ref["type"] == "lens":
            for layer in lens_layers(by_key[("lens", ref["id"])]):
                uses.append([(c.operation, c.field) for c in layer.columns])
    assert [
        ("terms", "topics"),
        ("date_histogram", "published"),
        ("count", "___records___"),
    ] in uses
    assert any(("terms", "lang") in u for u in uses)
    assert any(("terms", "source_name") in u for u in uses)
    assert any(("terms", "domain") in u for u in uses)
    assert any(u[:2] == [("terms", "topics"), ("terms", "topics")] for u in uses), "co-occurrence"
    assert [("count", "___records___")] in uses
    assert [("unique_count", "story_id")] in uses
    assert ("search", "mediamon-latest-articles") in {
        (r["type"], r["id"]) for r in dashboard["references"]
    }


# --- fields against the mapping ------------------------------------------------------------


def test_mapping_is_read_with_multi_fields() -> None:
    fields = mapping_fields()
    assert fields["title"] == "text" and fields["title.raw"] == "keyword"
    assert fields["published"] == "date"


def test_every_field_used_exists_with_a_usable_type(objects: list[dict[str, Any]]) -> None:
    assert field_problems(objects, mapping_fields()) == []


@pytest.mark.parametrize(
    ("column_id", "operation", "field", "expected"),
    [
        ("col-topics", "terms", "headline", "not in the articles mapping"),
        ("col-topics", "terms", "title", "is text, which cannot be used for terms"),
        ("col-count", "unique_count", "text", "is text, which cannot be used for unique_count"),
        ("col-published", "date_histogram", "lang", "is keyword, which cannot be used for a date"),
    ],
)
def test_a_panel_on_a_wrong_field_is_caught(
    objects: list[dict[str, Any]], column_id: str, operation: str, field: str, expected: str
) -> None:
    broken = copy.deepcopy(objects)
    lens = next(o for o in broken if o["id"] == "mediamon-articles-over-time-by-topic")
    layers = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    column = layers["layer-timeline"]["columns"][column_id]
    column["operationType"] = operation
    column["sourceField"] = field
    problems = field_problems(broken, mapping_fields())
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_wrong_time_field_or_sort_is_caught(objects: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(objects)
    for obj in broken:
        if obj["type"] == "index-pattern":
            obj["attributes"]["timeFieldName"] = "published_at"
        if obj["type"] == "search":
            obj["attributes"]["sort"] = [["title", "desc"]]
    problems = field_problems(broken, mapping_fields())
    assert any("'published_at' is not in" in p for p in problems), problems
    assert any("'title' is text, which cannot be used for sorting" in p for p in problems)
