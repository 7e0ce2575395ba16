"""Running the Faust worker: prepare topics and the index, build the app, start the agents."""

from __future__ import annotations

import asyncio
import logging
import time

import faust
from elasticsearch import AsyncElasticsearch, AuthorizationException

from pipeline import faust_fixes
from pipeline.adapters.elastic import make_client
from pipeline.adapters.kafka_admin import ensure_topics
from pipeline.agents import register_all
from pipeline.alerts.rules import rules_summary
from pipeline.alerts.store import ensure_alerts_index
from pipeline.app import create_app
from pipeline.errors import StackError
from pipeline.health import serve
from pipeline.indexing.layout import ensure_articles_index
from pipeline.settings import Settings

log = logging.getLogger(__name__)


async def prepare(settings: Settings, wait_seconds: float = 120.0) -> None:
    """Create topics and the Elasticsearch template/alias, waiting for both services."""
    deadline = time.monotonic() + wait_seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            await ensure_topics(settings)
            es = make_client(settings)
            try:
                await _ensure_indices(es, settings)
            finally:
                await es.close()
            return
        except StackError:
            raise
        except Exception as exc:  # either service may still be starting
            last = exc
            log.info("waiting for Kafka/Elasticsearch: %s", exc)
            await asyncio.sleep(2)
    raise StackError(
        f"Kafka ({settings.kafka_bootstrap}) or Elasticsearch ({settings.es_url}) not reachable "
        f"after {wait_seconds:.0f}s: {last}"
    )


async def _ensure_indices(es: AsyncElasticsearch, settings: Settings) -> None:
    """Install the templates, index and alias; a worker whose role may not (least privilege:
    that is `mediamon setup`'s job) checks that setup has done it instead."""
    try:
        await ensure_articles_index(es, settings)
        await ensure_alerts_index(es, settings)
    except AuthorizationException:
        alias, alerts = settings.articles_alias, settings.alerts_index
        missing = [alias] if not await es.indices.exists_alias(name=alias) else []
        missing += [alerts] if not await es.indices.exists(index=alerts) else []
        if missing:
            raise StackError(
                f"{', '.join(missing)} missing, and these credentials may not create it: run "
                "`mediamon setup elasticsearch` with setup's credentials first"
            ) from None
        log.info("index templates and aliases are in place (installed by setup)")


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    faust_fixes.check_version()  # refuse an unchecked faust-streaming before any waiting
    # Faust creates its data directory without parents: a fresh volume has none
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    alerts_on, line = rules_summary(settings.rules_file)
    log.log(logging.INFO if alerts_on else logging.WARNING, "%s", line)
    asyncio.run(prepare(settings))
    # after asyncio.run: Faust takes the event loop that is current when the App is built
    wiring = create_app(settings)
    register_all(wiring)
    serve(wiring.health, settings.worker_metrics_port, settings.health_bind)
    worker = faust.Worker(wiring.app, loglevel=loglevel)
    worker.execute_from_commandline()
