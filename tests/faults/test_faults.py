"""Issue 7's fault-injection suite: real Kafka and Elasticsearch (the fault stack, ports
29092/29200), the real worker and connector processes, faults injected mid-flow. Every
scenario ends with `Scenario.finish`: each expected article indexed exactly once, none
lost, each matching article alerted exactly once, dead letters only where expected.
docs/fault-injection.md describes the method and the measured results."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.processes import ServiceProcess
from deploy.stack import ElasticsearchServer, Stack
from pipeline import topics
from pipeline.deadletters import DeadLetter
from tests.faults.conftest import FAULT_VARS
from tests.faults.harness import (
    FEEDS,
    KEYWORD,
    Hook,
    Scenario,
    connector_flow,
    handled_during_recovery,
    in_background,
    make_items,
    raw_article,
    run,
    scenario_result,
    start_flowing,
    wait_until,
)
from tests.support.feedhost import FeedHost, feed_host

OUTAGE = 30.0  # seconds a server stays away
EXIT_BOUND = 30.0  # seconds a SIGTERMed process may take to exit


@pytest.fixture
def host() -> Iterator[FeedHost]:
    with feed_host() as h:
        yield h


# -- the connector ---------------------------------------------------------------------------


def test_connector_killed_mid_poll(
    fault_stack: Stack, hook: Hook, logs: Path, host: FeedHost
) -> None:
    s = Scenario("connector kill -9 mid-poll", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        flow = connector_flow(s, host, "ck", 800, tick=1.0)
        s.worker("worker")
        first = s.connector("connector-1")
        start_flowing(s, flow, 3)
        s.kill(first)
        assert not flow.complete, "the flow ended before the kill: the test proves nothing"
        restarted = time.monotonic()
        s.connector("connector-2")
        recovery = s.wait_indexed(180, since=restarted)
        flow.stop()
        s.result.note = f"re-emitted after the kill: {sum(n > 1 for n in s.raw_keys().values())}"
        s.finish(recovery)


def test_connector_sigterm(fault_stack: Stack, hook: Hook, logs: Path, host: FeedHost) -> None:
    s = Scenario("connector SIGTERM", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        flow = connector_flow(s, host, "ct", 600, tick=1.0)
        s.worker("worker")
        first = s.connector("connector-1")
        start_flowing(s, flow, 3)
        code, took = s.sigterm(first, EXIT_BOUND)
        assert not flow.complete, "the flow ended before the signal: the test proves nothing"
        assert code == 0 and took <= EXIT_BOUND, f"exit {code} after {took:.1f}s\n{s.tails()}"
        # the parse pool used to leave an OSError traceback from the interpreter's exit hook
        assert "Traceback" not in first.log_path.read_text(), s.tails()
        restarted = time.monotonic()
        s.connector("connector-2")
        recovery = s.wait_indexed(180, since=restarted)
        flow.stop()
        doubled = {k: n for k, n in s.raw_keys().items() if n > 1}
        s.result.note = f"exit 0 in {took:.1f}s; sent twice to Kafka: {len(doubled)}"
        assert not doubled, f"a graceful stop re-emitted {len(doubled)} articles"
        s.finish(recovery)


def test_kafka_stopped(fault_stack: Stack, hook: Hook, logs: Path, host: FeedHost) -> None:
    s = Scenario(f"Kafka stopped {OUTAGE:.0f}s", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        # the feeds keep growing through the outage and after it: 18 ticks of 2.5 s
        flow = connector_flow(s, host, "kf", 800, tick=2.5)
        s.worker("worker")
        s.connector("connector")
        start_flowing(s, flow, 1)
        shown = sum(flow.shown.values())
        try:
            fault_stack.kafka.stop()
            time.sleep(OUTAGE)
            s.check_alive()
        finally:
            restarted = time.monotonic()
            fault_stack.up()
        grown = sum(flow.shown.values()) - shown
        assert grown >= FEEDS, "the feeds did not grow during the outage: it proves nothing"
        s.result.note = f"{grown} new items in the feeds during the outage"
        recovery = s.wait_indexed(240, since=restarted)
        flow.stop()
        s.finish(recovery)


# -- the worker ------------------------------------------------------------------------------


def test_worker_killed_mid_batch(fault_stack: Stack, hook: Hook, logs: Path) -> None:
    s = Scenario("worker kill -9 mid-batch", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        items = make_items("wk", 0, 1000)
        s.expect(items)
        first = s.worker("worker-1", MEDIAMON_INDEX_BATCH_SIZE="100")
        producing = in_background(s.produce, [raw_article(i) for i in items], 0.5)
        wait_until(lambda: len(s.indexed()) >= 150, 120, "the first batches", s)
        s.kill(first)
        at_kill = len(s.indexed())
        assert at_kill < len(items), "all indexed before the kill: the test proves nothing"
        producing.join()
        restarted = time.monotonic()
        s.worker("worker-2", MEDIAMON_INDEX_BATCH_SIZE="100")
        recovery = s.wait_indexed(180, since=restarted)
        s.result.note = f"{at_kill} indexed at the kill"
        s.finish(recovery)


def test_worker_sigterm(fault_stack: Stack, hook: Hook, logs: Path) -> None:
    s = Scenario("worker SIGTERM", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        items = make_items("wt", 0, 600)
        s.expect(items)
        first = s.worker("worker-1", MEDIAMON_INDEX_BATCH_SIZE="100")
        producing = in_background(s.produce, [raw_article(i) for i in items], 0.5)
        wait_until(lambda: len(s.indexed()) >= 100, 120, "the first batches", s)
        code, took = s.sigterm(first, EXIT_BOUND)
        assert code == 0 and took <= EXIT_BOUND, f"exit {code} after {took:.1f}s\n{s.tails()}"
        producing.join()
        restarted = time.monotonic()
        s.worker("worker-2", MEDIAMON_INDEX_BATCH_SIZE="100")
        recovery = s.wait_indexed(180, since=restarted)
        s.result.note = f"exit 0 in {took:.1f}s"
        s.finish(recovery)


def indexing(*workers: ServiceProcess) -> bool:
    """Every one of these workers has indexed a batch (so each holds partitions)."""
    return all("index batch=" in w.log_path.read_text() for w in workers)


def test_two_workers_one_killed(fault_stack: Stack, hook: Hook, logs: Path) -> None:
    s = Scenario("rebalance: 1 of 2 workers killed", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        items = make_items("rb", 0, 1200)
        s.expect(items)
        a = s.worker("worker-a", MEDIAMON_INDEX_BATCH_SIZE="100")
        b = s.worker("worker-b", MEDIAMON_INDEX_BATCH_SIZE="100")
        producing = in_background(s.produce, [raw_article(i) for i in items], 1.0)

        wait_until(lambda: indexing(a, b), 120, "both workers indexing", s)
        s.kill(b)
        killed = time.monotonic()
        assert len(s.indexed()) < len(items), "all indexed before the kill"
        producing.join()
        recovery = s.wait_indexed(90, since=killed)
        assert a.running, s.tails()
        s.finish(recovery)
        for worker in (a, b):
            early = handled_during_recovery(worker.log_path.read_text())
            assert not early, f"{worker.name} handled messages during its recovery: {early[:3]}"


def test_elasticsearch_stopped(fault_stack: Stack, hook: Hook, logs: Path) -> None:
    s = Scenario(f"Elasticsearch stopped {OUTAGE:.0f}s", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        items = make_items("es", 0, 600)
        s.expect(items)
        worker = s.worker("worker")
        # about 40 s of steady flow: before, through and after the outage
        producing = in_background(s.produce, [raw_article(i) for i in items], 3.0)
        try:
            wait_until(lambda: len(s.indexed()) >= 100, 120, "the flow", s)
            fault_stack.elasticsearch.stop()
            time.sleep(OUTAGE)
            assert worker.running, s.tails()
        finally:
            restarted = time.monotonic()
            fault_stack.up()
        producing.join()
        recovery = s.wait_indexed(240, since=restarted)
        s.finish(recovery)
        assert "bulk failed, retrying" in worker.log_path.read_text(), "the outage never showed"


def test_rebalance_while_elasticsearch_is_down(fault_stack: Stack, hook: Hook, logs: Path) -> None:
    """One of two workers leaves while both wait for Elasticsearch: the rebalance must not
    wait for the server. Faust waits for in-flight batches before it gives partitions up; a
    batch retrying until the server is back held the whole group for the outage (and past
    the rebalance timeout, the member is dropped from the group)."""
    s = Scenario("rebalance while Elasticsearch is down", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        items = make_items("rd", 0, 900)
        s.expect(items)
        a = s.worker("worker-a", MEDIAMON_INDEX_BATCH_SIZE="100")
        b = s.worker("worker-b", MEDIAMON_INDEX_BATCH_SIZE="100")
        producing = in_background(s.produce, [raw_article(i) for i in items], 2.0)

        try:
            wait_until(lambda: indexing(a, b), 120, "both workers indexing", s)
            fault_stack.elasticsearch.stop()
            down = time.monotonic()
            wait_until(
                # bulk, stray-copy check or rule matching: whichever call the outage caught
                lambda: "failed, retrying in" in a.log_path.read_text(),
                60,
                "worker-a's batch waiting for Elasticsearch",
                s,
            )
            ready_before = a.log_path.read_text().count("Worker ready")
            code, took = s.sigterm(b, EXIT_BOUND)
            assert code == 0 and took <= EXIT_BOUND, f"exit {code} after {took:.1f}s"
            wait_until(
                lambda: a.log_path.read_text().count("Worker ready") > ready_before,
                45,
                "worker-a's rebalance while Elasticsearch is down",
                s,
            )
            s.result.note = f"rebalanced {time.monotonic() - down:.1f}s into the outage"
            time.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))
            assert a.running, s.tails()
        finally:
            restarted = time.monotonic()
            fault_stack.up()
        producing.join()
        recovery = s.wait_indexed(240, since=restarted)
        s.finish(recovery)


def write_rejections(server: ElasticsearchServer) -> int:
    with urllib.request.urlopen(f"{server.url}/_nodes/_local/stats/thread_pool", timeout=10) as r:
        nodes = json.loads(r.read())["nodes"]
    return sum(n["thread_pool"]["write"]["rejected"] for n in nodes.values())


def bulk_load(url: str, stop: threading.Event) -> None:
    """Other writers on the node: bulk requests into an unrelated index, back to back."""
    lines = "".join(
        '{"index":{}}\n' + json.dumps({"n": n, "text": "load " * 20}) + "\n" for n in range(200)
    ).encode()
    while not stop.is_set():
        req = urllib.request.Request(
            f"{url}/fault-load/_bulk", lines, {"Content-Type": "application/x-ndjson"}
        )
        try:
            urllib.request.urlopen(req, timeout=30).read()
        except OSError:
            time.sleep(0.1)


def test_elasticsearch_429_under_load(
    fault_stack: Stack, tiny_queue_es: ElasticsearchServer, hook: Hook, logs: Path
) -> None:
    tiny = {
        "MEDIAMON_ES_URL": tiny_queue_es.url,
        "MEDIAMON_ES_SHARDS": "3",  # a bulk request becomes three write tasks
    }
    s = Scenario("Elasticsearch 429 (tiny write queue)", {**FAULT_VARS, **tiny}, logs, hook)
    with scenario_result(s):
        s.prepare()
        items = make_items("tq", 0, 600)
        s.expect(items)
        rejected_before = write_rejections(tiny_queue_es)
        stop = threading.Event()
        loaders = [in_background(bulk_load, tiny_queue_es.url, stop) for _ in range(2)]
        worker = s.worker("worker")
        s.produce([raw_article(i) for i in items], 1.0)
        try:
            wait_until(lambda: len(s.indexed()) >= 300, 180, "half indexed under load", s)
        finally:
            stop.set()
            for loader in loaders:
                loader.join(30)
        load_ended = time.monotonic()
        recovery = s.wait_indexed(240, since=load_ended)
        rejected = write_rejections(tiny_queue_es) - rejected_before
        retried = worker.log_path.read_text().count("documents to retry")
        s.result.note = f"write rejections on the node: {rejected}; retried batches: {retried}"
        s.finish(recovery)
        assert rejected > 0, "the node never refused a write: no 429 was tested"
        assert retried > 0, "the worker never retried a 429: the test proves nothing"


# -- poison messages -------------------------------------------------------------------------


def poison(s: Scenario, key: str, value: bytes, max_request: int = 1_048_576) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=s.settings.kafka_bootstrap, acks="all", max_request_size=max_request
        )
        await producer.start()
        try:
            await producer.send_and_wait(s.settings.topic(topics.RAW), value, key=key.encode())
        finally:
            await producer.stop()

    run(send())


def test_poison_messages(fault_stack: Stack, hook: Hook, logs: Path) -> None:
    s = Scenario("poison: not JSON, schema, mapping", FAULT_VARS, logs, hook)
    with scenario_result(s):
        s.prepare()
        items = make_items("pm", 0, 300)
        s.expect(items)
        good = [raw_article(i) for i in items]
        s.worker("worker")
        s.produce(good[:100])
        poison(s, "poison-not-json", b"\x00\xffthis is not JSON {")
        poison(s, "poison-schema", json.dumps({"headline": "no id", "schema": 1}).encode())
        # passes the record schema and enrichment; Elasticsearch refuses a keyword term
        # longer than 32,766 bytes (the strict mapping's `authors` field)
        immense = raw_article(make_items("pm-map", 0, 1)[0]).model_copy(
            update={"id": "poison-mapping", "authors": ["x" * 40_000]}
        )
        poison(s, "poison-mapping", immense.to_json())
        s.produce(good[100:])
        recovery = s.wait_indexed(180)
        expect_dead_letters(
            s,
            {
                "poison-not-json": (topics.RAW_DLQ, "enrich", "BadRecordError", "json"),
                "poison-schema": (topics.RAW_DLQ, "enrich", "BadRecordError", "id"),
                "poison-mapping": (topics.ENRICHED_DLQ, "index", "BadRecordError", "[authors]"),
            },
        )
        s.finish(recovery, dead_lettered=3)


def expect_dead_letters(s: Scenario, wanted: dict[str, tuple[str, str, str, str]]) -> None:
    """Each poison key in its dead-letter topic with stage, error class and a reason."""
    for key, (topic, stage, error_class, reason) in wanted.items():

        def found(key: str = key, topic: str = topic) -> list[DeadLetter]:
            return [d for d in s.dead_letters(topic) if d.key == key.encode()]

        (letter,) = wait_until(found, 60, f"{key} in {topic}", s)
        headers = letter.headers
        assert headers["mediamon-stage"] == stage, headers
        assert headers["mediamon-error-class"] == error_class, headers
        assert reason.lower() in headers["mediamon-error"].lower(), headers
        assert headers["mediamon-source"].startswith(s.settings.topic("articles.")), headers


BIG = 5 * 1024 * 1024


def big_topic(s: Scenario) -> None:
    """articles.raw created to take 8 MB messages (topic-level max.message.bytes), so the
    5 MB article reaches the worker: the broker refusing it would test the broker."""

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=s.settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(
                        s.settings.topic(topics.RAW),
                        s.settings.topic_partitions,
                        1,
                        topic_configs={"max.message.bytes": str(8 * 1024 * 1024)},
                    )
                ]
            )
        finally:
            await admin.close()

    asyncio.run(create())


def test_poison_5mb_article(fault_stack: Stack, hook: Hook, logs: Path) -> None:
    s = Scenario("poison: 5 MB article", FAULT_VARS, logs, hook)
    with scenario_result(s):
        big_topic(s)
        s.prepare()
        items = make_items("big", 0, 200)
        s.expect(items)
        good = [raw_article(i) for i in items]
        worker = s.worker("worker")
        s.produce(good[:100])
        article = raw_article(make_items("big-poison", 0, 1)[0])
        huge = article.model_dump(mode="json", by_alias=True)
        huge |= {"id": "poison-5mb", "content_html": f"<p>{KEYWORD} " + "y" * BIG + "</p>"}
        poison(s, "poison-5mb", json.dumps(huge).encode(), max_request=8 * 1024 * 1024)
        s.produce(good[100:])
        recovery = s.wait_indexed(60)
        expect_dead_letters(
            s, {"poison-5mb": (topics.RAW_DLQ, "enrich", "BadRecordError", "content_html")}
        )
        assert worker.running, s.tails()
        s.finish(recovery, dead_lettered=1)
