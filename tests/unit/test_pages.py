"""Article pages fetched politely and safely (pipeline/adapters/pages.py) from a local site
that misbehaves the way real ones do, and what the extractor makes of walls and encodings."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from pipeline.adapters.hosts import HostGate
from pipeline.adapters.http import RateLimitedError, make_client
from pipeline.adapters.pages import Page, PageFetcher, PageRefused
from pipeline.errors import TransientError
from pipeline.settings import Settings
from pipeline.stages.extract import decode_html, extract_article, page_problem

ARTICLE = (
    "<html><head><title>Talks</title></head><body><article><h1>Talks resume in Astana</h1>"
    + "<p>The delegations of Russia, Turkey and Iran met in Astana on Monday to discuss the "
    "ceasefire in Syria, the ministry said in a statement after the first session.</p>"
    * 6
    + "</article></body></html>"
)
CP1251 = (
    "<html><body><article>"
    + "<p>Делегации России, Турции и Ирана провели в Астане новый раунд переговоров по "
    "Сирии, сообщил источник агентства после первого заседания.</p>"
    * 5
    + "</article></body></html>"
).encode("cp1251")
CONSENT = (
    "<html><body><div class='cmp-container'><h2>We value your privacy</h2><p>We use cookies "
    "to personalise content. Accept all or manage your preferences.</p>"
    "<button>Accept all</button></div></body></html>"
)


class _Site(BaseHTTPRequestHandler):
    robots = "User-agent: *\nDisallow: /private/\n"
    robots_status = 200
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        routes: dict[str, Callable[[], None]] = {
            "/robots.txt": lambda: self._send(
                self.robots_status, self.robots.encode(), "text/plain"
            ),
            "/article": lambda: self._send(200, ARTICLE.encode(), "text/html; charset=utf-8"),
            "/cp1251": lambda: self._send(200, CP1251, "text/html"),  # no charset anywhere
            "/consent": lambda: self._send(200, CONSENT.encode(), "text/html"),
            "/gone": lambda: self._send(410, b"gone", "text/html"),
            "/missing": lambda: self._send(404, b"<h1>Page not found</h1>", "text/html"),
            "/huge": lambda: self._send(200, b"<p>" + b"x" * 3_000_000, "text/html"),
            "/pdf": lambda: self._send(200, b"%PDF-1.7", "application/pdf"),
            "/loop": lambda: self._redirect("/loop"),
            "/to-ftp": lambda: self._redirect("ftp://files.example/a"),
            "/busy": lambda: self._send(429, b"", "text/plain", {"Retry-After": "7"}),
            "/slow": self._slow,
            # one article under several addresses, a CMS that names its section on every
            # story, and a page that claims another site's address
            "/story?from=rss": lambda: self._article("/story"),
            "/amp/story": lambda: self._article(f"http://{self.headers['Host']}/story"),
            "/world/one": lambda: self._article("/world/"),
            "/world/two": lambda: self._article("/world/"),
            "/foreign": lambda: self._article("https://victim.example/story"),
            "/front": lambda: self._article("/"),
        }
        routes.get(self.path, lambda: self._send(404, b"", "text/html"))()

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _article(self, canonical: str) -> None:
        page = ARTICLE.replace("<title>", f'<link rel="canonical" href="{canonical}"><title>')
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _slow(self) -> None:
        time.sleep(3)
        self._send(200, ARTICLE.encode(), "text/html")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[tuple[str, list[str], type[_Site]]]:
    handler: type[_Site] = type("Site", (_Site,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen, handler
    server.shutdown()
    server.server_close()


def _run(job: Callable[[PageFetcher], Awaitable[Any]], **settings: Any) -> Any:
    async def go() -> Any:
        async with make_client(Settings(**settings)) as client:
            fetcher = PageFetcher(client, HostGate(0.0), max_bytes=1_000_000, total_timeout=1.5)
            return await job(fetcher)

    return asyncio.run(go())


def _get(url: str) -> Page:
    result: Page = _run(lambda f: f.get(url))
    return result


def test_an_article_page_is_fetched_and_extracted(site: tuple[str, list[str], Any]) -> None:
    base, seen, _ = site
    page = _get(f"{base}/article")
    found = extract_article(decode_html(page.body, page.content_type), page.url)
    assert "ceasefire in Syria" in found.text and page_problem(ARTICLE, found) is None
    assert seen == ["/robots.txt", "/article"]


def test_a_windows_1251_page_without_a_charset_is_read(site: tuple[str, list[str], Any]) -> None:
    base, _, _ = site
    page = _get(f"{base}/cp1251")
    found = extract_article(decode_html(page.body, page.content_type))
    assert "переговоров по Сирии" in found.text and found.lang == "ru"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/private/report", "robots"),
        ("/gone", "http_4xx"),
        ("/missing", "http_4xx"),
        ("/huge", "too_large"),
        ("/pdf", "not_html"),
        ("/loop", "redirects"),
        ("/to-ftp", "scheme"),
    ],
)
def test_pages_that_cannot_be_had_say_why(
    site: tuple[str, list[str], Any], path: str, reason: str
) -> None:
    base, seen, _ = site
    with pytest.raises(PageRefused) as caught:
        _get(base + path)
    assert caught.value.reason == reason
    if reason == "robots":
        assert path not in seen  # disallowed: never requested


def test_slow_and_busy_hosts_are_transient_and_busy_ones_wait(
    site: tuple[str, list[str], Any],
) -> None:
    base, _, _ = site
    with pytest.raises(TransientError, match="no complete answer"):
        _get(f"{base}/slow")

    async def busy(fetcher: PageFetcher) -> float:
        with pytest.raises(RateLimitedError) as caught:
            await fetcher.get(f"{base}/busy")
        assert caught.value.retry_after == 7
        return fetcher.gate._next[base.removeprefix("http://")] - time.monotonic()

    assert _run(busy) > 6  # the next request to that host waits for Retry-After


def test_robots_txt_rules_errors_and_absence(site: tuple[str, list[str], Any]) -> None:
    """RFC 9309: Crawl-delay spaces the host; a robots.txt answering 5xx holds every page
    back; one answering 404 allows every page."""
    base, seen, handler = site
    host = base.removeprefix("http://")
    handler.robots = "User-agent: *\nCrawl-delay: 2\n"

    async def spaced(fetcher: PageFetcher) -> float:
        await fetcher.get(f"{base}/article")
        return fetcher.gate._spacing[host]

    assert _run(spaced) == 2.0
    handler.robots_status = 503
    with pytest.raises(PageRefused) as caught:
        _get(f"{base}/article")
    assert caught.value.reason == "robots"
    handler.robots_status = 404
    seen.clear()
    assert _get(f"{base}/article").body.startswith(b"<html>")
    assert seen == ["/robots.txt", "/article"]


def test_a_consent_wall_is_not_an_article(site: tuple[str, list[str], Any]) -> None:
    base, _, _ = site
    page = _get(f"{base}/consent")
    html = decode_html(page.body, page.content_type)
    assert page_problem(html, extract_article(html)) == "consent_wall"


def test_a_redirect_to_loopback_is_refused_when_private_addresses_are(
    site: tuple[str, list[str], Any],
) -> None:
    base, seen, _ = site
    with pytest.raises(PageRefused) as caught:
        _run(lambda f: f.get(f"{base}/article"), allow_private_hosts="")
    assert caught.value.reason == "blocked_address"
    assert seen == []  # nothing reached the site, not even robots.txt


def test_the_client_sends_a_descriptive_user_agent() -> None:
    client = make_client(Settings())
    assert "mediamon" in client.headers["User-Agent"]
    assert isinstance(client, httpx.AsyncClient)


def test_items_with_a_teaser_get_their_page_and_keep_their_feed_text_otherwise(
    site: tuple[str, list[str], Any],
) -> None:
    from connectors.feeds import FeedConfig
    from connectors.pages import ArticlePages
    from pipeline.schema import RawArticle
    from pipeline.stages.enrich import Enricher

    base, seen, _ = site
    teaser = "<p>Talks resume.</p>"
    items = [
        RawArticle(id="a", url=f"{base}/article", title="Talks", summary_html=teaser),
        RawArticle(id="b", url=f"{base}/gone", title="Gone", summary_html=teaser),
        RawArticle(id="c", url=f"{base}/consent", title="Wall", summary_html=teaser),
        RawArticle(id="d", url=f"{base}/article", title="Long", summary_html="<p>x</p>" * 200),
    ]
    feed = FeedConfig(id="site", url=f"{base}/feed.xml")

    async def attach(feed: FeedConfig) -> list[RawArticle]:
        async with make_client(Settings()) as client:
            fetcher = PageFetcher(client, HostGate(0.0, per_host=4))
            pages = ArticlePages(fetcher, Settings(fetch_min_chars=500), None)
            return await pages.attach(feed, items)

    page, gone, wall, long = asyncio.run(attach(feed))
    assert (page.text_source, page.page_problem) == ("page", None)
    assert "ceasefire in Syria" in page.page_text
    assert (gone.text_source, gone.page_problem, gone.summary_html) == ("feed", "http_4xx", teaser)
    assert (wall.text_source, wall.page_problem) == ("feed", "consent_wall")
    assert long.text_source == "feed" and long.page_problem is None  # long enough: not asked
    assert seen.count("/article") == 1
    enriched = Enricher.from_path(None).enrich(page)
    assert enriched.content_from == "page" and "syria" in enriched.topics
    evidence = enriched.topic_evidence["syria"][0]
    assert enriched.text[evidence["start"] : evidence["end"]] == evidence["text"]
    seen.clear()
    never = asyncio.run(attach(FeedConfig(id="site", url=f"{base}/f", fetch="never")))
    assert seen == [] and all(a.text_source == "feed" for a in never)


def test_pages_waiting_for_a_spaced_host_do_not_hold_up_other_hosts(
    site: tuple[str, list[str], Any],
) -> None:
    """Four pages of one host wait their turns, one second apart; with two downloads allowed
    at once, a page of another host (the same server by another name) is not stuck behind
    them: it comes back before the first host's second page."""
    base, _, _ = site
    other = base.replace("127.0.0.1", "localhost")
    done: list[str] = []

    async def go() -> None:
        async with make_client(Settings()) as client:
            fetcher = PageFetcher(client, HostGate(1.0), concurrency=2)
            await fetcher.get(f"{base}/article")  # robots.txt read, first turn taken
            await fetcher.get(f"{other}/article")

            async def one(url: str, label: str) -> None:
                await fetcher.get(url)
                done.append(label)

            spaced = [one(f"{base}/article", f"first-{n}") for n in range(3)]
            await asyncio.gather(*spaced, one(f"{other}/article", "other"))

    asyncio.run(go())
    assert done.index("other") < done.index("first-1"), done


def test_one_article_reached_by_several_links_gets_one_id_from_its_page(
    site: tuple[str, list[str], Any],
) -> None:
    """Two feeds link one story by different addresses; its page names its canonical URL,
    which becomes the id of both copies. A canonical naming another site, the front page,
    or one section for two stories of one poll is not the article's address: those items
    keep the ids their feeds gave them."""
    from connectors.feeds import FeedConfig
    from connectors.pages import ArticlePages
    from pipeline.schema import RawArticle
    from pipeline.stages.canonical import article_id
    from pipeline.stages.enrich import Enricher

    base, _, _ = site
    teaser = "<p>Talks resume.</p>"

    def item(path: str) -> RawArticle:
        return RawArticle(id=article_id(f"{base}{path}"), url=f"{base}{path}", summary_html=teaser)

    async def attach(items: list[RawArticle]) -> list[RawArticle]:
        async with make_client(Settings()) as client:
            fetcher = PageFetcher(client, HostGate(0.0, per_host=4))
            pages = ArticlePages(fetcher, Settings(fetch_min_chars=500), None)
            return await pages.attach(FeedConfig(id="site", url=f"{base}/feed.xml"), items)

    story = article_id(f"{base}/story")
    (rss,) = asyncio.run(attach([item("/story?from=rss")]))
    (amp,) = asyncio.run(attach([item("/amp/story")]))
    assert rss.id == amp.id == story
    assert rss.canonical_url == amp.canonical_url == f"{base}/story"
    enriched = Enricher.from_path(None).enrich(amp)
    assert (enriched.id, enriched.canonical_url, enriched.url) == (
        story,
        f"{base}/story",
        f"{base}/amp/story",
    )
    originals = [item(p) for p in ("/world/one", "/world/two", "/foreign", "/front")]
    kept = asyncio.run(attach(originals))
    assert [a.id for a in kept] == [a.id for a in originals]
    assert all(a.text_source == "page" and a.canonical_url == "" for a in kept)
