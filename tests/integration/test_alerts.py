"""Keyword alerts end to end on the real servers: raw article -> worker (enrich, index, match)
-> alerts topic -> a local webhook. Inflected Russian forms, the language filter, the
signature, the alerts index, throttle and digest, a dead channel, and a restart that must
not notify twice."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from deploy.processes import ServiceProcess
from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.schema import RawArticle
from pipeline.worker import prepare
from tests.integration.conftest import Env
from tests.support.es_proxy import GarblingProxy
from tests.support.topics import Record, poll_once
from tests.support.webhook import Received, WebhookReceiver, webhook_receiver

SECRET = "integration-hook-secret"


DEAD = "/dead"  # a channel that always fails: answered 500


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver(paths={DEAD: 500}) as receiver:
        yield receiver


def delivered(hook: WebhookReceiver) -> list[Received]:
    """The requests to the channels that work (the dead one's are counted apart)."""
    return [r for r in hook.requests() if r.path != DEAD]


def rules_yaml(url: str) -> str:
    return f"""\
channels:
  ops:
    type: webhook
    url: {url}/ok
    secret_env: MEDIAMON_TEST_HOOK_SECRET
  digest:
    type: webhook
    url: {url}/digest
  dead:
    type: webhook
    url: {url}/dead
rules:
  - id: syria-astana-ru
    name: Syria talks in Astana (Russian media)
    query: Сирия AND Астана
    languages: [ru]
    channels: [ops]
  - id: ceasefire
    name: Ceasefire, throttled
    query: ceasefire
    channels: [digest]
    throttle: {{max: 1, window: 5s}}
  - id: to-nowhere
    query: Guterres
    channels: [dead]
"""


def produce(env: Env, articles: list[RawArticle]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=env.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for a in articles:
                await producer.send_and_wait(
                    env.settings.topic(topics.RAW), a.to_json(), key=a.id.encode()
                )
        finally:
            await producer.stop()

    asyncio.run(send())


def wait_for(check: Callable[[], Any], timeout: float, what: str, worker: ServiceProcess) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail(60)}")


def alert_records(env: Env) -> dict[str, dict[str, Any]]:
    async def get() -> dict[str, dict[str, Any]]:
        es = make_client(env.settings)
        try:
            await es.indices.refresh(index=env.settings.alerts_index)
            resp = await es.search(index=env.settings.alerts_index, size=100)
            return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}
        finally:
            await es.close()

    return asyncio.run(get())


def dead_letters(env: Env) -> list[Record]:
    return asyncio.run(poll_once(env.settings, env.settings.topic(topics.ALERTS_DLQ), 2000))


def article(i: str, title: str, body: str, lang: str | None = None) -> RawArticle:
    return RawArticle(
        id=i,
        title=title,
        content_html=f"<p>{body}</p>",
        url=f"https://news.example/{i}",
        source_name="Test Wire",
        lang_hint=lang,
    )


def syria_talks_ru() -> RawArticle:
    """What the rule syria-astana-ru matches, inflected: «Сирии», «Астане» must match the
    base forms of the rule."""
    return article(
        "ru-match",
        "Переговоры по Сирии возобновились в Астане",
        "Делегации гарантов встретились в Астане, чтобы обсудить перемирие в Сирии "
        "и работу конституционного комитета.",
        "ru",
    )


def test_keyword_alerts_end_to_end(env: Env, hook: WebhookReceiver) -> None:
    rules = env.logs / "rules.yaml"
    rules.write_text(rules_yaml(hook.url()))
    variables = {
        **env.vars,
        "MEDIAMON_RULES_FILE": str(rules),
        "MEDIAMON_TEST_HOOK_SECRET": SECRET,
        # a dead channel: 2 tries in place, 3 deliveries through alerts.retry, 0.5 s apart
        "MEDIAMON_ALERT_DELIVERY_ATTEMPTS": "2",
        "MEDIAMON_RETRY_ATTEMPTS": "3",
        "MEDIAMON_RETRY_BASE_SECONDS": "0.5",
    }
    asyncio.run(prepare(env.settings))
    worker = ServiceProcess("worker", ["worker"], variables, env.logs / "worker.log").start()
    try:
        produce(
            env,
            [
                syria_talks_ru(),
                article(
                    "ru-city",
                    "В Астане открылся зимний фестиваль",
                    "Столица Казахстана принимает гостей ледового фестиваля на набережной.",
                    "ru",
                ),
                article(
                    "en-other-lang",
                    "Syria talks resume in Astana",
                    "Delegations met in Astana to discuss Syria. Сирия Астана.",
                    "en",
                ),
            ],
        )
        first = wait_for(lambda: hook.bodies("/ok"), 90, "the first webhook call", worker)
        assert [a["id"] for b in first for a in b["articles"]] == ["ru-match"]
        first_call = hook.requests("/ok")[0]
        headers, raw = first_call.headers, first_call.body
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Mediamon-Signature"] == expected
        assert SECRET not in raw.decode()

        # throttle 1 per 5 s: one alert, then one digest with the other two
        produce(
            env,
            [
                article(f"cf-{n}", f"Ceasefire holds, day {n}", "The ceasefire held overnight.")
                for n in range(3)
            ],
        )
        # a channel that always fails: the alert is kept (dead letter and alerts index)
        produce(env, [article("gt", "Guterres calls for restraint", "Guterres spoke today.")])
        wait_for(lambda: len(hook.bodies("/digest")) >= 2, 90, "alert and digest", worker)
        digest_calls = hook.bodies("/digest")
        assert [b["kind"] for b in digest_calls] == ["alert", "digest"]
        assert len(digest_calls[0]["articles"]) == 1 and len(digest_calls[1]["articles"]) == 2
        dead = wait_for(lambda: dead_letters(env), 60, "the dead-lettered alert", worker)
        assert dict(dead[0].headers)["mediamon-stage"] == b"alerts"
        assert dict(dead[0].headers)["mediamon-attempt"] == b"3"
        assert len(hook.requests(DEAD)) == 2 * 3
        records = wait_for(
            lambda: (r := alert_records(env)).get("to-nowhere:gt") and r, 60, "records", worker
        )
        assert records["to-nowhere:gt"]["status"] == "failed"
        assert records["syria-astana-ru:ru-match"]["status"] == "sent"
        assert records["syria-astana-ru:ru-match"]["latency_ms"] >= 0
        status = subprocess.run(
            [sys.executable, "-m", "mediamon.main", "status", "--json"],
            env={**os.environ, **variables},
            capture_output=True,
            text=True,
            timeout=60,
        )
        report = json.loads(status.stdout)
        assert report["alerts_failed"] == 1 and report["last_alert"] is not None
        assert report["dead_letters"][env.settings.topic(topics.ALERTS_DLQ)] == 1
        assert SECRET not in status.stdout + status.stderr

        # `rules test`: what a rule would have matched among indexed articles, nothing sent
        sent_before = len(delivered(hook))
        command = ["rules", "test", "syria-astana-ru", "--since", "1d", "--json"]
        tested = subprocess.run(
            [sys.executable, "-m", "mediamon.main", *command],
            env={**os.environ, **variables},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert tested.returncode == 0, tested.stderr
        rows = [json.loads(line) for line in tested.stdout.splitlines()]
        assert [(r["rule"], r["id"]) for r in rows] == [("syria-astana-ru", "ru-match")]
        assert len(delivered(hook)) == sent_before
        # a file with one broken rule: the good one is tested, the broken one named, exit 1
        mixed = env.logs / "mixed-rules.yaml"
        mixed.write_text(
            "rules:\n  - id: good\n    query: Сирия AND Астана\n"
            "  - id: broken\n    query: Сирия AND (\n",
            encoding="utf-8",
        )
        tested = subprocess.run(
            [sys.executable, "-m", "mediamon.main", "rules", "test", str(mixed), "--json"],
            env={**os.environ, **variables},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert tested.returncode == 1, tested.stderr
        assert "broken" in tested.stderr and "'(' without ')'" in tested.stderr
        matched = [json.loads(x) for x in tested.stdout.splitlines()]
        assert matched and {m["rule"] for m in matched} == {"good"}
        assert "ru-match" in {m["id"] for m in matched}
    finally:
        assert worker.stop() == 0, worker.tail()

    # a restart re-reads whatever was not committed: nobody is notified twice
    before = len(delivered(hook))
    second = ServiceProcess("worker-2", ["worker"], variables, env.logs / "worker-2.log").start()
    try:
        produce(
            env,
            [
                article(
                    "ru-match-2",
                    "Астанинский формат: новый раунд по Сирии",
                    "Встреча по Сирии пройдёт в Астане в феврале.",
                    "ru",
                )
            ],
        )
        wait_for(lambda: len(hook.bodies("/ok")) >= 2, 90, "the alert after the restart", second)
        time.sleep(3)
        ids = [a["id"] for b in hook.bodies("/ok") for a in b["articles"]]
        assert ids == ["ru-match", "ru-match-2"]
        assert len(delivered(hook)) == before + 1
    finally:
        second.stop()


def test_a_garbled_alerts_index_answer_keeps_the_record(env: Env, hook: WebhookReceiver) -> None:
    """A 200 answer to the alert records' bulk request without their results (what a broken
    proxy might pass on) was taken as success, and the record of a sent alert was lost. Now
    the records are written again; the alert itself goes out once."""
    rules = env.logs / "rules.yaml"
    rules.write_text(rules_yaml(hook.url()))
    upstream = ("127.0.0.1", int(env.vars["MEDIAMON_ES_PORT"]))
    asyncio.run(prepare(env.settings))
    with GarblingProxy(
        upstream,
        bulk_garbled=1,
        garbled_body=b'{"took":1,"errors":false}',
        holding=f'"{env.settings.alerts_index}"'.encode(),  # the alert records' request only
    ).running() as proxy:
        variables = {
            **env.vars,
            "MEDIAMON_RULES_FILE": str(rules),
            "MEDIAMON_TEST_HOOK_SECRET": SECRET,
            "MEDIAMON_ES_URL": f"http://127.0.0.1:{proxy.port}",
        }
        log = env.logs / "worker-garbled-alerts.log"
        worker = ServiceProcess("worker-garbled-alerts", ["worker"], variables, log).start()
        try:
            produce(env, [syria_talks_ru()])
            records = wait_for(
                lambda: (r := alert_records(env)).get("syria-astana-ru:ru-match") and r,
                90,
                "the alert record",
                worker,
            )
            time.sleep(2)  # a second call to the webhook by now
            assert worker.running, worker.tail()
        finally:
            assert worker.stop() == 0, worker.tail()
    assert proxy.garbled == 1, "the garbled answer was never given"
    assert records["syria-astana-ru:ru-match"]["status"] == "sent"
    assert [a["id"] for b in hook.bodies("/ok") for a in b["articles"]] == ["ru-match"]
    assert "no results for 1 records" in log.read_text(), worker.tail()


def test_volume_rule_fires_once_on_a_surge(env: Env, hook: WebhookReceiver) -> None:
    rules = env.logs / "rules.yaml"
    rules.write_text(
        f"""\
channels:
  ops:
    type: webhook
    url: {hook.url("/ok")}
rules:
  - id: floods-surge
    type: volume
    name: Flood coverage surge
    query: flood
    window: 4s
    baseline: 20s
    factor: 3
    min_count: 5
    channels: [ops]
"""
    )
    variables = {
        **env.vars,
        "MEDIAMON_RULES_FILE": str(rules),
        "MEDIAMON_VOLUME_BUCKET_SECONDS": "1",
    }
    asyncio.run(prepare(env.settings))
    worker = ServiceProcess("worker", ["worker"], variables, env.logs / "worker.log").start()
    try:
        time.sleep(8)  # the worker joins its group
        for n in range(5):  # the baseline: one article per window
            produce(env, [article(f"base-{n}", f"Flood warning {n}", "A flood warning.")])
            time.sleep(4)
        assert hook.bodies("/ok") == [], "fired on the baseline"
        burst = [
            article(f"burst-{n}", f"Flood emergency {n}", "The flood spreads.") for n in range(10)
        ]
        produce(env, burst)
        bodies = wait_for(lambda: hook.bodies("/ok"), 60, "the volume alert", worker)
        time.sleep(3)
        bodies = hook.bodies("/ok")
    finally:
        worker.stop()
    assert len(bodies) == 1, bodies  # once per surge, however many burst articles follow
    (item,) = bodies[0]["articles"]
    assert item["kind"] == "volume" and item["detail"]["current"] >= 5
    assert "Flood coverage surge" in item["title"]


def test_a_dead_lettered_alert_is_replayed_after_the_fix_and_sent_once(
    env: Env, hook: WebhookReceiver
) -> None:
    rules = env.logs / "rules.yaml"
    broken = f"""\
channels:
  ops:
    type: webhook
    url: {hook.url(DEAD)}
rules:
  - id: guterres
    query: Guterres
    channels: [ops]
"""
    rules.write_text(broken)
    variables = {
        **env.vars,
        "MEDIAMON_RULES_FILE": str(rules),
        "MEDIAMON_ALERT_DELIVERY_ATTEMPTS": "1",
        "MEDIAMON_RETRY_ATTEMPTS": "1",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mediamon.main", *args],
            env={**os.environ, **variables, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
        )

    asyncio.run(prepare(env.settings))
    worker = ServiceProcess("worker", ["worker"], variables, env.logs / "worker.log").start()
    try:
        produce(env, [article("gt-1", "Guterres urges talks", "Guterres spoke in Geneva.")])
        wait_for(lambda: dead_letters(env), 90, "the dead-lettered alert", worker)
        listed = cli("dlq", "list", "--topic", "alerts.dlq", "--json")
        (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
        assert row["stage"] == "alerts" and "500" in row["error"] and row["attempts"] == 1
        shown = cli("dlq", "show", row["ref"])
        assert '"article_id": "gt-1"' in shown.stdout

        rules.write_text(broken.replace("/dead", "/ok"))  # the fix
        replayed = cli("dlq", "replay", "--topic", "alerts.dlq")
        assert "replayed 1 of 1" in replayed.stdout, replayed.stderr
        wait_for(lambda: hook.bodies("/ok"), 60, "the replayed alert", worker)
        again = cli("dlq", "replay", "--topic", "alerts.dlq")  # nothing new to replay
        assert "replayed 0 of 0" in again.stdout, again.stderr
        time.sleep(3)
    finally:
        worker.stop()
    assert [a["id"] for b in hook.bodies("/ok") for a in b["articles"]] == ["gt-1"]
