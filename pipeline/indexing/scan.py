"""Rewriting what is indexed (retag, page backfill): page through a query under a point in
time (a busy index neither hides nor repeats documents), then write each changed document
only if no newer copy arrived meanwhile (external_gte with the version it was read at)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_streaming_bulk

PAGE = 500


async def hits_of(
    es: AsyncElasticsearch, alias: str, query: dict[str, Any], size: int = PAGE
) -> AsyncIterator[list[dict[str, Any]]]:
    """The query's hits, page by page, each with its `_version`."""
    pit = await es.open_point_in_time(index=alias, keep_alive="2m")
    pit_id = pit["id"]
    after: list[Any] | None = None
    try:
        while True:
            page = await es.search(
                pit={"id": pit_id, "keep_alive": "2m"},
                query=query,
                sort=["_shard_doc"],
                size=size,
                version=True,
                search_after=after,
            )
            pit_id = page.get("pit_id", pit_id)
            hits = page["hits"]["hits"]
            if not hits:
                return
            after = hits[-1]["sort"]
            yield hits
    finally:
        await es.close_point_in_time(id=pit_id)


def rewrite(hit: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """The bulk action writing `doc` over `hit` unless a newer copy is there by then."""
    doc["indexed_at"] = hit["_source"].get("indexed_at", doc.get("indexed_at"))
    return {
        "_op_type": "index",
        "_index": hit["_index"],
        "_id": hit["_id"],
        "_source": doc,
        "version": hit["_version"],
        "version_type": "external_gte",
    }


@dataclass
class Written:
    written: int = 0
    newer_meanwhile: int = 0  # a newer copy was written while we read: it stands
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_written: set[str] = field(default_factory=set)  # ids of both kinds above


async def write(es: AsyncElasticsearch, actions: list[dict[str, Any]], into: Written) -> None:
    async for ok, item in async_streaming_bulk(
        es, actions, raise_on_error=False, raise_on_exception=False, max_retries=3
    ):
        if ok:
            into.written += 1
            continue
        result = next(iter(item.values()))
        into.not_written.add(str(result.get("_id")))
        if result.get("status") == 409:
            into.newer_meanwhile += 1
        else:
            into.failed.append((str(result.get("_id")), str(result.get("error"))[:200]))
