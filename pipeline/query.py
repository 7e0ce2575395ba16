"""The one translation of a query-string search into Elasticsearch's query DSL.

`mediamon search`, alert rules and `mediamon rules test` all call it, so a rule matches
exactly what the same search finds. Fields are left to the index's `query.default_field`
(title, text and their per-language copies): what Kibana's search bar searches too.
Kibana must use the same default operator (AND); `mediamon setup kibana` sets it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

DEFAULT_OPERATOR = "AND"
_ESCAPED = re.compile(r"\\.")
_QUOTED = re.compile(r'"[^"]*"')
_DANGLING = re.compile(r"(^|\s)(AND|OR)\s*$|^\s*(AND|OR)(\s|$)|(AND|OR|NOT)\s+(AND|OR)(\s|$)")


class QuerySyntaxError(ValueError):
    """A query Elasticsearch would refuse, with where: `at` is a 0-based character offset."""

    def __init__(self, message: str, query: str, at: int | None = None) -> None:
        self.reason = message
        self.query = query
        self.at = at
        where = f" (at character {at + 1})" if at is not None else ""
        super().__init__(f"{message}{where}")

    def pointer(self) -> str:
        """The query and a caret under the problem, for a terminal or a <pre>."""
        if self.at is None:
            return self.query
        return f"{self.query}\n{' ' * self.at}^"


def _blank(query: str, pattern: re.Pattern[str], fill: str = " ") -> str:
    """`query` with what `pattern` matches overwritten by `fill`: offsets stay true."""
    return pattern.sub(lambda m: fill * len(m.group(0)), query)


def check_query_syntax(query: str) -> str:
    """Offline checks of the query-string syntax that rules, `mediamon search` and the web
    page share, so a bad query is explained before it reaches Elasticsearch (whose 400 is
    an escaped Java message). The server stays the authority for what passes."""
    if not query.strip():
        raise QuerySyntaxError("the query is empty", query)
    unescaped = _blank(query, _ESCAPED, "e")
    quotes = [i for i, c in enumerate(unescaped) if c == '"']
    if len(quotes) % 2:
        message = "unterminated double quote: '\"' without its pair"
        raise QuerySyntaxError(message, query, quotes[-1])
    unquoted = _blank(unescaped, _QUOTED, "q")  # a phrase is a term: "( )" AND x is fine
    empty = re.search(r"\(\s*\)", unquoted)
    if empty:
        raise QuerySyntaxError("empty parentheses '()'", query, empty.start())
    opened: list[int] = []
    for i, char in enumerate(unquoted):
        if char == "(":
            opened.append(i)
        elif char == ")":
            if not opened:
                raise QuerySyntaxError("')' without '('", query, i)
            opened.pop()
    if opened:
        raise QuerySyntaxError("'(' without ')'", query, opened[-1])
    slashes = [i for i, c in enumerate(unquoted) if c == "/"]
    if len(slashes) % 2:
        # Lucene reads /.../ as a regular expression: a lone slash opens one that never ends
        raise QuerySyntaxError(
            "a lone '/' starts a regular expression: write \\/", query, slashes[-1]
        )
    dangling = _DANGLING.search(unquoted)
    if dangling:
        raise QuerySyntaxError("AND/OR needs a term on both sides", query, dangling.start(0))
    return query


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
    domains: Sequence[str] = (),
    since: datetime | None = None,
    ids: Sequence[str] = (),
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if domains:
        filters.append({"terms": {"domain": list(domains)}})
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
