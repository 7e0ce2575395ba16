"""The one Faust app and the topics its agents read and write."""

from __future__ import annotations

from datetime import timedelta

import faust

from pipeline import faust_fixes, topics
from pipeline.settings import get_settings

faust_fixes.apply()  # before any consumer exists: messages lost around seeks otherwise
settings = get_settings()


def _credentials() -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The same security settings as pipeline.adapters.kafka gives aiokafka."""
    from pipeline.adapters.kafka import _common

    opts = _common(settings)  # validates the combination
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


app = faust.App(
    settings.app_id,
    broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
    broker_credentials=_credentials(),
    autodiscover=False,  # the worker imports its agents explicitly (pipeline.worker)
    processing_guarantee="at_least_once",  # exactly_once has open duplicate/crash bugs
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=1,
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


def _topic(name: str) -> faust.TopicT:
    return app.topic(
        settings.topic(name),
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
    )


raw_topic = _topic(topics.RAW)
enriched_topic = _topic(topics.ENRICHED)
raw_dlq_topic = _topic(topics.RAW_DLQ)
enriched_dlq_topic = _topic(topics.ENRICHED_DLQ)
enriched_retry_topic = _topic(topics.ENRICHED_RETRY)

# Near-duplicate grouping state (article id -> [fingerprint, story id]); its changelog topic
# lets a restarted worker recover it. Co-partitioned with articles.raw.
stories_table = app.Table(
    "stories",
    partitions=settings.topic_partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
)

alerts_topic = _topic(topics.ALERTS)
alerts_dlq_topic = _topic(topics.ALERTS_DLQ)
alerts_retry_topic = _topic(topics.ALERTS_RETRY)
# Internal: "look at rule X's digest window" ticks, keyed by rule id like the alerts, so a
# tick lands on the partition (and the worker) that owns the rule's state.
alert_ticks_topic = _topic(topics.ALERT_TICKS)

# Alert delivery state: what was sent (once per rule and article), each rule's throttle window
# and pending digest, the first article of each story per rule. Written only while handling an
# event of the rule's partition, so it moves with the partition on a rebalance.
alerts_state = app.Table(
    "alerts-state",
    partitions=settings.topic_partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
)

alerts_volume_topic = _topic(topics.ALERTS_VOLUME)
# Volume rules: articles counted per rule in tumbling time buckets (by message time), kept long
# enough for the longest baseline; and when each rule last fired, so a surge notifies once.
volume_counts = (
    app.Table("volume-counts", default=int, partitions=settings.topic_partitions)
    .tumbling(settings.volume_bucket_seconds, expires=timedelta(days=settings.volume_history_days))
    .relative_to_stream()
)
volume_state = app.Table(
    "volume-state",
    partitions=settings.topic_partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
)


def stopping() -> bool:
    """The worker is shutting down, or its partitions are being revoked (a rebalance): a
    batch waiting for a server that is away gives up and stays unacknowledged, so the
    partition's next owner (maybe this worker again) takes it up. Faust waits for in-flight
    batches before it stops or gives partitions up; a batch retrying until Elasticsearch is
    back held the shutdown, or the whole group's rebalance, for the outage."""
    return bool(app.should_stop) or bool(app.rebalancing)
