"""Matching enriched articles against the enabled keyword rules, in batches.

The local Elasticsearch (integ-test-zip) has no percolator module, so a batch is matched
the other way round: once the batch is indexed and refreshed, the rules' queries run as
searches restricted to the batch's ids (one _msearch, ten rules per search as named
queries). The query, the analyzers and the index are exactly those of `mediamon search` and
Kibana, so a rule matches what the same search finds, inflected forms included. A rule whose
query the server refuses is logged and skipped; the other rules still match.

Only the rules a batch can match are searched: the pre-selection (pipeline.alerts.presearch)
compares each rule's required terms with the batch's indexed terms, and a batch no rule can
match costs no refresh and no search at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

from pipeline.adapters.elastic import ElasticWork
from pipeline.alerts import terms
from pipeline.alerts.presearch import (
    BatchFacts,
    BatchTerms,
    Presearcher,
    needs_of,
    texts_to_analyse,
)
from pipeline.alerts.rules import KeywordRule, RuleSet, VolumeRule, load_rules
from pipeline.metrics import RULES_PRESELECTED
from pipeline.query import article_query
from pipeline.schema import AlertEvent, EnrichedArticle, carry_over, utcnow

log = logging.getLogger(__name__)
# Rules per search of the batch's _msearch, as named queries. One search per rule cost a
# shard-level search each (1,000 per batch); more than ~10 per search moves the cost into the
# fetch phase, where matched_queries is computed (docs/benchmarks/alerts.md).
RULES_PER_SEARCH = 10


class RuleSource(Protocol):
    def current(self) -> RuleSet: ...


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


def event_for(
    rule: KeywordRule, article: EnrichedArticle, matched_at: datetime | None = None
) -> AlertEvent:
    """The event: the article's own fields by name (title, url, topics, enriched_at, ...),
    the rule's, and the once-per-pair id."""
    return carry_over(
        article,
        AlertEvent,
        id=f"{rule.id}:{article.id}",
        rule_id=rule.id,
        rule_name=rule.name or rule.id,
        article_id=article.id,
        story_id=article.story_id or article.id,
        matched_at=matched_at or utcnow(),
        channels=rule.channels,
    )


@dataclass(eq=False, repr=False)
class RuleMatcher(ElasticWork):
    rules: RuleSource
    presearch: bool = field(init=False)  # the settings' alert_presearch; benchmarks vary it
    # per index, for `_ruleset`
    _presearchers: dict[str, tuple[Presearcher, terms.IndexFields]] = field(
        default_factory=dict, init=False
    )
    _ruleset: RuleSet | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.presearch = self.settings.alert_presearch

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
                await self.wait(delay)
                delay = min(delay * 2, 30.0)

    async def _match(
        self, articles: list[EnrichedArticle], indices: set[str] | None
    ) -> MatchResult:
        ruleset = self.rules.current()
        rules = ruleset.enabled()
        result = MatchResult()
        if not rules or not articles:
            return result
        by_id = {a.id: a for a in articles}
        if self.presearch and indices:
            rules = await self._preselect(ruleset, rules, articles, indices)
            if not rules:
                return result
        alias = self.settings.articles_alias
        # the batch must be searchable; refreshing only the indices it went to spares the
        # others a refresh per batch (measured: rules halved indexing throughput before)
        await self.es.indices.refresh(index=sorted(indices) if indices else alias)
        chunks = [rules[i : i + RULES_PER_SEARCH] for i in range(0, len(rules), RULES_PER_SEARCH)]
        searches: list[dict[str, Any]] = []
        for chunk in chunks:
            searches += [{"index": alias}, named_search(chunk, list(by_id))]
        resp = await self.es.msearch(searches=searches)
        found: dict[str, list[str]] = {}
        for chunk, answer in zip(chunks, resp["responses"], strict=True):
            if "error" in answer:
                # one refused query fails its whole search: match those rules one by one so
                # the refused one is logged and skipped and the others still match
                found |= await self._one_by_one(alias, chunk, list(by_id))
                continue
            for hit in answer["hits"]["hits"]:
                for name in hit.get("matched_queries", []):
                    found.setdefault(name, []).append(hit["_id"])
        # stamped once the whole batch is matched: the events are produced right after
        matched_at = utcnow()
        for rule in rules:
            hits = [by_id[i] for i in found.get(rule.id, []) if i in by_id]
            if isinstance(rule, VolumeRule):
                if hits:
                    result.volume[rule.id] = len(hits)
                continue
            result.events += [event_for(rule, article, matched_at) for article in hits]
        return result

    async def _preselect(
        self,
        ruleset: RuleSet,
        rules: list[KeywordRule | VolumeRule],
        articles: list[EnrichedArticle],
        indices: set[str],
    ) -> list[KeywordRule | VolumeRule]:
        """The rules this batch can match (in their order), from the indexed terms of the
        batch's documents in each index it went to."""
        if ruleset is not self._ruleset:
            self._ruleset, self._presearchers = ruleset, {}
        chosen: set[str] = set()
        for index in sorted(indices):
            built = self._presearchers.get(index)
            if built is None:
                built = await self._build(rules, index)
                self._presearchers[index] = built
            presearcher, fields = built
            try:
                batch = await terms.batch_terms(self.es, index, fields, articles)
            except terms.TermVectorsError as exc:
                log.warning("rules: no terms for the batch (%s): every rule searched", exc)
                return rules
            facts = BatchFacts(
                BatchTerms(batch),
                languages={a.lang for a in articles if a.lang},
                topics={t for a in articles for t in a.topics},
                feeds={a.feed_id for a in articles if a.feed_id},
            )
            chosen |= set(presearcher.candidates(facts))
        RULES_PRESELECTED.labels("searched").inc(len(chosen))
        RULES_PRESELECTED.labels("skipped").inc(len(rules) - len(chosen))
        return [r for r in rules if r.id in chosen]

    async def _build(
        self, rules: list[KeywordRule | VolumeRule], index: str
    ) -> tuple[Presearcher, terms.IndexFields]:
        fields = await terms.index_fields(self.es, index)
        analysed = await terms.analyse(self.es, index, fields, _texts(rules))
        presearcher = Presearcher(
            [
                needs_of(
                    r.id,
                    r.query,
                    lambda text: analysed.get(text, {}),
                    languages=r.languages,
                    topics=r.topics,
                    feeds=r.feeds,
                )
                for r in rules
            ]
        )
        log.info(
            "rules: pre-selection over %s built for %d rules (%d run on every batch)",
            index,
            len(rules),
            len(presearcher.always),
        )
        return presearcher, fields

    async def _one_by_one(
        self, alias: str, rules: list[KeywordRule | VolumeRule], ids: list[str]
    ) -> dict[str, list[str]]:
        searches: list[dict[str, Any]] = []
        for rule in rules:
            query = article_query(
                rule.query, topics=rule.topics, langs=rule.languages, feeds=rule.feeds, ids=ids
            )
            searches += [{"index": alias}, {"query": query, "size": len(ids), "_source": False}]
        resp = await self.es.msearch(searches=searches)
        found: dict[str, list[str]] = {}
        for rule, answer in zip(rules, resp["responses"], strict=True):
            if "error" in answer:
                reason = answer["error"].get("reason") or answer["error"].get("type")
                log.warning("rule %s: the server refused its query: %s", rule.id, reason)
                continue
            found[rule.id] = [h["_id"] for h in answer["hits"]["hits"]]
        return found


def _texts(rules: list[KeywordRule | VolumeRule]) -> set[str]:
    return texts_to_analyse(r.query for r in rules)


def named_search(rules: list[KeywordRule | VolumeRule], ids: list[str]) -> dict[str, Any]:
    """One search for several rules over the batch: each rule's query is a named clause, and
    every hit lists the rules it satisfies (`matched_queries`)."""
    should = []
    for rule in rules:
        query = article_query(
            rule.query, topics=rule.topics, langs=rule.languages, feeds=rule.feeds
        )
        query["bool"]["_name"] = rule.id
        should.append(query)
    return {
        "query": {
            "bool": {
                "filter": [{"ids": {"values": ids}}],
                "should": should,
                "minimum_should_match": 1,
            }
        },
        "size": len(ids),
        "_source": False,
    }
