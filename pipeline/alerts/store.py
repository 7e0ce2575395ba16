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
