"""Elasticsearch through the async client: index template, alias, bulk indexing."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_streaming_bulk

from pipeline.settings import Settings

log = logging.getLogger(__name__)

# Per-document statuses worth retrying: the cluster was busy or briefly unavailable.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


def make_client(settings: Settings) -> AsyncElasticsearch:
    auth: dict[str, Any] = {}
    if settings.es_username and settings.es_password:
        auth["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    return AsyncElasticsearch(
        settings.es_url, request_timeout=30, retry_on_timeout=False, max_retries=0, **auth
    )


def _asset(name: str) -> dict[str, Any]:
    text = resources.files("deploy").joinpath("elasticsearch", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def articles_template(settings: Settings) -> dict[str, Any]:
    body = _asset("articles-template.json")
    body["index_patterns"] = [f"{settings.articles_alias}-*"]
    body["template"]["settings"] |= {
        "number_of_shards": settings.es_shards,
        "number_of_replicas": settings.es_replicas,
        "refresh_interval": settings.es_refresh_interval,
    }
    return body


def write_index(settings: Settings) -> str:
    return f"{settings.articles_alias}-v1"


async def ensure_articles_index(es: AsyncElasticsearch, settings: Settings) -> str:
    """Install the template and make sure the alias points at a write index (idempotent)."""
    alias = settings.articles_alias
    template = articles_template(settings)
    await es.indices.put_index_template(name=f"{alias}-template", **template)
    index = write_index(settings)
    if not await es.indices.exists(index=index):
        try:
            await es.indices.create(index=index, aliases={alias: {"is_write_index": True}})
        except Exception as exc:  # another worker created it between exists() and create()
            if "resource_already_exists_exception" not in str(exc):
                raise
    else:
        # An index made by an older version lacks newer fields, and the strict mapping would
        # reject every document carrying them: add them (adding fields is always allowed).
        await es.indices.put_mapping(
            index=index, properties=template["template"]["mappings"]["properties"]
        )
    return index


@dataclass
class BulkOutcome:
    indexed: int = 0
    retry: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], str]] = field(default_factory=list)


async def bulk_index(
    es: AsyncElasticsearch, index: str, docs: list[tuple[str, dict[str, Any]]]
) -> BulkOutcome:
    """Index (id, document) pairs; sort each per-document result into indexed, retry
    (429/5xx) and rejected (the mapping or the document is wrong: dead-letter it).
    Connection-level failures raise, so the caller retries the whole batch."""
    by_id = {doc_id: doc for doc_id, doc in docs}
    actions = [{"_op_type": "index", "_index": index, "_id": i, "_source": d} for i, d in docs]
    outcome = BulkOutcome()
    async for ok, item in async_streaming_bulk(
        es, actions, raise_on_error=False, raise_on_exception=True, chunk_size=len(actions) or 1
    ):
        result = item.get("index", {})
        doc_id = str(result.get("_id"))
        if ok:
            outcome.indexed += 1
        elif int(result.get("status", 0)) in RETRYABLE_STATUSES:
            outcome.retry.append({"id": doc_id, "doc": by_id.get(doc_id)})
        else:
            outcome.rejected.append((by_id.get(doc_id, {}), json.dumps(result.get("error"))))
    return outcome
