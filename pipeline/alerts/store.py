"""The alerts index: its template (package data beside this module) and the alert records,
written by id so a status change overwrites the record."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch

from pipeline.failures import never, pause
from pipeline.settings import Settings

log = logging.getLogger(__name__)


async def ensure_alerts_index(es: AsyncElasticsearch, settings: Settings) -> str:
    """The alerts index (one, not monthly: alerts are few) and its template. Idempotent."""
    body: dict[str, Any] = json.loads(
        resources.files("pipeline.alerts").joinpath("alerts-template.json").read_text("utf-8")
    )
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


class _NoResults(Exception):
    """A bulk answer without one result per record, from a broken server or proxy: nothing
    says what was written, so the request is sent again (records are written by id)."""


def _transient(item: dict[str, Any]) -> bool:
    status = item.get("index", {}).get("status", 0)
    return bool(item.get("index", {}).get("error")) and (status == 429 or status >= 500)


async def index_alert_documents(
    es: AsyncElasticsearch,
    index: str,
    docs: list[dict[str, Any]],
    stopping: Callable[[], bool] = never,
) -> None:
    """Alert records by id (`_id` in each doc): a status change overwrites the record. An
    alert record is not dropped because the cluster is briefly away, busy (429, 5xx per
    record) or answers without the records' results: those are sent again until the worker
    stops (the batch then stays unacknowledged). Records refused for good (a mapping
    error) are logged."""
    pending: list[list[dict[str, Any]]] = []
    for doc in docs:
        body = {k: v for k, v in doc.items() if k != "_id"}
        pending.append([{"index": {"_index": index, "_id": doc["_id"]}}, body])
    delay = 0.5
    while pending:
        try:
            resp = await es.bulk(operations=[part for record in pending for part in record])
            items = resp.get("items")
            if not isinstance(items, list) or len(items) != len(pending):
                count = len(items) if isinstance(items, list) else "no"
                raise _NoResults(f"{count} results for {len(pending)} records")
        except (ESConnectionError, ConnectionTimeout, ApiError, _NoResults) as exc:
            log.warning("alerts index: %s, retrying in %.1fs", _why(exc), delay)
            await pause(delay, stopping)
            delay = min(delay * 2, 30.0)
            continue
        if not resp.get("errors"):
            return
        refused = [i for i in items if i.get("index", {}).get("error") and not _transient(i)]
        if refused:
            log.warning(
                "alerts index refused %d records: %s", len(refused), refused[0]["index"]["error"]
            )
        pending = [record for record, item in zip(pending, items, strict=True) if _transient(item)]
        if pending:
            log.warning("alerts index: %d records busy, retrying in %.1fs", len(pending), delay)
            await pause(delay, stopping)
            delay = min(delay * 2, 30.0)


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__} ({exc})" if isinstance(exc, _NoResults) else type(exc).__name__
