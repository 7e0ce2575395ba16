"""Prometheus metrics of the worker's stages (served by pipeline.health with the probes)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Histogram


def seconds(name: str, doc: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> Histogram:
    """A duration histogram in seconds (Prometheus' base unit), with buckets chosen for
    what it times; the connector's metrics use it too."""
    return Histogram(name, doc, labels, buckets=tuple(buckets))


ENRICHED = Counter("mediamon_enrich_articles_total", "Raw articles by outcome", ["result"])
GROUPED = Counter(
    "mediamon_group_articles_total", "Articles by story: a copy of a known one, or new", ["result"]
)
INDEXED = Counter("mediamon_index_documents_total", "Documents by outcome", ["result"])
INDEX_RETRIES = Counter("mediamon_index_retries_total", "Bulk requests retried")
INDEX_BATCH = seconds(
    "mediamon_index_batch_seconds",
    "Indexing of one batch until Elasticsearch holds it, rule matching included",
    (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
ALERTS_MATCHED = Counter("mediamon_alerts_matched_total", "Alert events raised", ["kind"])
RULES_PRESELECTED = Counter(
    "mediamon_rules_preselected_total",
    "Rules per batch searched (the batch can match them) or skipped by the pre-selection",
    ["result"],
)
ALERTS_HANDLED = Counter(
    "mediamon_alerts_handled_total",
    "Alert events by outcome (sent, duplicate, story_copy, throttled, failed)",
    ["status"],
)
ALERT_LATENCY = seconds(
    "mediamon_alert_latency_seconds",
    "From an article's enrichment to its alert's delivery",
    (0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
DEAD_LETTERS = Counter("mediamon_dead_letters_total", "Messages dead-lettered", ["stage"])
RETRIED = Counter(
    "mediamon_retried_total", "Messages sent to a retry topic (transient failure)", ["stage"]
)
TAXONOMY_RELOADS = Counter(
    "mediamon_taxonomy_reloads_total", "Taxonomy re-reads by the worker, by outcome", ["result"]
)
