"""Every Kafka topic name, dead-letter topics included, declared once."""

from __future__ import annotations

from pipeline.settings import Settings

RAW = "articles.raw"
ENRICHED = "articles.enriched"
RAW_DLQ = "articles.raw.dlq"
ENRICHED_DLQ = "articles.enriched.dlq"
# transient failures wait here, then go back to their topic (pipeline.failures)
ENRICHED_RETRY = "articles.enriched.retry"

ALERTS = "alerts"
ALERTS_DLQ = "alerts.dlq"
ALERT_TICKS = "alerts.ticks"
ALERTS_VOLUME = "alerts.volume"
ALERTS_RETRY = "alerts.retry"

ALL = (
    RAW,
    ENRICHED,
    RAW_DLQ,
    ENRICHED_DLQ,
    ENRICHED_RETRY,
    ALERTS,
    ALERTS_DLQ,
    ALERTS_RETRY,
    ALERT_TICKS,
    ALERTS_VOLUME,
)


def names(settings: Settings) -> dict[str, str]:
    """Logical name -> actual topic name, with the settings' namespace applied."""
    return {name: settings.topic(name) for name in ALL}
