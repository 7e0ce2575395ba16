"""A running worker takes up a changed taxonomy between batches: every article is enriched
exactly once, the ones before the change without the new topic, the ones after with it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from deploy.processes import ServiceProcess
from mediamon.main import app
from pipeline import topics
from pipeline.schema import RawArticle
from pipeline.settings import Settings
from pipeline.taxonomy import DEFAULT_PATH
from pipeline.worker import prepare
from tests.integration.conftest import Env
from tests.support.net import free_port, http_get
from tests.support.topics import read_at_least

UKRAINE = """
  - id: ukraine
    label: Ukraine
    territory: UA
    language: uk
"""
# the same news in several languages: CLDR's names of Ukraine do the work
LEADS = [
    "Ukraine and its partners met in Geneva to discuss grain exports.",
    "Die Ukraine verhandelt in Genf über Getreideexporte.",
    "L'Ukraine et ses partenaires discutent des exportations de céréales.",
    "Украина обсудила с партнерами экспорт зерна.",
    "Ucraina e partner discutono delle esportazioni di grano.",
]
TOTAL = 240


async def produce_slowly(
    settings: Settings, articles: list[RawArticle], marks: dict[str, float]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for article in articles:
            await producer.send_and_wait(
                settings.topic(topics.RAW), article.to_json(), key=article.id.encode()
            )
            marks[article.id] = time.monotonic()
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()


def ready(port: int) -> bool:
    try:
        return http_get(port, "/readyz")[0] == 200
    except OSError:  # not listening yet
        return False


def test_worker_reloads_taxonomy_without_losing_or_doubling(env: Env, tmp_path: Path) -> None:
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(DEFAULT_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    asyncio.run(prepare(env.settings))
    port = free_port()
    variables = {
        **env.vars,
        "MEDIAMON_WORKER_METRICS_PORT": str(port),
        "MEDIAMON_TAXONOMY_PATH": str(taxonomy),
        "MEDIAMON_TAXONOMY_CHECK_SECONDS": "0",  # only the explicit reload below
    }
    articles = [
        RawArticle(id=f"r{n:04d}", title=f"Grain talks {n}", content_html=LEADS[n % len(LEADS)])
        for n in range(TOTAL)
    ]
    marks: dict[str, float] = {}
    worker = ServiceProcess("worker", ["worker"], variables, env.logs / "worker.log").start()
    try:
        deadline = time.monotonic() + 120
        while not ready(port):
            assert time.monotonic() < deadline and worker.running, worker.tail()
            time.sleep(0.5)
        producing = threading.Thread(
            target=asyncio.run, args=(produce_slowly(env.settings, articles, marks),)
        )
        producing.start()
        while len(marks) < TOTAL // 2:
            time.sleep(0.1)
        with taxonomy.open("a", encoding="utf-8") as f:
            f.write(UKRAINE)
        result = CliRunner().invoke(
            app,
            ["topics", "reload", "--taxonomy", str(taxonomy), "--url", f"http://127.0.0.1:{port}"],
        )
        assert result.exit_code == 0, result.output
        producing.join(120)
        records = asyncio.run(
            read_at_least(env.settings, env.settings.topic(topics.ENRICHED), TOTAL, within=120)
        )
        time.sleep(2)  # anything doubled would arrive after the count was reached
        records += asyncio.run(
            read_at_least(env.settings, env.settings.topic(topics.ENRICHED), TOTAL + 1, within=3)
        )[TOTAL:]
        assert "taxonomy reloaded" in worker.log_path.read_text(), worker.tail()
    finally:
        assert worker.stop() == 0, worker.tail()

    ids = [json.loads(r.value)["id"] for r in records]
    assert sorted(ids) == sorted(a.id for a in articles), "lost or doubled articles"
    # In each partition's order, the old taxonomy and then the new one, never mixed: the
    # swap happens between batches.
    seen: list[bool] = []
    for partition in sorted({r.partition for r in records}):
        flags = [
            "ukraine" in json.loads(r.value)["topics"]
            for r in sorted(records, key=lambda r: r.offset)
            if r.partition == partition
        ]
        assert flags == sorted(flags), f"partition {partition} mixes the taxonomies"
        seen += flags
    assert any(seen) and not all(seen), "expected articles on both sides of the reload"
