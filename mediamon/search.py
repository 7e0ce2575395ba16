"""`mediamon search`: query-string search over indexed articles, newest first."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from elastic_transport import ConnectionError as ESConnectionError
from elasticsearch import ApiError

from mediamon.output import err_console, print_json, print_table
from pipeline.adapters.elastic import make_client
from pipeline.errors import ConfigError, StackError
from pipeline.query import QuerySyntaxError, article_query, check_query_syntax
from pipeline.settings import get_settings

_SPAN = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def span_start(value: str) -> datetime:
    """The instant `value` (30m, 24h, 7d, 2w) ago; ValueError for anything else."""
    match = _SPAN.match(value.strip())
    if not match or len(match.group(1)) > 6:
        raise ValueError(f"a span like 30m, 24h or 7d, not {value!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return datetime.now(UTC) - timedelta(**{_UNITS[unit]: amount})


def parse_since(value: str) -> datetime:
    try:
        return span_start(value)
    except ValueError as exc:
        raise typer.BadParameter(f"--since takes {exc}") from None


def build_query(
    query: str, topics: list[str], langs: list[str], since: str | None
) -> dict[str, Any]:
    return article_query(
        query, topics=topics, langs=langs, since=parse_since(since) if since else None
    )


def refusal(exc: ApiError) -> str:
    """The server's own reason, not the escaped Java of the whole body."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", {})
    causes = error.get("root_cause") or [error] if isinstance(error, dict) else []
    reasons = [str(c.get("reason", "")) for c in causes if isinstance(c, dict)]
    return "; ".join(r for r in reasons if r) or f"HTTP {exc.meta.status}"


def search(
    query: str = typer.Argument("*", help='Query-string syntax: words, "phrases", AND/OR/NOT.'),
    topic: list[str] = typer.Option([], "--topic", help="Only these topics (repeatable)."),
    lang: list[str] = typer.Option([], "--lang", help="Only these languages (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Only newer than e.g. 24h, 7d."),
    limit: int = typer.Option(20, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Search indexed articles (title and text), newest first."""
    settings = get_settings()
    if query.strip() not in ("", "*"):
        try:
            check_query_syntax(query)
        except QuerySyntaxError as exc:
            err_console.print(f"[red]invalid query:[/red] {exc}")
            err_console.print(exc.pointer(), markup=False, highlight=False)
            raise typer.Exit(2) from None
    body = build_query(query, topic, lang, since)

    async def run() -> list[dict[str, Any]]:
        es = make_client(settings)
        try:
            resp = await es.search(
                index=settings.articles_alias,
                query=body,
                size=limit,
                sort=[{"published": {"order": "desc", "unmapped_type": "date"}}],
                source_excludes=["text", "topic_evidence"],
            )
        except ESConnectionError as exc:
            raise StackError(
                f"Elasticsearch is not reachable at {settings.es_url} (mediamon stack up?)"
            ) from exc
        except ApiError as exc:
            raise ConfigError(f"Elasticsearch refused the search: {refusal(exc)}") from exc
        finally:
            await es.close()
        return [hit["_source"] for hit in resp["hits"]["hits"]]

    hits = asyncio.run(run())
    if as_json:
        for hit in hits:
            print_json(hit)
        return
    print_table(
        f"{len(hits)} articles",
        ["published", "title", "source", "lang", "topics", "url"],
        [
            [
                (h.get("published") or "")[:16],
                (h.get("title") or "")[:70],
                h.get("source_name") or h.get("domain"),
                h.get("lang"),
                ",".join(h.get("topics", [])),
                h.get("url"),
            ]
            for h in hits
        ],
    )
