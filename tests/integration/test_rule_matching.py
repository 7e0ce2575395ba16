"""Rule matching on the real server: many rules per search as named queries give the same
(rule, article) pairs as one search per rule, filters included; a rule the server refuses
costs only itself, not the nine rules searched with it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from pipeline.adapters.elastic import make_client
from pipeline.alerts.matching import RULES_PER_SEARCH, RuleMatcher
from pipeline.alerts.rules import KeywordRule, RuleSet
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.indexing.layout import ensure_articles_index
from pipeline.schema import EnrichedArticle
from tests.integration.conftest import Env

ARTICLES = [
    EnrichedArticle(
        id="ru1",
        lang="ru",
        topics=["syria", "astana_process"],
        title="Переговоры в Астане",
        text="Делегации обсудили режим прекращения огня в Сирии.",
    ),
    EnrichedArticle(
        id="en1",
        lang="en",
        topics=["un"],
        title="UN envoy on the ceasefire",
        text="The ceasefire in Syria holds, the envoy said in Geneva.",
    ),
    EnrichedArticle(
        id="tr1",
        lang="tr",
        topics=["syria"],
        title="Astana görüşmeleri",
        text="Suriye'de ateşkes konuşuldu.",
    ),
]


class FixedRules:
    """The matcher's rules source, here without a file (the refused rule passes no offline
    check a file would apply: the server is the only judge of a regular expression)."""

    def __init__(self, rules: list[KeywordRule]) -> None:
        self.ruleset = RuleSet(rules=rules)

    def current(self) -> RuleSet:
        return self.ruleset


def test_named_queries_match_like_one_search_per_rule(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    rules = [
        KeywordRule(id="inflected", query="Сирия AND Астана"),  # «Сирии», «Астане»
        KeywordRule(id="ceasefire-en", query="ceasefire", languages=["en"]),
        KeywordRule(id="ceasefire-any", query="ceasefire OR ateşkes OR прекращения"),
        KeywordRule(id="un-topic", query="*", topics=["un"]),
        KeywordRule(id="phrase", query='"envoy said"'),
        KeywordRule(id="wildcard", query="Gene*"),
        KeywordRule(id="negated", query="ceasefire NOT Geneva"),
        KeywordRule(id="feed-filter", query="Astana", feeds=["no-such-feed"]),
        KeywordRule(id="refused", query="/[unclosed/"),
    ]
    # padding rules that match nothing put the refused rule inside a full search of ten
    rules += [KeywordRule(id=f"none-{i}", query=f"zzqx{i}") for i in range(2 * RULES_PER_SEARCH)]
    expected = {
        ("inflected", "ru1"),
        ("ceasefire-en", "en1"),
        ("ceasefire-any", "en1"),
        ("ceasefire-any", "tr1"),
        ("ceasefire-any", "ru1"),
        ("un-topic", "en1"),
        ("phrase", "en1"),
        ("wildcard", "en1"),
    }

    async def scenario() -> set[tuple[str, str]]:
        es = make_client(env.settings)
        try:
            await ensure_articles_index(es, env.settings)
            indexer = ArticleIndexer(es, env.settings)
            report = await indexer.index(ARTICLES)
            matcher = RuleMatcher(es, env.settings, FixedRules(rules))
            before = datetime.now(UTC)
            result = await matcher.match(ARTICLES, report.indices)
            assert all(e.matched_at >= before for e in result.events)
            return {(e.rule_id, e.article_id) for e in result.events}
        finally:
            await es.close()

    with caplog.at_level(logging.WARNING, logger="pipeline.alerts.matching"):
        pairs = asyncio.run(scenario())
    assert pairs == expected
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].startswith("rule refused:")
