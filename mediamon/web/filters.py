"""The page's filters, read from the URL (`/?q=&topic=&lang=&source=&since=`) so a view can be
shared, bounded (everything in a URL is attacker-controlled) and checked with the same code
the rules and `mediamon search` use before anything reaches Elasticsearch."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from mediamon.search import span_start
from pipeline.query import QuerySyntaxError, article_query, check_query_syntax

MAX_QUERY = 500  # characters; a longer query is cut, and the page says so
_NAME = re.compile(r"^[\w.\-:]{1,100}$")  # topic ids, language codes, domains
SPANS = ("1h", "24h", "7d", "30d", "365d")


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    topic: str = ""
    lang: str = ""
    source: str = ""
    since: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Filters:
        def name(key: str) -> str:
            value = str(params.get(key, "")).strip()
            return value if _NAME.match(value) else ""

        return cls(
            q=str(params.get("q", ""))[:MAX_QUERY].strip(),
            topic=name("topic"),
            lang=name("lang"),
            source=name("source"),
            since=name("since"),
        )

    def problem(self) -> QuerySyntaxError | None:
        """Why this search cannot run, pointing at the place, or None."""
        if self.since:
            try:
                span_start(self.since)
            except ValueError as exc:
                return QuerySyntaxError(f"since: {exc}", self.since)
        if self.q and self.q != "*":
            try:
                check_query_syntax(self.q)
            except QuerySyntaxError as exc:
                return exc
        return None

    def query(self) -> dict[str, Any]:
        return article_query(
            self.q,
            topics=[self.topic] if self.topic else (),
            langs=[self.lang] if self.lang else (),
            domains=[self.source] if self.source else (),
            since=span_start(self.since) if self.since else None,
        )

    def params(self, **changes: str) -> dict[str, str]:
        """The non-empty filters, with `changes` applied (an empty value removes one)."""
        return {k: v for k, v in (asdict(self) | changes).items() if v}

    def url(self, **changes: str) -> str:
        """The front page's URL for these filters with `changes`."""
        params = self.params(**changes)
        return "/?" + urlencode(params) if params else "/"

    @property
    def active(self) -> bool:
        return any(asdict(self).values())
