"""The connector against a local HTTP server: HTTP semantics, bad input, durable state.
Kafka is replaced by an in-memory emitter here; the integration tests use the real one."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from connectors.emitter import Stopped
from connectors.feeds import FeedConfig
from connectors.rss import RssConnector
from pipeline.adapters.hosts import HostPolicy
from pipeline.schema import RawArticle
from pipeline.settings import Settings
from pipeline.stages.canonical import article_id
from tests.support.feedhost import BOMB, FeedHost, Route, feed_host, rss


class MemoryEmitter:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[RawArticle] = []
        self.fail = fail

    async def emit(self, articles: list[RawArticle]) -> None:
        if self.fail:
            raise Stopped  # as when Kafka never acknowledged and the connector stops
        self.sent.extend(articles)

    async def close(self) -> None:
        pass


@pytest.fixture
def host() -> Iterator[FeedHost]:
    with feed_host() as h:
        yield h


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path,
        http_timeout=2,
        http_total_timeout=2,
        max_feed_bytes=200_000,
        host_spacing=0,
        connector_metrics_port=0,
        parse_workers=0,
    )


async def make_connector(settings: Settings, feeds: list[FeedConfig]) -> RssConnector:
    connector = RssConnector(settings, feeds)
    await connector.setup()
    connector.emitter = MemoryEmitter()  # type: ignore[assignment]
    return connector


@pytest.fixture
async def connector(settings: Settings) -> AsyncIterator[RssConnector]:
    c = await make_connector(settings, [])
    yield c
    await c.stop()


def feed(host: FeedHost, path: str, **kw: object) -> FeedConfig:
    return FeedConfig(id=path.strip("/").replace(".", "-") or "root", url=host.url(path), **kw)


ITEMS = [("a1", "First"), ("a2", "Second")]


async def test_200_then_304_with_etag(host: FeedHost, connector: RssConnector) -> None:
    host.routes["/ok.xml"] = Route(body=rss(ITEMS), etag='"v1"')
    f = feed(host, "/ok.xml")
    first = await connector.poll(f)
    assert (first.status, first.emitted, first.outcome) == (200, 2, "new_items")
    second = await connector.poll(f)
    assert (second.status, second.outcome) == (304, "not_modified")
    assert host.hits("/ok.xml")[1]["if-none-match"] == '"v1"'
    assert "mediamon" in host.hits("/ok.xml")[0]["user-agent"]
    state = connector.store.feed(f.id, f.url)
    assert state.not_modified == 1 and state.items_emitted == 2


async def test_conditional_get_can_be_switched_off(host: FeedHost, connector: RssConnector) -> None:
    host.routes["/stale.xml"] = Route(body=rss(ITEMS), etag='"never-changes"')
    f = feed(host, "/stale.xml", conditional_get=False)
    await connector.poll(f)
    report = await connector.poll(f)
    assert report.status == 200
    assert "if-none-match" not in host.hits("/stale.xml")[1]


async def test_changed_entry_is_emitted_again_unchanged_is_not(
    host: FeedHost, connector: RssConnector
) -> None:
    host.routes["/c.xml"] = Route(body=rss(ITEMS))
    f = feed(host, "/c.xml")
    await connector.poll(f)
    host.routes["/c.xml"] = Route(body=rss([("a1", "First, corrected"), ITEMS[1], ("a3", "New")]))
    report = await connector.poll(f)
    assert report.emitted == 2
    sent = connector.emitter.sent  # type: ignore[attr-defined]
    assert [a.title for a in sent[2:]] == ["First, corrected", "New"]
    assert sent[0].id == sent[2].id  # an update keeps the article id


async def test_state_survives_a_restart(host: FeedHost, settings: Settings) -> None:
    host.routes["/r.xml"] = Route(body=rss(ITEMS))
    f = feed(host, "/r.xml")
    first = await make_connector(settings, [f])
    assert (await first.poll(f)).emitted == 2
    await first.stop()
    second = await make_connector(settings, [f])
    try:
        assert (await second.poll(f)).emitted == 0
    finally:
        await second.stop()


async def test_nothing_marked_seen_without_kafka_ack(
    host: FeedHost, connector: RssConnector
) -> None:
    host.routes["/k.xml"] = Route(body=rss(ITEMS))
    f = feed(host, "/k.xml")
    connector.emitter = MemoryEmitter(fail=True)  # type: ignore[assignment]
    report = await connector.poll(f)
    assert report.outcome == "stopped"
    assert connector.store.seen_count() == 0
    connector.emitter = MemoryEmitter()  # type: ignore[assignment]
    assert (await connector.poll(f)).emitted == 2


@pytest.mark.parametrize(
    ("route", "kind", "text"),
    [
        (Route(status=404), "permanent", "HTTP 404"),
        (Route(status=500), "transient", "HTTP 500"),
        (Route(status=429, headers={"Retry-After": "7"}), "rate_limited", "waiting 7s"),
        (Route(body=rss(ITEMS), delay=3), "transient", "no complete answer"),
        (Route(body=b"<rss>" + b"x" * 300_000), "permanent", "limit"),
        (
            Route(body=b"<html><body><p>Hello</p></body></html>", content_type="text/html"),
            "permanent",
            "not an RSS/Atom feed",
        ),
        (
            Route(
                body=b"\x00\x9f\x92\x96garbage\xff" * 50, content_type="application/octet-stream"
            ),
            "permanent",
            "not an RSS/Atom feed",
        ),
    ],
    ids=["404", "500", "429", "timeout", "oversize", "html-page", "garbage"],
)
async def test_failures_are_recorded_with_their_kind(
    host: FeedHost, connector: RssConnector, route: Route, kind: str, text: str
) -> None:
    host.routes["/bad"] = route
    f = feed(host, "/bad")
    report = await connector.poll(f)
    assert report.outcome == "failed"
    assert report.error_kind == kind and text in (report.error or "")
    state = connector.store.feed(f.id, f.url)
    assert state.consecutive_failures == 1 and state.last_error_kind == kind
    assert state.next_poll is not None


async def test_failing_feed_backs_off_and_recovers(host: FeedHost, connector: RssConnector) -> None:
    host.routes["/flaky.xml"] = Route(status=503)
    f = feed(host, "/flaky.xml", poll_interval=60)
    for _ in range(3):
        await connector.poll(f)
    state = connector.store.feed(f.id, f.url)
    assert state.consecutive_failures == 3
    host.routes["/flaky.xml"] = Route(body=rss(ITEMS))
    report = await connector.poll(f)
    assert report.outcome == "new_items"
    healed = connector.store.feed(f.id, f.url)
    assert healed.consecutive_failures == 0 and healed.last_error is None


async def test_redirects(host: FeedHost, connector: RssConnector) -> None:
    host.routes["/new.xml"] = Route(body=rss(ITEMS))
    host.routes["/old.xml"] = Route(status=301, headers={"Location": host.url("/new.xml")})
    host.routes["/tmp.xml"] = Route(status=302, headers={"Location": host.url("/new.xml")})
    host.routes["/loop"] = Route(status=302, headers={"Location": host.url("/loop")})
    moved = feed(host, "/old.xml")
    assert (await connector.poll(moved)).emitted == 2
    assert connector.store.feed(moved.id, moved.url).url == host.url("/new.xml")
    temporary = feed(host, "/tmp.xml")
    await connector.poll(temporary)
    assert connector.store.feed(temporary.id, temporary.url).url == host.url("/tmp.xml")
    loop = await connector.poll(feed(host, "/loop"))
    assert loop.error_kind == "permanent" and "redirects" in (loop.error or "")


async def test_gzip_and_wrong_content_type(host: FeedHost, connector: RssConnector) -> None:
    host.routes["/gz.xml"] = Route(body=rss(ITEMS), gzip=True)
    host.routes["/plain.txt"] = Route(body=rss([("p1", "Plain")]), content_type="text/plain")
    assert (await connector.poll(feed(host, "/gz.xml"))).emitted == 2
    assert (await connector.poll(feed(host, "/plain.txt"))).emitted == 1


async def test_xml_bomb_is_not_expanded(host: FeedHost, connector: RssConnector) -> None:
    host.routes["/bomb.xml"] = Route(body=BOMB)
    report = await asyncio.wait_for(connector.poll(feed(host, "/bomb.xml")), 30)
    sent = connector.emitter.sent  # type: ignore[attr-defined]
    assert all(len(a.title) < 10_000 for a in sent)
    assert report.outcome in ("new_items", "failed", "no_new_items")


async def test_invalid_and_far_future_dates_fall_back_to_fetch_time(
    host: FeedHost, connector: RssConnector
) -> None:
    body = rss([("d1", "Bad date")]).replace(b"Tue, 24 Jan 2017 10:00:00 GMT", b"not a date")
    body2 = rss([("d2", "Future")]).replace(b"Tue, 24 Jan 2017", b"Fri, 24 Jan 2181")
    host.routes["/d1.xml"] = Route(body=body)
    host.routes["/d2.xml"] = Route(body=body2)
    await connector.poll(feed(host, "/d1.xml"))
    await connector.poll(feed(host, "/d2.xml"))
    for article in connector.emitter.sent:  # type: ignore[attr-defined]
        assert article.published_from_fetch
        assert article.published == article.fetched_at


async def test_one_bad_feed_does_not_hurt_the_others(host: FeedHost, settings: Settings) -> None:
    host.routes["/good.xml"] = Route(body=rss(ITEMS))
    host.routes["/slow.xml"] = Route(body=rss(ITEMS), delay=3)
    feeds = [feed(host, "/good.xml"), feed(host, "/slow.xml"), feed(host, "/missing")]
    connector = await make_connector(settings, feeds)
    try:
        reports = {r.feed_id: r for r in await connector.run(once=True)}
    finally:
        await connector.stop()
    assert reports["good-xml"].emitted == 2
    assert reports["slow-xml"].error_kind == "transient"
    assert reports["missing"].error_kind == "permanent"


async def test_periodic_unconditional_fetch_unsticks_a_304_feed(
    host: FeedHost, settings: Settings
) -> None:
    host.routes["/stuck.xml"] = Route(body=rss(ITEMS), etag='"same"')
    f = feed(host, "/stuck.xml")
    connector = await make_connector(settings.model_copy(update={"unconditional_every": 0.5}), [f])
    try:
        await connector.poll(f)
        assert (await connector.poll(f)).status == 304
        await asyncio.sleep(0.6)
        # The server keeps its stale ETag but the feed changed: only a plain GET sees it.
        host.routes["/stuck.xml"] = Route(body=rss([*ITEMS, ("a9", "Late")]), etag='"same"')
        report = await connector.poll(f)
        assert (report.status, report.emitted) == (200, 1)
        assert "if-none-match" not in host.hits("/stuck.xml")[-1]
    finally:
        await connector.stop()


async def test_429_spaces_the_next_request_to_that_host(
    host: FeedHost, connector: RssConnector
) -> None:
    host.routes["/limited.xml"] = Route(status=429, headers={"Retry-After": "1"})
    f = feed(host, "/limited.xml")
    await connector.poll(f)
    host.routes["/limited.xml"] = Route(body=rss(ITEMS))
    started = asyncio.get_running_loop().time()
    assert (await connector.poll(f)).emitted == 2
    assert asyncio.get_running_loop().time() - started >= 0.9


async def test_feeds_status_and_list_commands(host: FeedHost, connector: RssConnector) -> None:
    import json
    import os
    import sys

    host.routes["/ok.xml"] = Route(body=rss(ITEMS))
    await connector.poll(feed(host, "/ok.xml"))
    await connector.poll(feed(host, "/gone"))
    feeds_file = connector.settings.state_dir / "feeds.yaml"
    feeds_file.write_text(
        f"feeds:\n  - id: ok-xml\n    url: {host.url('/ok.xml')}\n    tags: [t]\n"
    )
    env = {
        **os.environ,
        "MEDIAMON_STATE_DIR": str(connector.settings.state_dir),
        "MEDIAMON_FEEDS_FILE": str(feeds_file),
        "MEDIAMON_FEEDS": "",
        "COLUMNS": "160",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return await_free([sys.executable, "-m", "mediamon.main", "feeds", *args], env=env)

    status = {s["feed_id"]: s for s in json.loads(run("status", "--json").stdout)}
    assert status["ok-xml"]["items_emitted"] == 2 and status["ok-xml"]["last_success"]
    assert status["gone"]["consecutive_failures"] == 1 and "404" in status["gone"]["last_error"]
    table = run("status")
    assert "ok-xml" in table.stdout and "HTTP 404" in table.stdout
    listed = json.loads(run("list", "--json").stdout)
    assert [(f["id"], f["tags"]) for f in listed] == [("ok-xml", ["t"])]


def await_free(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a CLI command to completion (the test's own event loop is not involved)."""
    import subprocess

    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


async def test_a_host_policy_from_the_feeds_file_sets_that_hosts_pace(
    host: FeedHost, settings: Settings
) -> None:
    """Polled back to back, a feed waits out the default spacing (5 s here) unless its host
    has a policy of its own: the connector's one gate reads the feeds file's `hosts:`."""
    host.routes["/fast.xml"] = Route(body=rss(ITEMS))
    f = feed(host, "/fast.xml")
    slow = settings.model_copy(update={"host_spacing": 5.0})
    connector = RssConnector(slow, [f], {"127.0.0.1": HostPolicy(spacing=0)})
    await connector.setup()
    connector.emitter = MemoryEmitter()  # type: ignore[assignment]
    try:
        started = time.monotonic()
        for _ in range(3):
            assert (await connector.poll(f)).status == 200
        assert time.monotonic() - started < 3.0
        assert connector._gate.base_spacing(urlsplit(f.url).netloc) == 0.0
    finally:
        await connector.stop()


async def test_an_item_renamed_by_its_pages_canonical_url_is_not_sent_twice(
    host: FeedHost, connector: RssConnector
) -> None:
    """The page gives the article another id (its canonical URL); the connector remembers
    the item by the id its feed gives, so the next poll of the same feed sends nothing."""
    page = (
        '<html><head><link rel="canonical" href="/story"><title>Talks</title></head><body>'
        "<article>" + "<p>Delegations met in Astana to discuss the ceasefire in Syria.</p>" * 12
    ) + "</article></body></html>"
    host.routes["/s/123"] = Route(body=page.encode(), content_type="text/html")
    link = host.url("/s/123")
    host.routes["/canon.xml"] = Route(
        body=(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
            f"<title>Talks</title><link>{link}</link><description>Talks.</description>"
            "</item></channel></rss>"
        ).encode()
    )
    f = feed(host, "/canon.xml")
    first = await connector.poll(f)
    second = await connector.poll(f)
    sent = connector.emitter.sent  # type: ignore[attr-defined]
    assert (first.emitted, second.emitted, len(sent)) == (1, 0, 1)
    assert sent[0].text_source == "page"
    assert sent[0].id == article_id(host.url("/story"))
    assert connector.store.fingerprints([article_id(link)])  # remembered by the feed's id
