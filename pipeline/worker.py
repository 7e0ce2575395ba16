"""Running the Faust worker: prepare topics and the index, then start the agents."""

from __future__ import annotations

import asyncio
import logging
import time

from pipeline.errors import StackError
from pipeline.settings import Settings

log = logging.getLogger(__name__)


async def prepare(settings: Settings, wait_seconds: float = 120.0) -> None:
    """Create topics and the Elasticsearch template/alias, waiting for both services."""
    from pipeline.adapters.elastic import ensure_alerts_index, ensure_articles_index, make_client
    from pipeline.adapters.kafka import ensure_topics

    deadline = time.monotonic() + wait_seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            await ensure_topics(settings)
            es = make_client(settings)
            try:
                await ensure_articles_index(es, settings)
                await ensure_alerts_index(es, settings)
            finally:
                await es.close()
            return
        except Exception as exc:  # either service may still be starting
            last = exc
            log.info("waiting for Kafka/Elasticsearch: %s", exc)
            await asyncio.sleep(2)
    raise StackError(
        f"Kafka ({settings.kafka_bootstrap}) or Elasticsearch ({settings.es_url}) not reachable "
        f"after {wait_seconds:.0f}s: {last}"
    )


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    asyncio.run(prepare(settings))
    import faust

    from pipeline.agents import alerts, enrich, heartbeat, index, retry  # noqa: F401  explicit discovery
    from pipeline.app import app
    from pipeline.health import serve

    heartbeat.health.check("elasticsearch", index.elasticsearch_ready)
    serve(heartbeat.health, settings.worker_metrics_port, settings.health_bind)

    worker = faust.Worker(app, loglevel=loglevel)
    worker.execute_from_commandline()
