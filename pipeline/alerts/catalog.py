"""The rules as data: the `alert-rules` index, beside the rules file.

The file stays the source `mediamon rules` edits. The worker publishes it to the index
whenever it changes (each rule once, by id; `created` kept, `updated` when the rule
changed; rules gone from the file deleted), so the page, Kibana and scripts can list the
rules with one search. Rules written to the index by something else (`source: index`, for
example by a script or a future page form) are loaded too, validated like the file's, and
matched beside the file's; the file wins when both have an id. The worker notices a change
of the file (its stamp) or of the index (its write counters) without a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch, NotFoundError
from pydantic import ValidationError

from pipeline.alerts.matching import RulesFile
from pipeline.alerts.presearch import every_batch_reason
from pipeline.alerts.rules import RULE_ADAPTER, KeywordRule, RuleSet, VolumeRule
from pipeline.schema import utcnow
from pipeline.settings import Settings

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0  # how often the index is asked whether it changed
MAX_RULES = 10_000  # one search reads them all

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "name": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 256}}},
        "type": {"type": "keyword"},
        "query": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 2048}}},
        "languages": {"type": "keyword"},
        "topics": {"type": "keyword"},
        "feeds": {"type": "keyword"},
        "channels": {"type": "keyword"},
        "enabled": {"type": "boolean"},
        "owner": {"type": "keyword"},
        "source": {"type": "keyword"},  # file | index
        "every_batch": {"type": "keyword"},  # why pre-selection cannot skip it, if it cannot
        "created": {"type": "date"},
        "updated": {"type": "date"},
        "digest": {"type": "keyword"},
        # the rule as its model dumps it (throttle, volume settings...): what is loaded back
        "definition": {"type": "object", "enabled": False},
    },
}


async def ensure_rules_index(es: AsyncElasticsearch, settings: Settings) -> str:
    """The `alert-rules` index with its mapping. Idempotent."""
    index = settings.alert_rules_index
    if not await es.indices.exists(index=index):
        try:
            await es.indices.create(
                index=index,
                mappings=MAPPING,
                settings={"number_of_shards": 1, "number_of_replicas": settings.es_replicas},
            )
        except ApiError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise
    return index


def _digest(rule: KeywordRule | VolumeRule) -> str:
    text = json.dumps(rule.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def rule_document(
    rule: KeywordRule | VolumeRule, source: str, now: str, created: str | None = None
) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "type": rule.type,
        "query": rule.query,
        "languages": rule.languages,
        "topics": rule.topics,
        "feeds": rule.feeds,
        "channels": rule.channels,
        "enabled": rule.enabled,
        "owner": rule.owner,
        "source": source,
        "every_batch": every_batch_reason(rule.query),
        "created": created or now,
        "updated": now,
        "digest": _digest(rule),
        "definition": rule.model_dump(mode="json"),
    }


async def _documents(es: AsyncElasticsearch, index: str, source: str) -> list[dict[str, Any]]:
    try:
        answer = await es.search(
            index=index, query={"term": {"source": source}}, size=MAX_RULES, sort=["id"]
        )
    except NotFoundError:  # no worker has published yet
        return []
    return [hit["_source"] for hit in answer["hits"]["hits"]]


async def publish(es: AsyncElasticsearch, settings: Settings, ruleset: RuleSet) -> int:
    """The file's rules into the index; the number of documents written or deleted."""
    index = await ensure_rules_index(es, settings)
    held = {d["id"]: d for d in await _documents(es, index, "file")}
    now = utcnow().isoformat()
    operations: list[dict[str, Any]] = []
    for rule in ruleset.rules:
        old = held.pop(rule.id, None)
        if old is not None and old.get("digest") == _digest(rule):
            continue  # unchanged: `updated` says when the rule last changed
        doc = rule_document(rule, "file", now, old.get("created") if old else None)
        operations += [{"index": {"_index": index, "_id": rule.id}}, doc]
    for gone in held:
        operations.append({"delete": {"_index": index, "_id": gone}})
    if operations:
        answer = await es.bulk(operations=operations, refresh=True)
        if answer.get("errors"):
            failed = [i for i in answer["items"] if next(iter(i.values())).get("error")]
            log.warning("alert-rules index refused %d writes: %s", len(failed), failed[0])
    return sum(1 for op in operations if "delete" in op or "index" in op)


def index_rules(docs: list[dict[str, Any]], channels: set[str]) -> tuple[list[Any], list[str]]:
    """The index's own rules, each validated like a file rule: (rules, problems)."""
    rules, problems = [], []
    for doc in docs:
        spec = doc.get("definition") or {
            k: v
            for k, v in doc.items()
            if k not in ("source", "every_batch", "created", "updated", "digest", "definition")
        }
        rule_id = spec.get("id", "?") if isinstance(spec, dict) else "?"
        try:
            rule = RULE_ADAPTER.validate_python(
                {"type": "keyword", **spec} if isinstance(spec, dict) else spec
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(rule)"
            problems.append(f"alert-rules index: rule {rule_id}: {where}: {first['msg']}")
            continue
        missing = [c for c in rule.channels if c not in channels]
        if missing:
            problems.append(
                f"alert-rules index: rule {rule.id}: unknown channel(s) {missing}; not loaded"
            )
            continue
        rules.append(rule)
    return rules, problems


def merge(file: RuleSet, extra: list[Any], extra_problems: list[str]) -> RuleSet:
    """The file's rules, then the index's (an id the file has: the file's rule wins)."""
    ids = {r.id for r in file.rules}
    problems = list(file.problems) + list(extra_problems)
    rules = list(file.rules)
    for rule in extra:
        if rule.id in ids:
            problems.append(
                f"alert-rules index: rule {rule.id}: the rules file has this id; ignored"
            )
            continue
        ids.add(rule.id)
        rules.append(rule)
    return RuleSet(rules=rules, channels=file.channels, problems=problems)


class RulesCatalog:
    """A rule source (pipeline.alerts.matching.RuleSource) over the file and the index.
    `current()` is what the agents read; `refresh(es)`, called by them once per batch,
    publishes a changed file and re-reads a changed index (at most every POLL_SECONDS)."""

    def __init__(
        self,
        settings: Settings,
        file: RulesFile | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = POLL_SECONDS,
        publish: bool = True,
    ) -> None:
        self.settings = settings
        self.publish = publish  # the page reads; only the worker writes the index
        self.file = file or RulesFile(settings.rules_file)
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._lock = asyncio.Lock()
        self._published: RuleSet | None = None
        self._checked = -float("inf")
        self._marker: tuple[int, int] | None = None
        self._extra: list[Any] = []
        self._extra_problems: list[str] = []
        self._merged = RuleSet()
        self._merged_from: tuple[RuleSet | None, int] = (None, -1)
        self._version = 0

    def current(self) -> RuleSet:
        file = self.file.current()
        if self._merged_from != (file, self._version):
            self._merged = merge(file, self._extra, self._extra_problems)
            self._merged_from = (file, self._version)
        return self._merged

    async def refresh(self, es: AsyncElasticsearch) -> None:
        """Never raises for a server that is away: the rules in hand stay in use."""
        async with self._lock:
            try:
                await self._refresh(es)
            except (ESConnectionError, ConnectionTimeout, ApiError) as exc:
                log.warning("alert-rules index: %s; the rules in hand stay", type(exc).__name__)

    async def _refresh(self, es: AsyncElasticsearch) -> None:
        file = self.file.current()
        if self.publish and file is not self._published:
            written = await publish(es, self.settings, file)
            self._published = file
            if written:
                log.info("alert-rules index: %d rule document(s) written from the file", written)
        now = self.clock()
        if now - self._checked < self.poll_seconds:
            return
        self._checked = now
        marker = await self._index_marker(es)
        if marker is None:
            log.warning("alert-rules index: no primary shard answers; the rules in hand stay")
            return
        if marker == self._marker:
            return
        self._marker = marker
        docs = await _documents(es, self.settings.alert_rules_index, "index")
        self._extra, self._extra_problems = index_rules(docs, set(file.channels))
        for problem in self._extra_problems:
            log.warning("rules: %s", problem)
        self._version += 1
        if docs:
            log.info("rules: %d loaded from the alert-rules index", len(self._extra))

    async def _index_marker(self, es: AsyncElasticsearch) -> tuple[int, int] | None:
        """Writes and deletes the index has taken: any change moves it. None while no
        primary shard of the index answers (a data node just went away and its shards are
        not yet reassigned: the stats' primaries are empty), when nothing is known of its
        writes; this was a KeyError that crashed the indexing agent in the cluster fault
        test."""
        try:
            stats = await es.indices.stats(index=self.settings.alert_rules_index, metric="indexing")
        except NotFoundError:
            return 0, 0
        indexing = stats.body.get("_all", {}).get("primaries", {}).get("indexing")
        if not isinstance(indexing, dict):
            return None
        return int(indexing["index_total"]), int(indexing["delete_total"])
