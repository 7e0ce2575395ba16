"""The demo's sample site: the sample server answers as an HTTP proxy for the sample outlets'
hosts only, from deploy/samples/site, never outside it; and every sample item has its page
there except the two the demo withholds on purpose (a consent wall, a 404)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from connectors.normalize import parse_feed
from deploy.feedserver import FeedServer, samples_dir, serve_feeds, site_dir, site_file
from pipeline.adapters.hosts import HostGate
from pipeline.adapters.http import make_client
from pipeline.adapters.pages import PageFetcher
from pipeline.settings import Settings
from pipeline.stages.extract import read_page


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with serve_feeds() as running:
        yield running


def _get(server: FeedServer, url: str) -> httpx.Response:
    with httpx.Client(proxy=server.proxy_url, timeout=10) as client:
        return client.get(url)


def _items() -> list[tuple[str, int]]:
    """(link, feed text length) of every sample item."""
    found = []
    for feed in sorted(samples_dir().iterdir()):
        for article in parse_feed(feed.read_bytes(), f"http://h/{feed.name}").articles:
            found.append((article.url, len(article.content_html or article.summary_html)))
    return found


def test_an_outlets_page_is_served_through_the_proxy(server: FeedServer) -> None:
    link = next(url for url, _ in _items() if "capitalwire.example" in url)
    answer = _get(server, link)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert f'<link rel="canonical" href="{link}"' in answer.text
    assert _get(server, "http://capitalwire.example/robots.txt").status_code == 200


def test_other_hosts_and_escapes_are_refused(server: FeedServer) -> None:
    assert _get(server, "http://internal.example/admin").status_code == 403
    assert _get(server, "http://capitalwire.example/no/such/page").status_code == 404
    for sneaky in ("/../feeds/wire-en.xml", "/%2e%2e/%2e%2e/pyproject.toml"):
        assert site_file(site_dir(), "capitalwire.example", sneaky) is None
    assert site_file(site_dir(), "..", "/feeds/wire-en.xml") is None
    # the feeds themselves are still served, directly and through the proxy
    direct = httpx.get(server.feed_urls()[0], timeout=10)
    assert direct.status_code == 200
    assert _get(server, server.feed_urls()[0]).content == direct.content


def test_every_short_sample_item_has_a_page_but_the_two_withheld() -> None:
    """Each page is an article the extractor reads in full, except one consent wall and one
    missing page (the demo shows both keep the feed's text and say why)."""
    missing, walls, short = [], [], []
    for link, feed_html in _items():
        if feed_html > 2000:  # long enough in the feed: `fetch: auto` never asks
            continue
        parts = urlsplit(link)
        page = site_file(site_dir(), parts.hostname or "", parts.path)
        if page is None:
            missing.append(link)
            continue
        found, problem = read_page(page.read_bytes(), "text/html; charset=utf-8", link)
        if problem == "consent_wall":
            walls.append(link)
        elif problem is not None or len(found.text) < 500:
            short.append((link, problem, len(found.text)))
    assert len(missing) == 1 and len(walls) == 1, (missing, walls)
    assert short == []


def test_the_fetch_code_reads_a_sample_page_through_the_proxy(
    server: FeedServer, tmp_path: Path
) -> None:
    """The demo's path: the connector's own client (guard on, proxy set) and extractor."""
    settings = Settings(http_proxy=server.proxy_url, allow_private_hosts="")
    link = next(url for url, _ in _items() if "globalaffairs.example" in url)

    async def go() -> tuple[object, str | None]:
        async with make_client(settings) as client:
            page = await PageFetcher(client, HostGate(0.0)).get(link)
        return read_page(page.body, page.content_type, page.url)

    found, problem = asyncio.run(go())
    assert problem is None
    assert len(getattr(found, "text", "")) > 500
