"""Prometheus metrics of the connector, per feed and in total (sum over the feed label);
served by pipeline.health with /healthz and /readyz."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge

from pipeline.metrics import seconds

log = logging.getLogger(__name__)

POLLS = Counter("mediamon_feed_polls_total", "Feed polls by result", ["feed", "result"])
NOT_MODIFIED = Counter("mediamon_feed_not_modified_total", "Polls answered 304", ["feed"])
ITEMS = Counter("mediamon_feed_items_emitted_total", "Items acknowledged by Kafka", ["feed"])
ERRORS = Counter("mediamon_feed_errors_total", "Poll errors by kind", ["feed", "kind"])
# one web request's worth of seconds; a poll may also wait on Kafka, so it gets a minute
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LATENCY = seconds(
    "mediamon_feed_poll_seconds",
    "Poll latency: fetch, parse and emit",
    (*FETCH_BUCKETS, 60),
    ["feed"],
)
FEEDS = Gauge("mediamon_feeds_configured", "Enabled feeds")
KAFKA_RETRIES = Counter("mediamon_kafka_emit_retries_total", "Emit attempts retried")
PAGES = Counter(
    "mediamon_pages_total",
    "Article pages asked for, by result: page (text used) or why not (robots, "
    "blocked_address, not_html, too_large, http_4xx, paywall, consent_wall, ...)",
    ["result"],
)
PAGE_SECONDS = seconds("mediamon_page_seconds", "Article page: fetch and extraction", FETCH_BUCKETS)
