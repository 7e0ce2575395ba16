"""`mediamon web` in a real browser (Debian's chromium driven by Playwright) against the real
Elasticsearch: the newest titles listed, an article indexed during the test appearing by
itself, search and filters in the URL, evidence marked, hostile feed text rendered as text
and never run, a bad query explained, and the token required off loopback."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from connectors.normalize import parse_feed
from connectors.state import StateStore
from deploy.processes import ServiceProcess
from pipeline.adapters.elastic import make_client
from pipeline.alerts.store import ensure_alerts_index, index_alert_documents
from pipeline.indexing.indexer import ArticleIndexer
from pipeline.schema import EnrichedArticle, RawArticle
from pipeline.stages.enrich import Enricher
from pipeline.taxonomy import load_taxonomy
from pipeline.worker import prepare
from tests.integration.conftest import Env
from tests.support.net import free_port
from tests.support.paths import REPO

SANITIZE = REPO / "tests" / "fixtures" / "feedparser-tests" / "wellformed" / "sanitize"
NOW = datetime.now(UTC)
# Titles as a hostile feed gets them through: escaped in the XML, so after cleaning the
# title *is* this markup, as text (raw tags are stripped by the clean stage already).
PAYLOADS = [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    '"><script>window.__pwned=2;alert(2)</script>',
    "<svg onload=alert(3)>{{7*7}}",
    "</a><iframe src=javascript:alert(4)>",
]


def _enricher() -> Enricher:
    return Enricher(load_taxonomy())


def raw(n: int, title: str, text: str, hours_ago: float, **extra: Any) -> RawArticle:
    return RawArticle(
        id=f"web{n}",
        url=extra.pop("url", f"https://news.example/{n}"),
        title=title,
        content_html=f"<p>{text}</p>",
        published=NOW - timedelta(hours=hours_ago),
        source_name=extra.pop("source_name", "News Example"),
        **extra,
    )


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Playwright's sync API keeps an event loop in this thread: asyncio runs in another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def index(env: Env, articles: list[EnrichedArticle], refresh: bool = True) -> None:
    """Through the worker's own write path; `refresh` makes them searchable now (set-up),
    without it they become so at the index's next refresh, as in production."""

    async def go() -> None:
        es = make_client(env.settings)
        try:
            report = await ArticleIndexer(es, env.settings).index(articles)
            assert report.indexed == len(articles)
            if refresh:
                await es.indices.refresh(index=env.settings.articles_alias)
        finally:
            await es.close()

    run(go())


SEEDED = [
    raw(1, "Astana talks on Syria open with UN envoy",
        "Delegations of Russia, Turkey and Iran met in Astana to discuss the ceasefire in Syria "
        "with the UN envoy; the Quillfeather memorandum was signed.", 1),
    raw(2, "Grain exports rise for a third month",
        "Wheat and barley shipments grew by eight percent in February, the ministry said.", 2),
    raw(3, "Переговоры в Астане по Сирии продолжатся",
        "Делегации России, Турции и Ирана обсудили в Астане перемирие в Сирии при участии ООН.",
        3),
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for the browser tests (.ci/run installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


def start_web(env: Env, *args: str, **extra: str) -> tuple[ServiceProcess, str]:
    port = free_port()
    proc = ServiceProcess(
        "web", ["web", "--port", str(port), *args], {**env.vars, **extra}, env.logs / "web.log"
    ).start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.running, proc.tail()
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code in (200, 401):
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"mediamon web did not answer:\n{proc.tail()}")


@pytest.fixture
def seeded(env: Env) -> Env:
    run(prepare(env.settings))
    enricher = _enricher()
    index(env, [enricher.enrich(r) for r in SEEDED])
    return env


@pytest.fixture
def site(seeded: Env) -> Iterator[str]:
    proc, base = start_web(seeded)
    yield base
    proc.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Asia/Almaty"
    )
    opened = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:  # an alert() from a payload would land here
        dialogs.append(dialog.message)
        dialog.dismiss()

    opened.on("dialog", on_dialog)
    opened.dialogs = dialogs  # type: ignore[attr-defined]
    yield opened
    context.close()


def titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#stories > li .title").all_inner_texts()]


def test_front_page_lists_the_newest_titles_and_updates_itself(
    seeded: Env, site: str, page: Page
) -> None:
    page.goto(site)
    assert titles(page) == [r.title for r in SEEDED]  # newest first
    expect(page.locator("#count-articles")).to_have_text("3")
    assert page.locator(".charts figure").count() >= 3  # over time, topics, languages, sources
    # times are shown in the viewer's zone: 1 h ago in Almaty is not 1 h ago in UTC
    first_time = page.locator("#stories time").first
    assert "UTC" not in first_time.inner_text()

    expect(page.locator("#live-status")).to_have_text("live")
    fresh = _enricher().enrich(raw(4, "Breaking: ceasefire monitors arrive", "Monitors came.", 0))
    index(seeded, [fresh], refresh=False)
    indexed = time.monotonic()
    expect(page.locator("#stories > li .title").first).to_have_text(fresh.title, timeout=2_000)
    assert time.monotonic() - indexed <= 2.0
    expect(page.locator("#count-articles")).to_have_text("4")
    assert page.url.rstrip("/") == site  # no reload, no navigation

    # a copy of a story on the page folds under it, live and after a reload
    story = page.locator("#stories > li", has_text=SEEDED[2].title)
    copy = _enricher().enrich(raw(5, "Copy: переговоры в Астане", "Копия.", 0.1))
    copy = copy.model_copy(update={"story_id": story.get_attribute("data-story")})
    index(seeded, [copy], refresh=False)
    expect(story.locator(".copies")).to_have_text("2 copies", timeout=5_000)
    assert titles(page)[0] == SEEDED[2].title  # the story came up
    page.reload()
    story = page.locator("#stories > li", has_text=SEEDED[2].title)
    expect(story.locator(".copies")).to_have_text("2 copies")
    assert len(titles(page)) == 4  # 5 articles, 4 stories
    story.locator("summary").click()
    expect(story.locator(".copies-list")).to_contain_text(SEEDED[2].title)


def test_search_and_filters_live_in_the_url(site: str, page: Page) -> None:
    page.goto(site)
    page.keyboard.press("/")  # the keyboard way to the search box
    page.keyboard.type("Quillfeather")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=Quillfeather*")
    assert titles(page) == [SEEDED[0].title]

    page.goto(site)
    page.locator("#stories .lang", has_text="ru").first.click()
    page.wait_for_url("**lang=ru*")
    assert titles(page) == [SEEDED[2].title]
    page.locator(".chip", has_text="language: ru").click()  # removing the filter
    page.wait_for_url(site + "/")
    assert len(titles(page)) == 3

    page.goto(f"{site}/?topic=un&since=24h")  # a shared view opens as it was
    assert set(titles(page)) == {SEEDED[0].title, SEEDED[2].title}


def test_a_bad_query_is_explained_on_the_page(site: str, page: Page) -> None:
    for query, where in (("Сирия AND (", "character 11"), ('"unterminated', "double quote")):
        response = page.goto(f"{site}/?q={query}")
        assert response is not None and response.status == 400
        problem = page.locator("#problem")
        expect(problem).to_contain_text(where)
        assert "Traceback" not in page.content()


def test_an_article_shows_its_evidence_and_its_original(site: str, page: Page) -> None:
    page.goto(site)
    page.locator("#stories .title", has_text="Astana talks").click()
    page.wait_for_url("**/article/*")
    marks = page.locator("mark.evidence[data-topic='syria']")
    assert marks.count() >= 1
    assert any("Syria" in t for t in marks.all_inner_texts())
    assert page.locator("mark.evidence[data-topic='astana_process']").count() >= 1
    original = page.locator("a.original")
    assert original.get_attribute("href") == SEEDED[0].url
    assert "noopener" in (original.get_attribute("rel") or "")


def test_hostile_feed_text_renders_as_text_and_runs_nothing(
    seeded: Env, site: str, page: Page
) -> None:
    enricher = _enricher()
    hostile = [
        enricher.enrich(
            # dated ahead of the corpus's undated entries (fetched now), so they lead the list
            raw(10 + n, escape(title), "Nothing.", -1 - n / 10, url="javascript:alert(9)")
        )
        for n, title in enumerate(PAYLOADS)
    ]
    assert [a.title for a in hostile] == PAYLOADS
    from_corpus = []
    corpus = [p for p in sorted(SANITIZE.glob("*.xml")) if p.name.startswith(("entry_", "item_"))]
    for path in corpus:
        for article in parse_feed(path.read_bytes(), f"https://feeds.example/{path.name}").articles:
            from_corpus.append(enricher.enrich(article))
    assert len(from_corpus) >= 100
    index(seeded, hostile + from_corpus)

    page.goto(site)
    expect(page.locator("#stories > li").first).to_be_visible()
    body = page.locator("#stories").inner_text()
    for payload in PAYLOADS:
        assert payload in body  # shown as the text it is
    injected = page.locator("#stories script, #stories img, #stories iframe, #stories svg, "
                            "#stories object, #stories embed, #stories applet")  # fmt: skip
    assert injected.count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#stories a[href^='javascript']").count() == 0

    # article pages show the whole (cleaned) text of the corpus's hostile entries
    for shown in from_corpus[:40:8]:
        page.goto(f"{site}/article/{shown.id}")
        assert page.locator(".text script, .text img, .text iframe, .text object").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.goto(site)

    # the same through the live feed, which builds rows in the browser
    live = enricher.enrich(raw(40, escape(PAYLOADS[0]) + " live", "Live.", 0))
    index(seeded, [live], refresh=False)
    expect(page.locator("#stories > li .title").first).to_have_text(live.title, timeout=5_000)
    assert page.locator("#stories img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_off_loopback_the_page_needs_its_token(seeded: Env, browser: Browser) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "mediamon.main", "web", "--host", "0.0.0.0", "--port", "0"],
        env={**os.environ, **seeded.vars},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "MEDIAMON_WEB_TOKEN" in refused.stdout + refused.stderr

    token = "s3cret-" + "x" * 24
    proc, base = start_web(seeded, "--host", "0.0.0.0", MEDIAMON_WEB_TOKEN=token)
    try:
        assert httpx.get(base, timeout=5).status_code == 401
        wrong = base64.b64encode(b"me:wrong").decode()
        assert httpx.get(base, headers={"Authorization": f"Basic {wrong}"}).status_code == 401
        assert httpx.get(base, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.post(base, headers={"Authorization": f"Bearer {token}"}).status_code == 405
        context = browser.new_context(http_credentials={"username": "analyst", "password": token})
        page = context.new_page()
        page.goto(base)
        assert titles(page)[0] == SEEDED[0].title
        context.close()
        assert token not in (Path(proc.log_path).read_text(encoding="utf-8"))
    finally:
        proc.stop()


def test_the_page_fits_a_phone_and_says_what_to_do_when_empty(
    env: Env, site: str, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.goto(site)
    assert len(titles(phone)) == 3
    overflow = phone.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of horizontal scrolling on a phone"
    phone.goto(f"{site}/?q=Zyxwvutsrqponm")
    expect(phone.locator(".empty")).to_contain_text("No article matches")
    context.close()


def test_alerts_and_feeds_pages(env: Env, browser: Browser, tmp_path: Path) -> None:
    """Recent alerts by rule and status, the rules, what a rule would have matched (as
    `mediamon rules test` says), and each feed's health from the connector's state."""
    run(prepare(env.settings))
    index(env, [_enricher().enrich(r) for r in SEEDED])
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: memo\n    query: Quillfeather OR Кестрел\n"
        "  - id: grain\n    query: wheat AND barley\n    languages: [en]\n",
        encoding="utf-8",
    )

    async def alerts() -> None:
        es = make_client(env.settings)
        try:
            index_name = await ensure_alerts_index(es, env.settings)
            now = datetime.now(UTC).isoformat()
            docs = [
                {"_id": "memo:web1", "rule_id": "memo", "article_id": "web1", "status": "sent",
                 "title": SEEDED[0].title, "handled_at": now, "channels": ["log"]},
                {"_id": "grain:web2", "rule_id": "grain", "article_id": "web2",
                 "status": "failed", "title": "<b>Grain</b>", "handled_at": now,
                 "error": "webhook answered 500", "channels": ["hook"]},
            ]  # fmt: skip
            await index_alert_documents(es, index_name, docs)
            await es.indices.refresh(index=index_name)
        finally:
            await es.close()

    run(alerts())
    state_path = tmp_path / "connector.sqlite"
    store = StateStore(state_path)
    good = store.feed("vestnik", "https://vestnik.example/rss.xml")
    good.last_success, good.items_emitted, good.not_modified = NOW.isoformat(), 12, 3
    store.save_feed(good)
    bad = store.feed("broken", "https://broken.example/feed")
    bad.consecutive_failures, bad.last_error, bad.last_error_kind = 4, "HTTP 503", "transient"
    store.save_feed(bad)
    store.close()

    proc, base = start_web(
        env, MEDIAMON_RULES_FILE=str(rules), MEDIAMON_CONNECTOR_STATE_PATH=str(state_path)
    )
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{base}/alerts")
        table = page.locator("table.grid")
        expect(table).to_contain_text("memo")
        expect(table.locator(".status-failed")).to_have_text("failed")
        expect(table).to_contain_text("<b>Grain</b>")  # as text
        assert page.locator("table.grid b").count() == 0
        page.locator(".rules a", has_text="memo").click()
        page.wait_for_url("**/alerts?rule=memo*")
        page.select_option("#since-bt", "24h")
        page.locator("#backtest button").click()
        page.wait_for_url("**since=24h*")
        expect(page.locator("#backtest .story .title")).to_have_text([SEEDED[0].title])
        expect(page.locator(".rules")).to_contain_text("sent 1")

        page.goto(f"{base}/feeds")
        rows = page.locator("#feeds tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#feeds tr.failing")).to_contain_text("HTTP 503")
        expect(page.locator(".counters")).to_contain_text("1 failing")
    finally:
        context.close()
        proc.stop()
