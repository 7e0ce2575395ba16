"""Elasticsearch through the async client: index template, alias, bulk indexing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.helpers import async_streaming_bulk

from pipeline.failures import never, pause
from pipeline.schema import EnrichedArticle
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# Per-document statuses worth retrying: the cluster was busy or briefly unavailable.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
MAX_BULK_BYTES = 20 * 1024 * 1024


def client_options(settings: Settings) -> dict[str, Any]:
    """Authentication and TLS for the Elasticsearch client, from the settings only."""
    opts: dict[str, Any] = {}
    if settings.es_api_key:
        opts["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username and settings.es_password:
        opts["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_url.startswith("https://"):
        if settings.es_ca_certs:
            opts["ca_certs"] = str(settings.es_ca_certs)
        if not settings.es_verify_certs:
            log.warning(
                "TLS certificate verification for %s is OFF (MEDIAMON_ES_VERIFY_CERTS=false): "
                "anyone on the path can read and alter what is indexed",
                settings.es_url,
            )
            opts |= {"verify_certs": False, "ssl_show_warn": False}
    return opts


def make_client(settings: Settings) -> AsyncElasticsearch:
    return AsyncElasticsearch(
        settings.es_url,
        request_timeout=30,
        retry_on_timeout=False,
        max_retries=0,
        **client_options(settings),
    )


def _asset(name: str) -> dict[str, Any]:
    text = resources.files("deploy").joinpath("elasticsearch", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _template_properties() -> dict[str, Any]:
    props: dict[str, Any] = _asset("articles-template.json")["template"]["mappings"]["properties"]
    return props


# Detected language -> analyzer, read off the template's title_<lang>/text_<lang> fields so the
# mapping file stays the one place that says which languages get their own analysis.
LANGUAGE_ANALYZERS: dict[str, str] = {
    name.removeprefix("text_"): spec["analyzer"]
    for name, spec in _template_properties().items()
    if name.startswith("text_") and "analyzer" in spec
}


# Without analysis-common (the integ-test-zip) the template's custom analyzers cannot be
# built from token filters; the mediamon-analysis plugin provides the same Lucene chains whole.
LOCAL_ANALYZERS = {"mediamon_russian": {"type": "mediamon_russian_light"}}


def articles_template(
    settings: Settings, lifecycle_policy: str | None = None, analysis_common: bool = True
) -> dict[str, Any]:
    body = _asset("articles-template.json")
    if not analysis_common:
        analysis = body["template"]["settings"]["analysis"]
        analysis["analyzer"] = {name: LOCAL_ANALYZERS[name] for name in analysis["analyzer"]}
        analysis.pop("filter", None)
    body["index_patterns"] = [f"{settings.articles_alias}-*"]
    body["template"]["aliases"] = {settings.articles_alias: {}}
    index_settings = body["template"]["settings"]
    index_settings |= {
        "number_of_shards": settings.es_shards,
        "number_of_replicas": settings.es_replicas,
        "refresh_interval": settings.es_refresh_interval,
    }
    if lifecycle_policy:
        index_settings["lifecycle"] = {"name": lifecycle_policy}
    return body


def month_of(article: EnrichedArticle) -> datetime:
    """The month an article is filed under: its publication date, or when it was fetched if
    the date is missing or not believable (feeds do send 1970 and 2099)."""
    now = datetime.now(UTC)
    when = article.published
    if when is None or not (EARLIEST <= when <= now + timedelta(days=2)):
        when = article.fetched_at or article.enriched_at
    return when.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def monthly_index(settings: Settings, month: datetime) -> str:
    return f"{settings.articles_alias}-{month:%Y.%m}"


def to_es_document(article: EnrichedArticle) -> dict[str, Any]:
    """The indexed form: the record, plus title and text under the field analysed for the
    detected language (left out of _source by the mapping, so stored once)."""
    doc = article.to_document()
    if article.lang in LANGUAGE_ANALYZERS:
        doc[f"title_{article.lang}"] = article.title
        doc[f"text_{article.lang}"] = article.text
    return doc


async def cluster_modules(es: AsyncElasticsearch) -> set[str]:
    """The modules of the node we talk to: what this distribution can do. Asked through the
    module list because the ILM endpoint answers 405 on the integ-test-zip, and the client
    would mark the node dead for a second."""
    resp = await es.nodes.info(
        node_id="_local", metric="plugins", filter_path="nodes.*.modules.name"
    )
    return {m["name"] for node in resp.get("nodes", {}).values() for m in node["modules"]}


async def lifecycle_available(es: AsyncElasticsearch) -> bool:
    """Index lifecycle management is the x-pack-ilm module: absent from the integ-test-zip."""
    return "x-pack-ilm" in await cluster_modules(es)


def lifecycle_policy_name(settings: Settings) -> str:
    return f"{settings.articles_alias}-retention"


async def ensure_lifecycle(es: AsyncElasticsearch, settings: Settings) -> str | None:
    """Install the retention policy where the cluster can run it; say so where it cannot."""
    if not settings.es_retention_days:
        log.info("retention disabled (MEDIAMON_ES_RETENTION_DAYS is 0): indices are kept")
        return None
    if not await lifecycle_available(es):
        log.warning(
            "this Elasticsearch has no index lifecycle management (no x-pack): the %d-day "
            "retention is not applied; delete old %s-YYYY.MM indices by hand",
            settings.es_retention_days,
            settings.articles_alias,
        )
        return None
    name = lifecycle_policy_name(settings)
    await es.ilm.put_lifecycle(
        name=name,
        policy={
            "_meta": {"managed_by": "mediamon"},
            "phases": {
                "hot": {"actions": {}},
                # counted from the index's origination date: the end of its month
                "delete": {
                    "min_age": f"{settings.es_retention_days}d",
                    "actions": {"delete": {}},
                },
            },
        },
    )
    return name


async def ensure_monthly_index(
    es: AsyncElasticsearch, settings: Settings, month: datetime, lifecycle: bool
) -> str:
    """Create the month's index (the template supplies mappings and the alias)."""
    index = monthly_index(settings, month)
    if await es.indices.exists(index=index):
        return index
    index_settings: dict[str, Any] = {}
    if lifecycle:
        # Retention counts from the end of the month the articles belong to, not from
        # whenever the index happened to be created (a backfill creates old months today).
        month_end = (month + timedelta(days=32)).replace(day=1)
        index_settings["index.lifecycle.origination_date"] = int(month_end.timestamp() * 1000)
    try:
        await es.indices.create(index=index, settings=index_settings or None)
    except ApiError as exc:  # another worker created it between exists() and create()
        if "resource_already_exists_exception" not in str(exc):
            raise
    return index


# What an index created before a custom analyzer existed uses for fields added later.
BUILTIN_STAND_INS = {"mediamon_russian": "russian"}


def _with_builtins(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v | {"analyzer": BUILTIN_STAND_INS[v["analyzer"]]}
        if v.get("analyzer") in BUILTIN_STAND_INS
        else v
        for k, v in properties.items()
    }


async def ensure_articles_index(es: AsyncElasticsearch, settings: Settings) -> str:
    """Retention policy, template, this month's index (so the alias exists) and the newest
    fields on every existing index. Idempotent; returns this month's index."""
    policy = await ensure_lifecycle(es, settings)
    analysis_common = "analysis-common" in await cluster_modules(es)
    template = articles_template(settings, policy, analysis_common)
    await es.indices.put_index_template(name=f"{settings.articles_alias}-template", **template)
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    index = await ensure_monthly_index(es, settings, month, lifecycle=policy is not None)
    # Indices made by an older version lack newer fields, and the strict mapping would
    # reject every document carrying them: add them (adding fields is always allowed).
    properties = template["template"]["mappings"]["properties"]
    existing = await es.indices.get_mapping(index=f"{settings.articles_alias}-*")
    for name, mapping in existing.body.items():
        have = mapping.get("mappings", {}).get("properties", {})
        missing = {k: v for k, v in properties.items() if k not in have}
        if missing:
            try:
                await es.indices.put_mapping(index=name, properties=missing)
            except ApiError as exc:
                if "has not been configured" not in str(exc.body):
                    raise
                # an index older than a custom analyzer: a built-in stands in for it there
                await es.indices.put_mapping(index=name, properties=_with_builtins(missing))
        changed = [k for k, v in properties.items() if k in have and have[k] != v]
        if changed:
            # an analyzer or type cannot change in place: the next monthly index has it
            log.info("%s keeps its older definition of %s", name, ", ".join(sorted(changed)))
    return index


@dataclass
class BulkOutcome:
    indexed: int = 0
    retry: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)  # a newer version is already held


async def bulk_index(
    es: AsyncElasticsearch,
    docs: list[tuple[str, str, dict[str, Any]]],
    versions: Mapping[str, int] | None = None,
) -> BulkOutcome:
    """Index (index, id, document) triples; sort each per-document result into indexed,
    retry (429/5xx), superseded (the index holds a newer version) and rejected (the mapping
    or the document is wrong: dead-letter it). Connection-level failures raise, so the
    caller retries the whole batch.

    With `versions` (id -> version) each write is conditional (external_gte): a retried or
    replayed older copy of an article never overwrites a newer one, and writing the same
    version again (a redelivery) succeeds."""
    by_id = {doc_id: doc for _, doc_id, doc in docs}
    actions: list[dict[str, Any]] = [
        {"_op_type": "index", "_index": index, "_id": i, "_source": d} for index, i, d in docs
    ]
    if versions is not None:
        for action in actions:
            action |= {"version": versions[action["_id"]], "version_type": "external_gte"}
    outcome = BulkOutcome()
    async for ok, item in async_streaming_bulk(
        es,
        actions,
        raise_on_error=False,
        raise_on_exception=True,
        chunk_size=len(actions) or 1,
        # well under the server's 100 MB http.max_content_length: 500 long Cyrillic
        # articles, each sent twice (text and its language copy), would exceed it
        max_chunk_bytes=MAX_BULK_BYTES,
    ):
        result = item.get("index", {})
        doc_id = str(result.get("_id"))
        status = int(result.get("status", 0))
        if ok:
            outcome.indexed += 1
        elif status == 409 and versions is not None:
            outcome.superseded.append(doc_id)
        elif status in RETRYABLE_STATUSES:
            reason = f"{result.get('status')} {json.dumps(result.get('error'))}"[:500]
            outcome.retry.append({"id": doc_id, "doc": by_id.get(doc_id), "reason": reason})
        else:
            outcome.rejected.append((by_id.get(doc_id, {}), json.dumps(result.get("error"))))
    return outcome


@dataclass
class StrayOutcome:
    removed: int = 0  # older copies deleted from other months' indices
    stale: list[str] = field(default_factory=list)  # ours was the older copy: ours deleted


async def remove_stray_copies(
    es: AsyncElasticsearch,
    alias: str,
    placed: dict[str, str],
    known: list[tuple[str, str]] | None = None,
    versions: Mapping[str, int] | None = None,
) -> StrayOutcome:
    """Delete older copies of just-indexed articles that live in another monthly index.

    An update can move an article's date into another month (feeds re-date items, and an
    undated item is dated when fetched): the new copy is in the right index, the old one
    must go, or the article would be counted twice. `known` (index, id) pairs are copies the
    caller placed itself moments ago: the search below cannot see them until a refresh.

    With `versions`, a copy elsewhere is deleted only if it is not newer than ours; when it
    is (an old version arrived late and was dated into another month), ours goes instead."""
    outcome = StrayOutcome()
    if not placed:
        return outcome
    resp = await es.search(
        index=alias,
        query={"ids": {"values": list(placed)}},
        source=False,
        size=2 * len(placed),
    )
    pairs = {
        (hit["_index"], hit["_id"])
        for hit in resp["hits"]["hits"]
        if placed.get(hit["_id"]) not in (None, hit["_index"])
    }
    pairs |= {(index, i) for index, i in known or [] if placed.get(i) not in (None, index)}
    newer = await _delete_unless_newer(es, sorted(pairs), versions)
    outcome.removed = len(pairs) - len(newer)
    if newer:
        # our copy is the stale one: it goes (conditionally too: a still newer write wins)
        await _delete_unless_newer(es, sorted({(placed[i], i) for _, i in newer}), versions)
        outcome.stale = sorted({i for _, i in newer})
        log.info("%d late older versions dropped: newer copies exist", len(outcome.stale))
    if outcome.removed:
        log.info("removed %d copies left in another month's index", outcome.removed)
    return outcome


async def _delete_unless_newer(
    es: AsyncElasticsearch, pairs: list[tuple[str, str]], versions: Mapping[str, int] | None
) -> list[tuple[str, str]]:
    """Delete (index, id) pairs; with versions, only copies not newer than ours. Returns the
    pairs kept because they are newer."""
    if not pairs:
        return []
    operations: list[dict[str, Any]] = []
    for index, i in pairs:
        op: dict[str, Any] = {"_index": index, "_id": i}
        if versions is not None and i in versions:
            op |= {"version": versions[i], "version_type": "external_gte"}
        operations.append({"delete": op})
    resp = await es.bulk(operations=operations)
    return [
        (item["delete"]["_index"], item["delete"]["_id"])
        for item in resp["items"]
        if item["delete"].get("status") == 409
    ]


async def ensure_alerts_index(es: AsyncElasticsearch, settings: Settings) -> str:
    """The alerts index (one, not monthly: alerts are few) and its template. Idempotent."""
    body = _asset("alerts-template.json")
    body["index_patterns"] = [settings.alerts_index]
    body["template"]["settings"] |= {
        "number_of_shards": 1,
        "number_of_replicas": settings.es_replicas,
    }
    await es.indices.put_index_template(name=f"{settings.alerts_index}-template", **body)
    if not await es.indices.exists(index=settings.alerts_index):
        try:
            await es.indices.create(index=settings.alerts_index)
        except ApiError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise
    await es.indices.put_mapping(
        index=settings.alerts_index, properties=body["template"]["mappings"]["properties"]
    )
    return settings.alerts_index


async def index_alert_documents(
    es: AsyncElasticsearch,
    index: str,
    docs: list[dict[str, Any]],
    stopping: Callable[[], bool] = never,
) -> None:
    """Alert records by id (`_id` in each doc): a status change overwrites the record."""
    if not docs:
        return
    operations: list[dict[str, Any]] = []
    for doc in docs:
        body = {k: v for k, v in doc.items() if k != "_id"}
        operations += [{"index": {"_index": index, "_id": doc["_id"]}}, body]
    delay = 0.5
    while True:  # an alert record is not dropped because the cluster is briefly away
        try:
            resp = await es.bulk(operations=operations)
            break
        except (ESConnectionError, ConnectionTimeout, ApiError) as exc:
            log.warning("alerts index: %s, retrying in %.1fs", type(exc).__name__, delay)
            await pause(delay, stopping)
            delay = min(delay * 2, 30.0)
    if resp.get("errors"):
        failed = [i for i in resp["items"] if i["index"].get("error")]
        log.warning("alerts index refused %d records: %s", len(failed), failed[0]["index"]["error"])
