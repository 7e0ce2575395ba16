"""Outbound HTTP is bounded: feeds (connector) and alert channels (webhook, Slack) against a
local aiohttp server that loops redirects, sends endless or oversized bodies, answers slowly,
or is named by a non-http URL."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from pipeline.adapters import http
from pipeline.adapters.http import MAX_REDIRECTS, fetch, make_client
from pipeline.alerts.channels import ChannelContext, make_channel
from pipeline.alerts.channels.slack import SlackConfig
from pipeline.alerts.channels.webhook import WebhookConfig
from pipeline.errors import ChannelConfigError, DeliveryError, PermanentError, TransientError
from pipeline.settings import Settings
from tests.notes import sample_note
from tests.support.aioserver import serve

MAX_BYTES = 100_000


class Server:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.sent: dict[str, int] = {}  # body bytes written per path
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path == "/loop":
            raise web.HTTPFound(self.url("/loop"))
        if path == "/to-file":
            raise web.HTTPFound("file:///etc/passwd")
        if path == "/to-ftp":
            raise web.HTTPFound("ftp://127.0.0.1/feed.xml")
        if path == "/declared-huge":
            resp = web.StreamResponse(headers={"Content-Length": str(10**9)})
            await resp.prepare(request)
            await self._write(request, resp, path, 10**9)
            return resp
        if path == "/endless":  # chunked, no length: stops only when the client goes
            resp = web.StreamResponse()
            await resp.prepare(request)
            await self._write(request, resp, path, 10**9)
            return resp
        if path == "/gzip-bomb":
            body = gzip.compress(b"<rss>" + b" " * 50 * MAX_BYTES)
            return web.Response(body=body, headers={"Content-Encoding": "gzip"})
        if path == "/slow-headers":
            await asyncio.sleep(3)
            return web.Response(text="late")
        if path == "/trickle":  # each byte well within the read timeout, never finished
            resp = web.StreamResponse(headers={"Content-Length": "1000"})
            await resp.prepare(request)
            for _ in range(1000):
                await resp.write(b" ")
                await asyncio.sleep(0.2)
            return resp
        return web.Response(text="ok")

    async def _write(
        self, request: web.Request, resp: web.StreamResponse, path: str, total: int
    ) -> None:
        chunk = b"x" * 65536
        try:
            while self.sent.get(path, 0) < total:
                await resp.write(chunk)
                self.sent[path] = self.sent.get(path, 0) + len(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client hung up: that is the point


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    async with serve(srv.handle, "*") as srv.port:
        yield srv


SETTINGS = Settings(http_timeout=1.0, http_total_timeout=1.5)


async def _fetch(url: str) -> Any:
    async with make_client(SETTINGS) as client:
        return await fetch(client, url, MAX_BYTES, total_timeout=SETTINGS.http_total_timeout)


# --- feeds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "gopher://127.0.0.1/", "/feed.xml"]
)
async def test_feed_urls_other_than_http_are_refused_without_a_request(url: str) -> None:
    with pytest.raises(PermanentError, match="only http/https"):
        await _fetch(url)


@pytest.mark.parametrize("path", ["/to-file", "/to-ftp"])
async def test_a_redirect_to_another_scheme_is_not_followed(server: Server, path: str) -> None:
    with pytest.raises(PermanentError, match="redirected to a URL that is not http/https"):
        await _fetch(server.url(path))
    assert server.hits == {path: 1}


async def test_a_redirect_loop_stops_after_the_cap(server: Server) -> None:
    with pytest.raises(PermanentError, match=f"more than {MAX_REDIRECTS} redirects"):
        await _fetch(server.url("/loop"))
    assert server.hits["/loop"] == MAX_REDIRECTS + 1


@pytest.mark.parametrize("path", ["/declared-huge", "/endless", "/gzip-bomb"])
async def test_bodies_over_the_limit_are_refused_early(server: Server, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(PermanentError, match=f"{MAX_BYTES}"):
        await _fetch(server.url(path))
    assert time.monotonic() - started < 5
    await asyncio.sleep(0.1)
    assert server.sent.get(path, 0) < 50 * MAX_BYTES  # nowhere near what the server had


async def test_a_server_slow_to_answer_times_out(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(TransientError, match="ReadTimeout"):
        await _fetch(server.url("/slow-headers"))
    assert time.monotonic() - started < 2.5


async def test_a_trickling_body_is_bounded_by_the_total_timeout(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(TransientError, match="no complete answer within"):
        await _fetch(server.url("/trickle"))
    assert time.monotonic() - started < 3


# --- alert channels -------------------------------------------------------------------------

NOTE = sample_note()


async def _deliver(config: WebhookConfig | SlackConfig) -> None:
    async with httpx.AsyncClient(follow_redirects=True) as client:  # even so: not followed
        await make_channel(config, ChannelContext(Settings(), client)).send(NOTE)


def _hook(url: str) -> WebhookConfig:
    return WebhookConfig(type="webhook", url=url)


async def test_webhook_redirects_are_not_followed(server: Server) -> None:
    with pytest.raises(DeliveryError, match="answered 302"):
        await _deliver(_hook(server.url("/loop")))
    assert server.hits == {"/loop": 1}


async def test_webhook_answer_body_is_not_read(server: Server) -> None:
    started = time.monotonic()
    await _deliver(_hook(server.url("/endless")))  # 200 with an endless body: delivered
    assert time.monotonic() - started < 5
    await asyncio.sleep(0.1)
    assert server.sent.get("/endless", 0) < 10**8


async def test_webhook_total_time_is_bounded(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "CHANNEL_TOTAL_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="no answer within"):
        await _deliver(_hook(server.url("/slow-headers")))
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "file:///tmp/hook", "127.0.0.1/x"])
async def test_slack_url_must_be_http(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_OUT_SLACK_URL", url)
    with pytest.raises(ChannelConfigError, match="not an http") as caught:
        await _deliver(SlackConfig(type="slack", url_env="MM_OUT_SLACK_URL"))
    assert url not in str(caught.value)  # the variable's name, never its value


def test_webhook_channel_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="http"):
        _hook("file:///etc/passwd")
