"""Sample feed over local HTTP -> connector -> Kafka -> worker -> Elasticsearch."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from deploy.feedserver import FeedServer, serve_feeds
from deploy.processes import ServiceProcess
from mediamon.demo_flow import count_indexed, expected_ids
from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.stages.canonical import article_id
from pipeline.worker import prepare
from tests.integration.conftest import Env
from tests.support.topics import read_at_least

SEED_URL = "http://vestnik.example/politika/oon-astaninskij-process"
ASTANA_CITY_URLS = [
    "http://vestnik.example/gorod/novyj-park",
    "http://vestnik.example/sport/fk-astana-liga-evropy",
    "http://vestnik.example/ekonomika/air-astana-tbilisi",
    "http://globalaffairs.example/business/expo-preparations",
    "http://monde-en-bref.example/international/astana-pont",
    "http://bolge.example/kultur/astana-kis-festivali",
]


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


async def _search(env: Env, **body: Any) -> dict[str, Any]:
    es = make_client(env.settings)
    try:
        await es.indices.refresh(index=env.settings.articles_alias)
        resp = await es.search(index=env.settings.articles_alias, **body)
        return dict(resp)
    finally:
        await es.close()


def search(env: Env, **body: Any) -> dict[str, Any]:
    return asyncio.run(_search(env, **body))


def search_cli(env: Env, *args: str) -> list[dict[str, Any]]:
    """`mediamon search ARGS --json`, one dict per hit."""
    proc = subprocess.run(
        [sys.executable, "-m", "mediamon.main", "search", *args, "--json"],
        env={**os.environ, **env.vars},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def run_connector_once(env: Env, urls: list[str], **extra: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "mediamon.main", "connectors", "run", "--once", "--json"],
        env={**os.environ, **env.vars, "MEDIAMON_FEEDS": ",".join(urls), **extra},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports: list[dict[str, Any]] = json.loads(proc.stdout)
    assert all(r["error"] is None for r in reports)
    return reports


@pytest.fixture
def worker(env: Env) -> Iterator[ServiceProcess]:
    asyncio.run(prepare(env.settings))
    proc = ServiceProcess("worker", ["worker"], env.vars, env.logs / "worker.log").start()
    yield proc
    code = proc.stop()
    assert code == 0 or code is None, proc.tail()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with serve_feeds() as server:
        yield server


def test_feed_to_searchable_document(env: Env, worker: ServiceProcess, feeds: FeedServer) -> None:
    ids = expected_ids(feeds)
    assert len(ids) >= 30
    run_connector_once(env, feeds.feed_urls())
    wait_for(
        lambda: asyncio.run(count_indexed(env.settings, ids)) == len(ids) or not worker.running,
        120,
        "every sample article indexed",
    )
    assert worker.running, worker.tail()

    seed = search(env, query={"term": {"url": SEED_URL + "?utm_source=rss&utm_medium=feed"}})
    assert seed["hits"]["total"]["value"] == 1
    doc = seed["hits"]["hits"][0]["_source"]
    assert doc["lang"] == "ru"
    assert {"syria", "astana_process", "un"} <= set(doc["topics"])
    assert doc["canonical_url"] == SEED_URL
    assert "document.write" not in doc["text"] and "Поделиться" not in doc["text"]

    city = search(env, query={"terms": {"canonical_url": ASTANA_CITY_URLS}}, size=50)
    assert city["hits"]["total"]["value"] == len(ASTANA_CITY_URLS)
    for hit in city["hits"]["hits"]:
        assert "astana_process" not in hit["_source"]["topics"], hit["_source"]["title"]

    copies = search(
        env,
        query={"match_phrase": {"text": "trilateral mechanism to monitor the truce"}},
        size=10,
    )
    assert copies["hits"]["total"]["value"] == 2
    stories = {h["_source"]["domain"]: h["_source"]["story_id"] for h in copies["hits"]["hits"]}
    assert set(stories) == {"globalaffairs.example", "capitalwire.example"}
    assert len(set(stories.values())) == 1, "a syndicated copy should share its story id"

    english = search(env, query={"term": {"domain": "globalaffairs.example"}}, size=50)
    assert english["hits"]["total"]["value"] == 11
    assert {h["_source"]["lang"] for h in english["hits"]["hits"]} == {"en"}

    # The connector remembers what Kafka acknowledged: polling again emits nothing.
    again = run_connector_once(env, feeds.feed_urls())
    assert sum(r["emitted"] for r in again) == 0

    # Deliver the same feeds again anyway (a connector with no memory): every document is
    # rewritten, none is added.
    second_delivery = datetime.now(UTC).isoformat()
    fresh_state = str(env.logs / "fresh-connector-state.sqlite")
    redelivered = run_connector_once(
        env, feeds.feed_urls(), MEDIAMON_CONNECTOR_STATE_PATH=fresh_state
    )
    assert sum(r["emitted"] for r in redelivered) == len(ids)

    def rewritten() -> bool:
        query = {"range": {"indexed_at": {"gte": second_delivery}}}
        total: int = search(env, query=query, size=0)["hits"]["total"]["value"]
        return total == len(ids)

    wait_for(rewritten, 120, "the second delivery to be indexed")
    total = search(env, query={"match_all": {}}, size=0)["hits"]["total"]["value"]
    assert total == len(ids)


def test_search_cli_filters_and_json(env: Env, worker: ServiceProcess, feeds: FeedServer) -> None:
    ids = expected_ids(feeds)
    run_connector_once(env, feeds.feed_urls())
    wait_for(lambda: asyncio.run(count_indexed(env.settings, ids)) == len(ids), 120, "indexing")
    hits = search_cli(env, "ООН", "--lang", "ru")
    assert len(hits) >= 3
    assert {h["lang"] for h in hits} == {"ru"}
    published = [h["published"] for h in hits]
    assert published == sorted(published, reverse=True)


def test_poison_messages_are_dead_lettered(env: Env, worker: ServiceProcess) -> None:
    raw_topic = env.settings.topic(topics.RAW)
    dlq_topic = env.settings.topic(topics.RAW_DLQ)

    async def scenario() -> list[Any]:
        producer = AIOKafkaProducer(bootstrap_servers=env.settings.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(raw_topic, b"not json at all", key=b"p1")
            await producer.send_and_wait(raw_topic, json.dumps({"schema": 99, "id": "x"}).encode())
            await producer.send_and_wait(raw_topic, json.dumps({"title": "no id"}).encode())
        finally:
            await producer.stop()
        return await read_at_least(env.settings, dlq_topic, 3, within=90, poll_ms=1000)

    dead = asyncio.run(scenario())
    assert len(dead) == 3, worker.tail()
    payloads = {m.value for m in dead}
    assert b"not json at all" in payloads
    reasons = [dict(m.headers)["mediamon-error"].decode() for m in dead]
    assert any("newer" in r for r in reasons)
    assert all(dict(m.headers)["mediamon-stage"] == b"enrich" for m in dead)
    assert worker.running

    # `mediamon status` shows them, and the consumer group's position on the raw topic
    def status() -> dict[str, Any]:
        proc = subprocess.run(
            [sys.executable, "-m", "mediamon.main", "status", "--json"],
            env={**os.environ, **env.vars},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        report: dict[str, Any] = json.loads(proc.stdout)
        return report

    report = wait_for(lambda: (r := status())["lag"] and r, 60, "committed offsets")
    assert report["healthy"] is True
    assert report["dead_letters"][dlq_topic] == 3
    raw_rows = [r for r in report["lag"] if r["topic"] == raw_topic]
    assert sum(r["end"] for r in raw_rows) == 3
    assert {r["service"] for r in report["services"]} == {"kafka", "elasticsearch"}


def test_demo_once_prints_summary_and_exits_zero(env: Env) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mediamon.main", "demo", "--once", "--timeout", "180"],
        env={**os.environ, **env.vars, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "articles per language" in proc.stdout
    assert "astana_process" in proc.stdout
    with serve_feeds() as server:
        total = len(expected_ids(server))
    assert f"{total} sample articles searchable" in proc.stdout
    assert env.settings.es_url in proc.stdout
    # the sample site serves the outlets' pages (issue 15): most items carry their full
    # text, and the two the site withholds keep the feed's text and say why
    from_page = re.search(r"full text from its page\s*│\s*(\d+)", proc.stdout)
    assert from_page and int(from_page.group(1)) >= total // 2, proc.stdout[-3000:]
    assert "page: consent_wall" in proc.stdout and "page: http_4xx" in proc.stdout


PAGE_ONLY_WORD = "Zebrafinchia"  # in the article page, never in the feed


def test_a_teaser_item_is_tagged_and_found_from_its_page(
    env: Env, worker: ServiceProcess, tmp_path: Any
) -> None:
    """Issue 15: the feed says one sentence about a football match; the page behind it is
    an article about the Astana talks on Syria. With pages on, the indexed article is tagged
    from the page and `mediamon search` finds it by a word only the page contains. A second
    feed links the same story by another address; the page's canonical URL makes both one
    document."""
    with serve_feeds(tmp_path) as site:
        base = site.base_url
        paragraph = (
            "<p>Delegations of Russia, Turkey and Iran met in Astana to discuss the ceasefire "
            f"in Syria with the UN envoy; the {PAGE_ONLY_WORD} memorandum was signed.</p>"
        )
        (tmp_path / "talks.html").write_text(
            f"<html><head><title>Talks</title><link rel='canonical' href='{base}/talks.html'>"
            "</head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>Talks in Astana</h1>{paragraph * 4}</article></body></html>",
            encoding="utf-8",
        )
        (tmp_path / "feed.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title>'
            f"<link>{base}/</link><item><title>Morning briefing</title>"
            f"<link>{base}/talks.html</link><guid>{base}/talks.html</guid>"
            "<description>Read the whole story.</description></item></channel></rss>",
            encoding="utf-8",
        )
        (tmp_path / "wire.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>{base}/</link><item><title>Morning briefing</title>"
            f"<link>{base}/talks.html?ref_id=wire</link>"
            "<description>Read the whole story.</description></item></channel></rss>",
            encoding="utf-8",
        )
        reports = run_connector_once(
            env,
            [f"{base}/feed.xml", f"{base}/wire.xml"],
            MEDIAMON_FETCH_PAGES="true",
            MEDIAMON_HOST_SPACING="0",
        )
    assert sum(r["emitted"] for r in reports) == 2
    raw = asyncio.run(read_at_least(env.settings, env.settings.topic(topics.RAW), 2, within=30))
    ids = {json.loads(m.value)["id"] for m in raw}
    assert ids == {article_id(f"{base}/talks.html")}, ids  # two copies, one id

    def indexed() -> list[dict[str, Any]]:
        query = {"term": {"canonical_url": f"{base}/talks.html"}}
        return [h for h in search(env, query=query)["hits"]["hits"] if h["_source"]["text"]]

    [hit] = wait_for(indexed, 120, "the teaser item indexed")
    doc = hit["_source"]
    assert hit["_id"] == article_id(f"{base}/talks.html")
    assert doc["content_from"] == "page" and doc["page_problem"] is None
    assert {"syria", "astana_process", "un"} <= set(doc["topics"])
    assert doc["title"] == "Morning briefing"
    hits = search_cli(env, PAGE_ONLY_WORD)
    assert len(hits) == 1, hits
    assert hits[0]["url"] in (f"{base}/talks.html", f"{base}/talks.html?ref_id=wire")
