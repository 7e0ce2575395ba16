"""The one translation of a query-string search into Elasticsearch's query DSL.

`mediamon search`, alert rules and `mediamon rules test` all call it, so a rule matches
exactly what the same search finds. Fields are left to the index's `query.default_field`
(title, text and their per-language copies): what Kibana's search bar searches too.
Kibana must use the same default operator (AND); `mediamon setup kibana` sets it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

DEFAULT_OPERATOR = "AND"


def text_clause(query: str) -> dict[str, Any] | None:
    if not query.strip() or query.strip() == "*":
        return None
    return {
        "query_string": {
            "query": query,
            "default_operator": DEFAULT_OPERATOR,
            "analyze_wildcard": True,
        }
    }


def article_query(
    query: str,
    *,
    topics: Sequence[str] = (),
    langs: Sequence[str] = (),
    feeds: Sequence[str] = (),
    since: datetime | None = None,
    ids: Sequence[str] = (),
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if ids:
        filters.append({"ids": {"values": list(ids)}})
    if topics:
        filters.append({"terms": {"topics": list(topics)}})
    if langs:
        filters.append({"terms": {"lang": list(langs)}})
    if feeds:
        filters.append({"terms": {"feed_id": list(feeds)}})
    if since is not None:
        # an article without a publication date counts from when it was fetched
        undated = {"bool": {"must_not": {"exists": {"field": "published"}}}}
        filters.append(
            {
                "bool": {
                    "should": [
                        {"range": {"published": {"gte": since.isoformat()}}},
                        {
                            "bool": {
                                "filter": [
                                    undated,
                                    {"range": {"fetched_at": {"gte": since.isoformat()}}},
                                ]
                            }
                        },
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    clause = text_clause(query)
    return {"bool": {"must": [clause] if clause else [{"match_all": {}}], "filter": filters}}
