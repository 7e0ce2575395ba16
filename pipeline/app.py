"""The one Faust app, built by `create_app(settings)` from the declared topology.

Importing this module defines things and does nothing else: no settings are read, no
App, topic or table exists until the worker calls `create_app` (faust's own guide configures
the App in two steps for the same reason: tests and tools import the code without a broker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import faust

from pipeline import faust_fixes, topics
from pipeline.adapters.kafka import client_options
from pipeline.alerts.catalog import RulesCatalog
from pipeline.health import Health
from pipeline.settings import Settings


def credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The same security settings as pipeline.adapters.kafka gives aiokafka."""
    opts = client_options(settings)  # validates the combination
    protocol = opts["security_protocol"]
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=opts["sasl_plain_username"],
            password=opts["sasl_plain_password"],
            ssl_context=opts.get("ssl_context"),
            mechanism=opts["sasl_mechanism"],
        )
    if protocol == "SSL":
        return faust.SSLCredentials(opts["ssl_context"])
    return None


@dataclass
class Wiring:
    """What the agents are registered on: the App, a Faust topic per declared topic name, the
    tables, the settings and the worker's health checks."""

    app: faust.App
    settings: Settings
    topics: dict[str, faust.TopicT]
    # Near-duplicate grouping state (article id -> [fingerprint, story id]); its changelog
    # topic lets a restarted worker recover it. One partition, like articles.tagged, so
    # every fingerprint is in one place whatever the number of workers.
    stories: Any
    # Alert delivery state: what was sent (once per rule and article), each rule's throttle
    # window and pending digest, the first article of each story per rule. Written only while
    # handling an event of the rule's partition, so it moves with the partition.
    alerts_state: Any
    # Volume rules: articles counted per rule in tumbling time buckets (by message time),
    # kept long enough for the longest baseline; and when each rule last fired.
    volume_counts: Any
    volume_state: Any
    health: Health = field(default_factory=Health)
    # The rules file merged with the alert-rules index, shared by the index agent (matching)
    # and the alerts agent (names, throttles): both refresh it once per batch.
    rules: RulesCatalog = field(init=False)

    def __post_init__(self) -> None:
        self.rules = RulesCatalog(self.settings)

    def topic(self, name: str) -> faust.TopicT:
        """The Faust topic of a declared logical name (pipeline.topics)."""
        return self.topics[name]

    def stopping(self) -> bool:
        """The worker is shutting down, or its partitions are being revoked (a rebalance): a
        batch waiting for a server that is away gives up and stays unacknowledged, so the
        partition's next owner (maybe this worker again) takes it up. Faust waits for
        in-flight batches before it stops or gives partitions up; a batch retrying until
        Elasticsearch is back held the shutdown, or the whole group's rebalance, for the
        outage."""
        return bool(self.app.should_stop) or bool(self.app.rebalancing)


def create_app(settings: Settings) -> Wiring:
    """The App with every declared topic and the tables; agents are added by
    pipeline.agents.register_all. Refuses an unchecked faust-streaming (faust_fixes)."""
    faust_fixes.apply()  # before any consumer exists: messages lost around seeks otherwise
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=credentials(settings),
        autodiscover=False,  # agents are registered from the topology (pipeline.agents)
        processing_guarantee="at_least_once",  # exactly_once has open duplicate/crash bugs
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        table_standby_replicas=0,
        broker_max_poll_records=500,
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        # Faust's default datadir is "<app id>-data" in the working directory
        datadir=str(settings.state_dir / f"{settings.app_id}-data"),
        web_enabled=settings.worker_web_enabled,
        web_port=settings.worker_web_port,
        web_bind="127.0.0.1",
    )
    declared = {
        name: app.topic(
            settings.topic(name),
            key_type=bytes,
            value_type=bytes,
            partitions=topics.partitions(name, settings),
        )
        for name in topics.ALL
    }
    json_schema: Any = faust.Schema(key_serializer="json", value_serializer="json")
    partitions = settings.topic_partitions
    return Wiring(
        app=app,
        settings=settings,
        topics=declared,
        # not "stories": that table's changelog had one partition per articles.raw partition
        stories=app.Table("story-index", partitions=1, schema=json_schema),
        alerts_state=app.Table("alerts-state", partitions=partitions, schema=json_schema),
        volume_counts=(
            app.Table("volume-counts", default=int, partitions=partitions)
            .tumbling(
                settings.volume_bucket_seconds,
                expires=timedelta(days=settings.volume_history_days),
            )
            .relative_to_stream()
        ),
        volume_state=app.Table("volume-state", partitions=partitions, schema=json_schema),
    )
