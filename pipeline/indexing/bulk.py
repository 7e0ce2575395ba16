"""The article write path's requests: the indexed form of an article, versioned bulk writes
sorted by outcome, and the removal of copies filed under another month."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_streaming_bulk

from pipeline.indexing.layout import LANGUAGE_ANALYZERS
from pipeline.schema import EnrichedArticle

log = logging.getLogger(__name__)

# Per-document statuses worth retrying: the cluster was busy or briefly unavailable.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BULK_BYTES = 20 * 1024 * 1024


def to_es_document(article: EnrichedArticle) -> dict[str, Any]:
    """The indexed form: the record, plus title and text under the field analysed for the
    detected language (left out of _source by the mapping, so stored once)."""
    doc = article.to_document()
    if article.lang in LANGUAGE_ANALYZERS:
        doc[f"title_{article.lang}"] = article.title
        doc[f"text_{article.lang}"] = article.text
    return doc


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
