"""The shipped Kibana saved objects (Kibana cannot run here): what its import API requires,
references that resolve, fields that exist with a usable type in the mapping of the data view
that uses them (articles or alerts); and the importer against a local fake Kibana."""

from __future__ import annotations

import base64
import copy
import email.parser
import email.policy
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pipeline.adapters.kibana import (
    DASHBOARD_ID,
    import_saved_objects,
    make_client,
    objects_for,
    parse_ndjson,
    redact,
    shipped_objects,
    to_ndjson,
)
from pipeline.errors import ConfigError, PermanentError, TransientError
from pipeline.settings import Settings
from tests.support.kibana_objects import (
    ALERTS_TEMPLATE,
    TEMPLATE,
    data_view_mappings,
    field_problems,
    lens_layers,
    load_objects,
    mapping_fields,
    search_data_view,
)
from tests.support.net import free_port

DATA_VIEW = "mediamon-articles-data-view"
ALERTS_DATA_VIEW = "mediamon-alerts-data-view"
DATA_VIEWS = {DATA_VIEW, ALERTS_DATA_VIEW}
# What Kibana 8.19 writes into an export: core 8.8.0 for every type since model versions
# replaced the per-release migrations; per type, the last migration or model version it knows.
# Kibana refuses an object whose version is newer than its own, and runs every migration
# since 7.x on one that has none, so these must be present and not too new.
MIGRATION_VERSIONS = {
    "index-pattern": "8.0.0",
    "search": "10.5.0",
    "lens": "8.9.0",
    "dashboard": "10.2.0",
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
    assert objects, "no saved objects under pipeline/adapters/dashboards/"
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


@pytest.mark.parametrize(
    ("view", "title", "time_field"),
    [(DATA_VIEW, "articles*", "published"), (ALERTS_DATA_VIEW, "alerts", "matched_at")],
)
def test_data_view(
    by_key: dict[tuple[str, str], dict[str, Any]], view: str, title: str, time_field: str
) -> None:
    attributes = by_key[("index-pattern", view)]["attributes"]
    assert attributes["title"] == title
    assert attributes["timeFieldName"] == time_field
    for key in ("fieldAttrs", "fieldFormatMap", "runtimeFieldMap", "sourceFilters", "fields"):
        json.loads(attributes[key])  # Kibana stores these as JSON strings


def test_only_the_shipped_data_views(objects: list[dict[str, Any]]) -> None:
    assert {o["id"] for o in objects if o["type"] == "index-pattern"} == DATA_VIEWS


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
            assert ref["type"] == "index-pattern" and ref["id"] in DATA_VIEWS, lens["id"]
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
        assert state["query"] == {"query": "", "language": "lucene"} and state["filters"] == []


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
    uses: list[list[tuple[str, str]]] = []  # per articles lens layer: (operation, field)
    alert_uses: list[list[tuple[str, str]]] = []  # the same for the alerts data view's layers
    for ref in dashboard["references"]:
        if ref["type"] == "lens":
            for layer in lens_layers(by_key[("lens", ref["id"])]):
                columns = [(c.operation, c.field) for c in layer.columns]
                (alert_uses if layer.data_view == ALERTS_DATA_VIEW else uses).append(columns)
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
    # alerts over time by rule, and by delivery status
    assert [
        ("terms", "rule_id"),
        ("date_histogram", "matched_at"),
        ("count", "___records___"),
    ] in alert_uses
    assert [("terms", "status"), ("count", "___records___")] in alert_uses


# --- fields against the mapping ------------------------------------------------------------


def test_mapping_is_read_with_multi_fields() -> None:
    fields = mapping_fields()
    assert fields["title"] == "text" and fields["title.raw"] == "keyword"
    assert fields["published"] == "date"
    alerts = mapping_fields(ALERTS_TEMPLATE)
    assert alerts["title"] == "text" and alerts["title.raw"] == "keyword"
    assert alerts["matched_at"] == "date" and alerts["rule_id"] == "keyword"


def test_each_data_view_is_checked_against_its_own_template(
    objects: list[dict[str, Any]], by_key: dict[tuple[str, str], dict[str, Any]]
) -> None:
    mappings = data_view_mappings(objects)
    assert set(mappings) == DATA_VIEWS
    assert mappings[DATA_VIEW].name == "articles"
    assert mappings[DATA_VIEW].fields == mapping_fields(TEMPLATE)
    assert mappings[ALERTS_DATA_VIEW].name == "alerts"
    assert mappings[ALERTS_DATA_VIEW].fields == mapping_fields(ALERTS_TEMPLATE)
    assert search_data_view(by_key[("search", "mediamon-latest-articles")]) == DATA_VIEW
    views = {
        o["id"]: {layer.data_view for layer in lens_layers(o)}
        for o in objects
        if o["type"] == "lens"
    }
    assert views["mediamon-alerts-over-time-by-rule"] == {ALERTS_DATA_VIEW}
    assert views["mediamon-alerts-by-status"] == {ALERTS_DATA_VIEW}
    assert views["mediamon-articles-over-time-by-topic"] == {DATA_VIEW}


def test_every_field_used_exists_with_a_usable_type(objects: list[dict[str, Any]]) -> None:
    assert field_problems(objects) == []


def _break_column(
    objects: list[dict[str, Any]],
    lens_id: str,
    layer_id: str,
    column_id: str,
    operation: str,
    field: str,
) -> list[dict[str, Any]]:
    broken = copy.deepcopy(objects)
    lens = next(o for o in broken if o["id"] == lens_id)
    layers = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    column = layers[layer_id]["columns"][column_id]
    column["operationType"] = operation
    column["sourceField"] = field
    return broken


@pytest.mark.parametrize(
    ("column_id", "operation", "field", "expected"),
    [
        ("col-topics", "terms", "headline", "not in the articles mapping"),
        ("col-topics", "terms", "title", "is text in the articles mapping, which cannot"),
        ("col-topics", "terms", "rule_id", "'rule_id' is not in the articles mapping"),
        ("col-count", "unique_count", "text", "is text in the articles mapping, which cannot"),
        ("col-published", "date_histogram", "lang", "is keyword in the articles mapping"),
    ],
)
def test_a_panel_on_a_wrong_field_is_caught(
    objects: list[dict[str, Any]], column_id: str, operation: str, field: str, expected: str
) -> None:
    broken = _break_column(
        objects,
        "mediamon-articles-over-time-by-topic",
        "layer-timeline",
        column_id,
        operation,
        field,
    )
    problems = field_problems(broken)
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize(
    ("column_id", "operation", "field", "expected"),
    [
        # text in the alerts mapping too: no doc values, so no terms
        ("col-rule", "terms", "title", "'title' is text in the alerts mapping, which cannot"),
        # a keyword of the articles mapping that alert records do not have
        ("col-rule", "terms", "domain", "'domain' is not in the alerts mapping"),
        ("col-matched", "date_histogram", "published_at", "not in the alerts mapping"),
        ("col-matched", "date_histogram", "status", "is keyword in the alerts mapping"),
        ("col-count", "unique_count", "error", "'error' is text in the alerts mapping"),
    ],
)
def test_an_alerts_panel_on_a_wrong_field_is_caught(
    objects: list[dict[str, Any]], column_id: str, operation: str, field: str, expected: str
) -> None:
    broken = _break_column(
        objects,
        "mediamon-alerts-over-time-by-rule",
        "layer-alerts-timeline",
        column_id,
        operation,
        field,
    )
    problems = field_problems(broken)
    assert len(problems) == 1 and expected in problems[0], problems
    assert "mediamon-alerts-over-time-by-rule" in problems[0]


def test_a_layer_without_a_data_view_is_caught(objects: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(objects)
    lens = next(o for o in broken if o["id"] == "mediamon-alerts-by-status")
    lens["references"] = []
    problems = field_problems(broken)
    assert problems and all("data view '' has no mapping" in p for p in problems), problems


def test_a_data_view_without_a_template_is_caught(objects: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(objects)
    view = next(o for o in broken if o["id"] == ALERTS_DATA_VIEW)
    view["attributes"]["title"] = "alert-records"
    problems = field_problems(broken)
    assert any("'alert-records' covers 0 index templates" in p for p in problems), problems
    # and every use of its fields is reported rather than checked against another mapping
    assert any("mediamon-alerts-by-status" in p and "has no mapping" in p for p in problems)


def test_a_wrong_time_field_or_sort_is_caught(objects: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(objects)
    for obj in broken:
        if obj["type"] == "index-pattern":
            obj["attributes"]["timeFieldName"] = "published_at"
        if obj["type"] == "search":
            obj["attributes"]["sort"] = [["title", "desc"]]
    problems = field_problems(broken)
    assert any("'published_at' is not in the articles mapping" in p for p in problems), problems
    assert any("'published_at' is not in the alerts mapping" in p for p in problems), problems
    assert any(
        "'title' is text in the articles mapping, which cannot be used for sorting" in p
        for p in problems
    )


# --- the importer --------------------------------------------------------------------------


def test_shipped_objects_are_the_files(objects: list[dict[str, Any]]) -> None:
    assert shipped_objects() == objects


def test_namespace_rewrites_the_data_view_titles_only(objects: list[dict[str, Any]]) -> None:
    default = objects_for(Settings(), objects)
    assert default == objects
    namespaced = objects_for(Settings(namespace="t1-"), objects)
    titles = {o["id"]: o["attributes"]["title"] for o in namespaced}
    assert titles[DATA_VIEW] == "t1-articles*"
    assert [o for o in namespaced if o["id"] not in DATA_VIEWS] == [
        o for o in objects if o["id"] not in DATA_VIEWS
    ]
    assert next(o for o in objects if o["id"] == DATA_VIEW)["attributes"]["title"] == "articles*"
    assert parse_ndjson(to_ndjson(namespaced).decode()) == namespaced


def test_namespace_rewrites_the_alerts_data_view_to_the_alerts_index(
    objects: list[dict[str, Any]],
) -> None:
    settings = Settings(namespace="t1-")
    namespaced = {o["id"]: o for o in objects_for(settings, objects)}
    shipped = next(o for o in objects if o["id"] == ALERTS_DATA_VIEW)
    view = namespaced[ALERTS_DATA_VIEW]
    assert view["attributes"]["title"] == settings.alerts_index == "t1-alerts"
    # only the title changes: time field, formats and the id the panels reference stay
    assert {**view["attributes"], "title": "alerts"} == shipped["attributes"]
    assert {k: v for k, v in view.items() if k != "attributes"} == {
        k: v for k, v in shipped.items() if k != "attributes"
    }
    assert shipped["attributes"]["title"] == "alerts"  # the shipped object is not modified
    assert objects_for(Settings(), [shipped]) == [shipped]


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    field_name: str | None
    filename: str | None
    content: bytes


@dataclass
class FakeKibana:
    """Answers the import API from a script of (status, JSON body); records what it got."""

    script: list[tuple[int, Any]]
    received: list[Received] = field(default_factory=list)
    url: str = ""


def _parse_multipart(content_type: str, body: bytes) -> tuple[str | None, str | None, bytes]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    assert message.is_multipart(), content_type
    (part,) = list(message.iter_parts())
    name = part.get_param("name", header="content-disposition")
    payload = part.get_payload(decode=True)
    assert (name is None or isinstance(name, str)) and isinstance(payload, bytes), part
    return name, part.get_filename(), payload


@contextmanager
def fake_kibana(script: list[tuple[int, Any]], port: int = 0) -> Iterator[FakeKibana]:
    fake = FakeKibana(list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            parts = urlsplit(self.path)
            if self.headers["Content-Type"] == "application/json":  # the settings API
                name, filename, content = None, None, body
            else:
                name, filename, content = _parse_multipart(self.headers["Content-Type"], body)
            fake.received.append(
                Received(
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    name,
                    filename,
                    content,
                )
            )
            status, answer = fake.script.pop(0) if fake.script else (500, {"message": "unscripted"})
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def kibana_and_client(
    script: list[tuple[int, Any]], settings: Settings | None = None
) -> Iterator[tuple[FakeKibana, httpx.Client]]:
    with fake_kibana(script) as kibana, make_client(settings or Settings(), kibana.url) as client:
        yield kibana, client


def ok(count: int) -> tuple[int, dict[str, Any]]:
    return 200, {"success": True, "successCount": count, "successResults": []}


def test_import_posts_multipart_with_xsrf_and_overwrite(objects: list[dict[str, Any]]) -> None:
    ndjson = to_ndjson(objects)
    settings = Settings(kibana_username="analyst", kibana_password="pa55-w0rd")
    with kibana_and_client([ok(len(objects))], settings) as (kibana, client):
        result = import_saved_objects(client, ndjson, timeout=5)
    assert result.ok and result.success_count == len(objects) and result.attempts == 1
    (got,) = kibana.received
    assert got.path == "/api/saved_objects/_import"
    assert got.query == {"overwrite": ["true"]}
    assert got.headers["kbn-xsrf"]
    assert got.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert got.field_name == "file" and got.filename and got.filename.endswith(".ndjson")
    assert got.content == ndjson
    expected = base64.b64encode(b"analyst:pa55-w0rd").decode()
    assert got.headers["authorization"] == f"Basic {expected}"


def test_import_twice_is_the_same_request() -> None:
    ndjson = to_ndjson(shipped_objects())
    with kibana_and_client([ok(10), ok(10)]) as (kibana, client):
        first = import_saved_objects(client, ndjson, timeout=5)
        second = import_saved_objects(client, ndjson, timeout=5)
    assert first == second
    assert kibana.received[0].content == kibana.received[1].content
    assert all(r.query == {"overwrite": ["true"]} for r in kibana.received)


def test_import_waits_while_kibana_starts(caplog: pytest.LogCaptureFixture) -> None:
    starting = (503, {"statusCode": 503, "error": "Service Unavailable"})
    waits: list[float] = []
    with (
        kibana_and_client([starting, starting, ok(3)]) as (_, client),
        caplog.at_level(logging.INFO, logger="pipeline.adapters.kibana"),
    ):
        result = import_saved_objects(client, b"{}\n", timeout=30, sleep=waits.append)
    assert result.ok and result.attempts == 3
    assert waits == [1.0, 2.0]
    assert "HTTP 503" in caplog.text


def test_import_waits_while_nothing_listens() -> None:
    port = free_port()
    with ExitStack() as later:

        def start_kibana(_delay: float) -> None:
            # Refused once; the fake Kibana comes up during the wait, so the retry succeeds.
            later.enter_context(fake_kibana([ok(1)], port=port))

        with make_client(Settings(), f"http://127.0.0.1:{port}") as client:
            result = import_saved_objects(client, b"{}\n", timeout=30, sleep=start_kibana)
    assert result.ok and result.attempts == 2


def test_import_gives_up_after_the_timeout() -> None:
    with (
        kibana_and_client([(503, {})] * 50) as (_, client),
        pytest.raises(TransientError, match=r"not ready after 0s .*last: HTTP 503"),
    ):
        import_saved_objects(client, b"{}\n", timeout=0.2, first_delay=0.05)


def test_object_errors_are_reported_one_by_one() -> None:
    answer = {
        "success": False,
        "successCount": 8,
        "errors": [
            {
                "id": "mediamon-top-sources",
                "type": "lens",
                "meta": {"title": "mediamon: top sources", "icon": "lensApp"},
                "error": {
                    "type": "missing_references",
                    "references": [{"type": "index-pattern", "id": "gone"}],
                },
            },
            {
                "id": DASHBOARD_ID,
                "type": "dashboard",
                "title": "mediamon: articles overview",
                "error": {"type": "unknown", "message": "bad panelsJSON", "statusCode": 400},
            },
        ],
    }
    with kibana_and_client([(200, answer)]) as (_, client):
        result = import_saved_objects(client, b"{}\n", timeout=5)
    assert not result.ok and result.success_count == 8
    assert [str(e) for e in result.errors] == [
        "lens/mediamon-top-sources (mediamon: top sources): missing_references "
        "(missing: index-pattern/gone)",
        f"dashboard/{DASHBOARD_ID} (mediamon: articles overview): unknown: bad panelsJSON",
    ]


def test_refused_credentials_fail_at_once_without_the_password() -> None:
    settings = Settings(kibana_username="analyst", kibana_password="pa55-w0rd")
    with (
        kibana_and_client([(401, {"message": "unauthorized"})], settings) as (kibana, client),
        pytest.raises(ConfigError) as caught,
    ):
        import_saved_objects(client, b"{}\n", timeout=30)
    assert "HTTP 401" in str(caught.value) and "pa55-w0rd" not in str(caught.value)
    assert len(kibana.received) == 1


def test_bad_request_is_permanent() -> None:
    answer = {"statusCode": 400, "error": "Bad Request", "message": "Invalid file extension .txt"}
    with (
        kibana_and_client([(400, answer)]) as (_, client),
        pytest.raises(PermanentError, match="Invalid file extension"),
    ):
        import_saved_objects(client, b"{}\n", timeout=30)


def test_credentials_in_the_url_are_sent_but_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    with fake_kibana([(503, {}), ok(1)]) as kibana:
        url = kibana.url.replace("http://", "http://analyst:pa55-w0rd@")
        assert redact(url) == kibana.url
        with caplog.at_level(logging.DEBUG), make_client(Settings(), url) as client:
            assert "pa55-w0rd" not in str(client.base_url)
            import_saved_objects(client, b"{}\n", timeout=5, sleep=lambda _: None)
    assert kibana.received[-1].headers["authorization"].startswith("Basic ")
    assert "pa55-w0rd" not in caplog.text


CLI = [sys.executable, "-m", "mediamon.main"]


def _run_cli(url: str, timeout: int = 5, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--log-level", "debug", "setup", "kibana", "--url", url, "--timeout", str(timeout)],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_imports_and_never_prints_the_password() -> None:
    secret = {"MEDIAMON_KIBANA_USERNAME": "analyst", "MEDIAMON_KIBANA_PASSWORD": "pa55-w0rd"}
    count = len(shipped_objects())
    with fake_kibana([(503, {}), ok(count), (200, {"settings": {}})]) as kibana:
        proc = _run_cli(kibana.url, timeout=5, MEDIAMON_NAMESPACE="t9-", **secret)
    assert proc.returncode == 0, proc.stderr
    assert f"saved objects imported: {count} of {count}" in proc.stdout
    assert f"/app/dashboards#/view/{DASHBOARD_ID}" in proc.stdout
    assert "pa55-w0rd" not in proc.stdout + proc.stderr
    # the search bar is switched to the query syntax and operator that rules use
    settings_call = kibana.received[-1]
    assert settings_call.path == "/api/kibana/settings"
    assert settings_call.headers["kbn-xsrf"]
    changes = json.loads(settings_call.content)["changes"]
    assert changes["search:queryLanguage"] == "lucene"
    assert json.loads(changes["query:queryString:options"])["default_operator"] == "AND"
    sent = parse_ndjson(kibana.received[-2].content.decode())
    assert next(o for o in sent if o["id"] == DATA_VIEW)["attributes"]["title"] == "t9-articles*"
    alerts_view = next(o for o in sent if o["id"] == ALERTS_DATA_VIEW)
    assert alerts_view["attributes"]["title"] == "t9-alerts"


def test_cli_exits_non_zero_and_lists_object_errors() -> None:
    answer = {
        "success": False,
        "successCount": 0,
        "errors": [{"id": DATA_VIEW, "type": "index-pattern", "error": {"type": "conflict"}}],
    }
    with fake_kibana([(200, answer)]) as kibana:
        proc = _run_cli(kibana.url)
    assert proc.returncode == 1
    assert f"not imported: index-pattern/{DATA_VIEW}: conflict" in proc.stderr


def test_cli_reports_a_kibana_that_never_comes_up() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = _run_cli(url, timeout=2, MEDIAMON_KIBANA_PASSWORD="pa55-w0rd")
    assert proc.returncode == 2
    assert "not ready after 2s" in proc.stderr and "ConnectError" in proc.stderr
    assert "pa55-w0rd" not in proc.stdout + proc.stderr
