"""Reading the shipped Kibana saved objects the way Kibana would, for the unit tests (structure,
fields against the mapping) and the integration test (each panel's query on real data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

KIBANA_DIR = REPO / "pipeline" / "adapters" / "dashboards"
# each index template ships beside the code that installs it
TEMPLATE = REPO / "pipeline" / "indexing" / "articles-template.json"
ALERTS_TEMPLATE = REPO / "pipeline" / "alerts" / "alerts-template.json"
TEMPLATES = (TEMPLATE, ALERTS_TEMPLATE)

DATE_TYPES = frozenset({"date", "date_nanos"})
NUMERIC_TYPES = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
    | {"unsigned_long"}
)
# Types with doc values, so terms, cardinality and sorting work on them (text does not).
AGGREGATABLE_TYPES = (
    DATE_TYPES | NUMERIC_TYPES | {"keyword", "constant_keyword", "boolean", "ip", "version"}
)
RECORDS = "___records___"  # Lens's pseudo-field for "count of documents"


def load_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(KIBANA_DIR.glob("*.ndjson")):
        lines = path.read_text("utf-8").splitlines()
        objects.extend(json.loads(line) for line in lines if line.strip())
    return objects


def mapping_fields(template_path: Path = TEMPLATE) -> dict[str, str]:
    """Every field path of an index template's mapping (the articles one by default) and its
    type, multi-fields (title.raw) and object sub-properties included."""
    template = json.loads(template_path.read_text("utf-8"))
    fields: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            path = prefix + name
            fields[path] = spec.get("type", "object")
            for sub, sub_spec in spec.get("fields", {}).items():
                fields[f"{path}.{sub}"] = sub_spec["type"]
            walk(spec.get("properties", {}), path + ".")

    walk(template["template"]["mappings"]["properties"], "")
    return fields


@dataclass(frozen=True)
class Mapping:
    """The mapping a data view's fields are checked against: `name` is the template's file
    name without `-template.json` (articles, alerts)."""

    name: str
    fields: dict[str, str]


def index_templates() -> dict[Path, list[str]]:
    """Each index template mediamon installs and its index patterns."""
    templates: dict[Path, list[str]] = {}
    for path in TEMPLATES:
        body = json.loads(path.read_text("utf-8"))
        if isinstance(body, dict) and "index_patterns" in body:
            templates[path] = list(body["index_patterns"])
    return templates


def templates_covered_by(pattern: str) -> list[Path]:
    """The templates whose indices a data view's pattern (its title, e.g. `articles*`) matches;
    a `*` in a template's pattern stands for some index name's remainder."""
    return [
        path
        for path, patterns in index_templates().items()
        if any(fnmatchcase(p.replace("*", "2017-01"), pattern) for p in patterns)
    ]


def data_view_mappings(objects: list[dict[str, Any]]) -> dict[str, Mapping]:
    """Data view id -> the mapping of the one template its pattern covers. A data view that
    covers no template or several is left out (field_problems reports it)."""
    mappings: dict[str, Mapping] = {}
    for obj in objects:
        if obj.get("type") == "index-pattern":
            found = templates_covered_by(str(obj.get("attributes", {}).get("title", "")))
            if len(found) == 1:
                name = found[0].name.removesuffix(".json").removesuffix("-template")
                mappings[obj["id"]] = Mapping(name, mapping_fields(found[0]))
    return mappings


def search_data_view(obj: dict[str, Any]) -> str:
    """The id of the data view a saved search reads, through its `indexRefName` reference."""
    meta = obj["attributes"].get("kibanaSavedObjectMeta", {})
    ref_name = json.loads(meta.get("searchSourceJSON") or "{}").get("indexRefName")
    return next((r["id"] for r in obj.get("references", []) if r["name"] == ref_name), "")


@dataclass(frozen=True)
class Column:
    id: str
    spec: dict[str, Any]

    @property
    def operation(self) -> str:
        return str(self.spec.get("operationType"))

    @property
    def field(self) -> str:
        return str(self.spec.get("sourceField", ""))

    @property
    def bucketed(self) -> bool:
        return bool(self.spec.get("isBucketed"))


@dataclass(frozen=True)
class Layer:
    lens_id: str
    id: str
    columns: list[Column]  # in the layer's columnOrder, which is the order Lens nests them
    data_view: str = ""  # id of the data view its reference names ("" when it has none)

    @property
    def buckets(self) -> list[Column]:
        return [c for c in self.columns if c.bucketed]

    @property
    def metrics(self) -> list[Column]:
        return [c for c in self.columns if not c.bucketed]


def lens_layers(obj: dict[str, Any]) -> list[Layer]:
    layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    # Lens finds a layer's data view by this reference name and no other.
    views = {r["name"]: r["id"] for r in obj.get("references", [])}
    return [
        Layer(
            obj["id"],
            layer_id,
            [Column(c, layer["columns"][c]) for c in layer["columnOrder"]],
            views.get(f"indexpattern-datasource-layer-{layer_id}", ""),
        )
        for layer_id, layer in layers.items()
    ]


def field_problems(
    objects: list[dict[str, Any]], mappings: dict[str, Mapping] | None = None
) -> list[str]:
    """Each use of a field the mapping lacks, or whose type cannot serve that use. Each use is
    looked up in the mapping of the data view it reads (`mappings`, by data view id; by
    default each data view's template in deploy/elasticsearch/, see data_view_mappings)."""
    if mappings is None:
        mappings = data_view_mappings(objects)
    problems: list[str] = []

    def need(where: str, view: str, name: str, allowed: frozenset[str] | None, use: str) -> None:
        mapping = mappings.get(view)
        if mapping is None:
            problems.append(f"{where}: data view {view!r} has no mapping to check {name!r}")
            return
        kind = mapping.fields.get(name)
        if kind is None:
            problems.append(f"{where}: {name!r} is not in the {mapping.name} mapping")
        elif allowed is not None and kind not in allowed:
            problems.append(
                f"{where}: {name!r} is {kind} in the {mapping.name} mapping, "
                f"which cannot be used for {use}"
            )

    for obj in objects:
        where = f"{obj.get('type')}/{obj.get('id')}"
        attributes = obj.get("attributes", {})
        if obj.get("type") == "index-pattern":
            view = str(obj.get("id"))
            if view not in mappings:
                covered = templates_covered_by(str(attributes.get("title", "")))
                problems.append(
                    f"{where}: pattern {attributes.get('title')!r} covers {len(covered)} "
                    "index templates in deploy/elasticsearch/, not exactly one"
                )
                continue
            need(where, view, attributes.get("timeFieldName", ""), DATE_TYPES, "the time field")
            for name in json.loads(attributes.get("fieldFormatMap") or "{}"):
                need(where, view, name, None, "a field format")
        elif obj.get("type") == "search":
            view = search_data_view(obj)
            for name in attributes.get("columns", []):
                need(where, view, name, None, "a column")  # display only: text is fine
            for name, _direction in attributes.get("sort", []):
                need(where, view, name, AGGREGATABLE_TYPES, "sorting")
        elif obj.get("type") == "lens":
            for layer in lens_layers(obj):
                view = layer.data_view
                for column in layer.columns:
                    at = f"{where} column {column.id}"
                    if column.operation == "count":
                        if column.field != RECORDS:
                            need(at, view, column.field, AGGREGATABLE_TYPES, "a count")
                    elif column.operation == "date_histogram":
                        need(at, view, column.field, DATE_TYPES, "a date histogram")
                    elif column.operation in ("terms", "unique_count"):
                        need(at, view, column.field, AGGREGATABLE_TYPES, column.operation)
                    elif column.operation in ("sum", "average", "min", "max", "median"):
                        need(at, view, column.field, NUMERIC_TYPES, column.operation)
                    else:
                        problems.append(f"{at}: operation {column.operation!r} is not checked")
    return problems


def layer_aggregations(layer: Layer, auto_interval: str = "month") -> dict[str, Any]:
    """The Elasticsearch aggregations equivalent to a Lens layer: bucket columns nested in
    column order, metric columns at the innermost level (a count is each bucket's doc_count).
    Lens's "auto" date interval depends on the time range; `auto_interval` stands in for it."""
    innermost: dict[str, Any] = {}
    for column in layer.metrics:
        if column.operation == "unique_count":
            innermost[column.id] = {"cardinality": {"field": column.field}}
        elif column.operation in ("sum", "min", "max"):
            innermost[column.id] = {column.operation: {"field": column.field}}
        elif column.operation == "average":
            innermost[column.id] = {"avg": {"field": column.field}}
        elif column.operation != "count":
            raise AssertionError(f"{layer.lens_id}: no translation for {column.operation!r}")
    aggs = innermost
    for column in reversed(layer.buckets):
        params = column.spec.get("params", {})
        if column.operation == "date_histogram":
            interval = params.get("interval", "auto")
            body: dict[str, Any] = {
                "date_histogram": {
                    "field": column.field,
                    "calendar_interval": auto_interval if interval == "auto" else interval,
                    "min_doc_count": 1,
                }
            }
        elif column.operation == "terms":
            body = {"terms": {"field": column.field, "size": int(params.get("size", 10))}}
        else:
            raise AssertionError(f"{layer.lens_id}: no translation for {column.operation!r}")
        if aggs:
            body["aggs"] = aggs
        aggs = {column.id: body}
    return aggs
