"""Indexing core: enriched articles -> their monthly index, held or explained.

`ArticleIndexer.index` returns only when Elasticsearch holds every article of the batch, has
refused it for good (rejected), or keeps answering 429/5xx for it (deferred: the agent sends
those through the retry topic rather than hold the partition). The indexing agent
acknowledges the Kafka offsets after that, so an outage of the whole cluster stalls the
partition instead of losing articles.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

from pipeline.adapters.elastic import ElasticWork, describe_error
from pipeline.indexing.bulk import StrayOutcome, bulk_index, remove_stray_copies, to_es_document
from pipeline.indexing.layout import (
    ensure_monthly_index,
    lifecycle_available,
    month_of,
    monthly_index,
)
from pipeline.schema import EnrichedArticle

log = logging.getLogger(__name__)

# A placed copy becomes searchable within a refresh interval (1 s by default): remember
# placements well beyond that, and never more than this many.
RECENT_SECONDS = 60.0
RECENT_MAX = 200_000

# The cluster is unreachable or answered the whole request with an error: retry the batch.
TRANSIENT = (ESConnectionError, ConnectionTimeout, ApiError)


@dataclass
class IndexReport:
    indexed: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (article id, reason)
    deferred: list[tuple[str, str]] = field(default_factory=list)  # still 429/5xx: retry later
    retries: int = 0
    superseded: list[str] = field(default_factory=list)  # a newer version is held: skipped
    strays_removed: int = 0
    indices: set[str] = field(default_factory=set)  # where the held documents went


@dataclass(eq=False, repr=False)
class ArticleIndexer(ElasticWork):
    max_backoff: float = field(default=30.0, kw_only=True)
    _known_indices: set[str] = field(default_factory=set, init=False)
    _lifecycle: bool | None = field(default=None, init=False)
    failing_since: float | None = field(default=None, init=False)  # first failed request
    # id -> (index, when) of what this indexer placed lately: a copy written moments ago
    # is not searchable yet, so a quick re-dated update must find it here
    _recent: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict, init=False)

    def healthy(self, grace: float = 60.0) -> bool:
        """Elasticsearch takes batches (or has failed for less than `grace` seconds)."""
        return self.failing_since is None or time.monotonic() - self.failing_since < grace

    async def _ensure_indices(self, months: set[datetime]) -> None:
        if self._lifecycle is None:
            self._lifecycle = bool(self.settings.es_retention_days) and await lifecycle_available(
                self.es
            )
        for month in months:
            name = monthly_index(self.settings, month)
            if name not in self._known_indices:
                await ensure_monthly_index(self.es, self.settings, month, self._lifecycle)
                self._known_indices.add(name)

    async def index(self, articles: list[EnrichedArticle]) -> IndexReport:
        """Index the batch (last copy of an id wins); retry with capped exponential backoff
        until each document is held, refused (mapping), or deferred (429/5xx past the
        in-place attempts)."""
        report = IndexReport()
        latest = {a.id: a for a in articles}
        months = {i: month_of(a) for i, a in latest.items()}
        placed = {i: monthly_index(self.settings, m) for i, m in months.items()}
        pending: dict[str, tuple[str, dict[str, Any]]] = {
            i: (placed[i], to_es_document(a)) for i, a in latest.items()
        }
        versions = {i: a.version for i, a in latest.items()}
        attempts: dict[str, int] = {}
        delay = 0.5
        while pending:
            try:
                await self._ensure_indices({months[i] for i in pending})
                outcome = await bulk_index(
                    self.es, [(index, i, doc) for i, (index, doc) in pending.items()], versions
                )
            except TRANSIENT as exc:
                report.retries += 1
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                log.warning(
                    "bulk failed, retrying in %.1fs: %s", delay, describe_error(exc, self.settings)
                )
            else:
                self.failing_since = None
                report.indexed += outcome.indexed
                report.superseded += outcome.superseded
                for doc, reason in outcome.rejected:
                    report.rejected.append((str(doc.get("id")), reason))
                retry_ids = {str(r["id"]) for r in outcome.retry}
                for r in outcome.retry:
                    i = str(r["id"])
                    attempts[i] = attempts.get(i, 0) + 1
                    if attempts[i] >= self.settings.index_doc_attempts:
                        report.deferred.append((i, f"{attempts[i]} attempts: {r['reason']}"))
                pending = {
                    i: v
                    for i, v in pending.items()
                    if i in retry_ids and attempts[i] < self.settings.index_doc_attempts
                }
                if not pending:
                    break
                report.retries += 1
                log.warning("bulk: %d documents to retry in %.1fs", len(pending), delay)
            await self.wait(delay)
            delay = min(delay * 2, self.max_backoff)
        refused = {i for i, _ in report.rejected + report.deferred}
        written = {
            i: index
            for i, index in placed.items()
            if i not in refused and i not in report.superseded
        }
        known = [(self._recent[i][0], i) for i in written if i in self._recent]
        strays = await self._remove_strays(written, known, versions)
        report.strays_removed = strays.removed
        report.superseded += strays.stale
        held = {i: index for i, index in written.items() if i not in strays.stale}
        report.indices = set(held.values())
        self._remember(held)
        return report

    def _remember(self, held: dict[str, str]) -> None:
        now = time.monotonic()
        for i, index in held.items():
            self._recent.pop(i, None)
            self._recent[i] = (index, now)
        while self._recent and (
            len(self._recent) > RECENT_MAX
            or now - next(iter(self._recent.values()))[1] > RECENT_SECONDS
        ):
            self._recent.popitem(last=False)

    async def _remove_strays(
        self, placed: dict[str, str], known: list[tuple[str, str]], versions: dict[str, int]
    ) -> StrayOutcome:
        while True:
            try:
                return await remove_stray_copies(
                    self.es, self.settings.articles_alias, placed, known, versions
                )
            except TRANSIENT as exc:
                # The batch is held; a stray copy is a double count, not a loss: retry briefly.
                log.warning(
                    "stray-copy check failed, retrying in 1.0s: %s",
                    describe_error(exc, self.settings),
                )
                await self.wait(1.0)
