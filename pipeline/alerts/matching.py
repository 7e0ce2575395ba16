"""Matching enriched articles against the enabled keyword rules, in batches.

The local Elasticsearch (integ-test-zip) has no percolator module, so a batch is matched
the other way round: once the batch is indexed and refreshed, every rule's query runs as a
search restricted to the batch's ids (one _msearch for all rules). The query, the analyzers
and the index are exactly those of `mediamon search` and Kibana, so a rule matches what the
same search finds, inflected forms included. A rule whose query the server refuses is
logged and skipped; the other rules still match.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch

from pipeline.alerts.rules import KeywordRule, RuleSet, VolumeRule, load_rules
from pipeline.query import article_query
from pipeline.schema import AlertEvent, EnrichedArticle
from pipeline.settings import Settings

log = logging.getLogger(__name__)
RULES_PER_REQUEST = 200


class RulesFile:
    """The rules file, re-read when it changes (checked at most once per batch)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._ruleset = RuleSet()

    def current(self) -> RuleSet:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime, stat.st_size)
        except FileNotFoundError:
            stamp = (0.0, 0)
        if stamp != self._stamp:
            self._stamp = stamp
            ruleset = load_rules(self.path)
            for problem in ruleset.problems:
                log.warning("rules: %s", problem)
            log.info("rules: %d enabled from %s", len(ruleset.enabled()), self.path)
            self._ruleset = ruleset
        return self._ruleset


@dataclass
class MatchResult:
    events: list[AlertEvent] = field(default_factory=list)
    volume: dict[str, int] = field(default_factory=dict)  # volume rule id -> articles counted


def event_for(rule: KeywordRule, article: EnrichedArticle) -> AlertEvent:
    return AlertEvent(
        id=f"{rule.id}:{article.id}",
        rule_id=rule.id,
        rule_name=rule.name or rule.id,
        article_id=article.id,
        story_id=article.story_id or article.id,
        title=article.title,
        url=article.url,
        source_name=article.source_name,
        domain=article.domain,
        lang=article.lang,
        topics=article.topics,
        published=article.published,
        enriched_at=article.enriched_at,
        channels=rule.channels,
    )


class RuleMatcher:
    def __init__(
        self,
        es: AsyncElasticsearch,
        settings: Settings,
        rules: RulesFile,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.es = es
        self.settings = settings
        self.rules = rules
        self.sleep = sleep

    async def match(
        self, articles: list[EnrichedArticle], indices: set[str] | None = None
    ) -> MatchResult:
        """Alert events of keyword rules for the (already indexed) articles, in rule order,
        and how many articles each volume rule counted. An unreachable cluster is retried
        (capped backoff) until it answers: the batch's offsets wait."""
        delay = 0.5
        while True:
            try:
                return await self._match(articles, indices)
            except (ESConnectionError, ConnectionTimeout, ApiError) as exc:
                log.warning(
                    "rule matching failed, retrying in %.1fs: %s", delay, type(exc).__name__
                )
                await self.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _match(
        self, articles: list[EnrichedArticle], indices: set[str] | None
    ) -> MatchResult:
        rules = self.rules.current().enabled()
        result = MatchResult()
        if not rules or not articles:
            return result
        by_id = {a.id: a for a in articles}
        alias = self.settings.articles_alias
        # the batch must be searchable; refreshing only the indices it went to spares the
        # others a refresh per batch (measured: rules halved indexing throughput before)
        await self.es.indices.refresh(index=sorted(indices) if indices else alias)
        for start in range(0, len(rules), RULES_PER_REQUEST):
            chunk = rules[start : start + RULES_PER_REQUEST]
            searches: list[dict[str, Any]] = []
            for rule in chunk:
                query = article_query(
                    rule.query,
                    topics=rule.topics,
                    langs=rule.languages,
                    feeds=rule.feeds,
                    ids=list(by_id),
                )
                searches += [
                    {"index": alias},
                    {"query": query, "size": len(by_id), "_source": False},
                ]
            resp = await self.es.msearch(searches=searches)
            for rule, answer in zip(chunk, resp["responses"], strict=True):
                if "error" in answer:
                    reason = answer["error"].get("reason") or answer["error"].get("type")
                    log.warning("rule %s: the server refused its query: %s", rule.id, reason)
                    continue
                hits = [by_id[h["_id"]] for h in answer["hits"]["hits"] if h["_id"] in by_id]
                if isinstance(rule, VolumeRule):
                    if hits:
                        result.volume[rule.id] = len(hits)
                    continue
                result.events += [event_for(rule, article) for article in hits]
        return result
