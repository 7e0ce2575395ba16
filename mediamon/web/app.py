"""`mediamon web`: the live page, a small Starlette app reading Elasticsearch.

Routes: `/` (newest stories, counters, charts; filters in the URL), `/article/{id}` (the
text with each topic's evidence marked, the story's other copies), `/events` (server-sent
events: articles indexed since the page was drawn, for the same filters), `/static/*`
(scripts and styles shipped in the package), `/healthz`. Read-only; see guard.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from connectors.state import FeedState, StateStore
from mediamon.search import span_start
from mediamon.web import charts, reading
from mediamon.web.filters import SPANS, Filters
from mediamon.web.guard import Guard, RateLimit
from pipeline.adapters.elastic import make_client
from pipeline.alerts.backtest import rule_matches
from pipeline.alerts.catalog import RulesCatalog
from pipeline.query import QuerySyntaxError
from pipeline.settings import Settings

HERE = Path(__file__).parent
LIVE_POLL_SECONDS = 0.5  # with the index's 1 s refresh: on the page at most ~1.5 s later
LIVE_OVERLAP = timedelta(seconds=5)  # a late write stamped before the cursor still shows
KEEPALIVE_SECONDS = 15.0
LIVE_BATCH = 200  # rows per look
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every title and text is attacker-controlled
        undefined=jinja2.StrictUndefined,
    )
    env.filters["tojson_attr"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


class Web:
    def __init__(self, settings: Settings, es: AsyncElasticsearch | None = None) -> None:
        self.settings = settings
        self._es = es
        self.templates = _templates()
        self.searches = RateLimit(settings.web_searches_per_minute)
        self.streams = 0
        self.rules = RulesCatalog(settings, publish=False)

    @property
    def es(self) -> AsyncElasticsearch:
        if self._es is None:
            self._es = make_client(self.settings)
        return self._es

    async def close(self) -> None:
        if self._es is not None:
            await self._es.close()

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(spans=SPANS, **context)
        return HTMLResponse(html, status)

    def unavailable(self, exc: Exception, filters: Filters) -> HTMLResponse:
        if isinstance(exc, ESConnectionError):
            why = f"Elasticsearch is not reachable at {self.settings.es_url} (mediamon stack up?)"
        else:
            why = f"Elasticsearch refused the request ({type(exc).__name__})"
        return self.page("index.html", 503, filters=filters, front=None, problem=None, down=why)

    async def index(self, request: Request) -> Response:
        filters = Filters.from_params(request.query_params)
        problem = filters.problem()
        if problem is not None:
            return self.page(
                "index.html", 400, filters=filters, front=None, problem=problem, down=None
            )
        if filters.q and not self.searches.allow(_client(request)):
            return self.page(
                "index.html", 429, filters=filters, front=None, down=None,
                problem=QuerySyntaxError("too many searches from here; wait a minute", ""),
            )  # fmt: skip
        try:
            front = await reading.front(self.es, self.settings.articles_alias, filters)
        except ApiError as exc:
            if exc.meta.status == 400 and filters.q:  # the offline check let it through
                problem = QuerySyntaxError("Elasticsearch cannot parse this query", filters.q)
                return self.page(
                    "index.html", 400, filters=filters, front=None, problem=problem, down=None
                )
            return self.unavailable(exc, filters)
        except (ESConnectionError, TransportError) as exc:
            return self.unavailable(exc, filters)
        return self.page(
            "index.html",
            filters=filters,
            front=front,
            problem=None,
            down=None,
            topic_bars=charts.bars(front.topics),
            lang_bars=charts.bars(front.langs),
            source_bars=charts.bars(front.sources),
            timeline=charts.over_time(front.over_time),
            live_url=_live_url(filters, front.newest_indexed),
        )

    async def article(self, request: Request) -> Response:
        article_id = request.path_params["article_id"]
        filters = Filters()
        if not _ID.match(article_id):
            return self.page("missing.html", 404, filters=filters)
        try:
            found = await reading.article(self.es, self.settings.articles_alias, article_id)
        except (ApiError, ESConnectionError, TransportError) as exc:
            return self.unavailable(exc, filters)
        if found is None:
            return self.page("missing.html", 404, filters=filters)
        return self.page(
            "article.html",
            filters=filters,
            article=found,
            title_pieces=reading.marked(found.row["title"], found.evidence, "title"),
            text_pieces=reading.marked(found.text, found.evidence, "text"),
        )

    async def alerts(self, request: Request) -> Response:
        """Recent alerts by rule and status, the rules, and what one rule would have matched
        (the same code as `mediamon rules test`)."""
        filters = Filters()
        await self.rules.refresh(self.es)  # the file's rules and those in the alert-rules index
        ruleset = self.rules.current()
        rule_id = str(request.query_params.get("rule", ""))[:100]
        since = request.query_params.get("since", "7d")
        since = since if since in (*SPANS, "all") else "7d"
        rule = ruleset.get(rule_id) if rule_id else None
        try:
            alerts, counts = await reading.recent_alerts(self.es, self.settings.alerts_index)
            matches = []
            if rule is not None:
                if rule_id and not self.searches.allow(_client(request)):
                    return PlainTextResponse("too many searches from here", 429)
                matches = await rule_matches(
                    self.es,
                    self.settings.articles_alias,
                    [rule],
                    None if since == "all" else span_start(since),
                    100,
                )
        except (ApiError, ESConnectionError, TransportError) as exc:
            return self.unavailable(exc, filters)
        by_rule: dict[str, dict[str, int]] = {}
        for rid, status, n in counts:
            by_rule.setdefault(rid, {})[status] = n
        return self.page(
            "alerts.html",
            filters=filters,
            alerts=alerts,
            by_rule=by_rule,
            ruleset=ruleset,
            rules_file=str(self.settings.rules_file),
            rule=rule,
            rule_id=rule_id,
            since=since,
            matches=[m | {"url": reading.web_link(m["url"])} for m in matches],
        )

    async def feeds(self, request: Request) -> Response:
        """Health per feed, from the connector's state on this machine."""
        path = self.settings.connector_state_file
        states: list[FeedState] | None = None
        if path.exists():

            def read() -> list[FeedState]:
                store = StateStore(path)
                try:
                    return store.all_feeds()
                finally:
                    store.close()

            states = await asyncio.to_thread(read)
        return self.page("feeds.html", filters=Filters(), states=states, state_path=str(path))

    async def events(self, request: Request) -> Response:
        filters = Filters.from_params(request.query_params)
        if filters.problem() is not None:
            return PlainTextResponse("invalid filters", 400)
        after = reading.parse_time(request.query_params.get("after")) or datetime.now(UTC)
        # the page's newest time comes from a max aggregation, in milliseconds, while the
        # documents keep microseconds: what the page showed must not come again
        after += timedelta(milliseconds=1)
        if self.streams >= self.settings.web_live_streams:
            return PlainTextResponse("too many live pages open", 503, {"Retry-After": "30"})
        return StreamingResponse(
            self._stream(request, filters, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(
        self, request: Request, filters: Filters, after: datetime
    ) -> AsyncIterator[str]:
        """Every LIVE_POLL_SECONDS, the articles indexed since the last look. The look goes
        back LIVE_OVERLAP (a write stamped before the cursor may become visible after it)
        but never before the page was drawn, and ids already sent are skipped; a full
        answer (a burst) is read on from its newest row before sleeping."""
        self.streams += 1
        sent: deque[str] = deque(maxlen=5 * LIVE_BATCH)
        cursor, quiet, burst = after, 0.0, False
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                lower = cursor if burst else max(after, cursor - LIVE_OVERLAP)
                try:
                    rows = await reading.indexed_since(
                        self.es, self.settings.articles_alias, filters, lower.isoformat(),
                        size=LIVE_BATCH,
                    )  # fmt: skip
                except (ApiError, ESConnectionError, TransportError):
                    rows = []
                    yield "event: trouble\ndata: {}\n\n"
                for item in rows:
                    stamp = reading.parse_time(item["indexed_at"])
                    if stamp and stamp > cursor:
                        cursor = stamp
                    if item["id"] in sent:
                        continue
                    sent.append(item["id"])
                    yield f"event: article\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
                    quiet = 0.0
                burst = len(rows) >= LIVE_BATCH
                if burst:
                    continue
                quiet += LIVE_POLL_SECONDS
                if quiet >= KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    quiet = 0.0
                await asyncio.sleep(LIVE_POLL_SECONDS)
        finally:
            self.streams -= 1


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _live_url(filters: Filters, newest: str | None) -> str:
    params = filters.params()
    if newest:
        params["after"] = newest
    return "/events?" + urlencode(params)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(settings: Settings, es: AsyncElasticsearch | None = None) -> Any:
    web = Web(settings, es)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await web.close()

    app = Starlette(
        routes=[
            Route("/", web.index),
            Route("/article/{article_id}", web.article),
            Route("/alerts", web.alerts),
            Route("/feeds", web.feeds),
            Route("/events", web.events),
            Route("/healthz", healthz),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        lifespan=lifespan,
    )
    token = settings.web_token.get_secret_value() if settings.web_token else None
    return Guard(app, token)
