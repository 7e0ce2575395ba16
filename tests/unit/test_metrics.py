"""The health endpoints: /metrics (Prometheus), /healthz (the loop turns), /readyz (checks)."""

from __future__ import annotations

import json

from connectors import metrics
from pipeline.health import Health, serve
from tests.support.net import free_port, http_get


def test_metrics_endpoint_serves_per_feed_counters() -> None:
    port = free_port()
    server = serve(Health(), port)
    assert server is not None
    metrics.POLLS.labels("feed-a", "not_modified").inc()
    metrics.NOT_MODIFIED.labels("feed-a").inc()
    metrics.ITEMS.labels("feed-a").inc(3)
    metrics.ERRORS.labels("feed-b", "transient").inc()
    metrics.LATENCY.labels("feed-a").observe(0.2)
    status, text = http_get(port, "/metrics")
    assert status == 200
    assert 'mediamon_feed_polls_total{feed="feed-a",result="not_modified"} 1.0' in text
    assert 'mediamon_feed_items_emitted_total{feed="feed-a"} 3.0' in text
    assert 'mediamon_feed_errors_total{feed="feed-b",kind="transient"} 1.0' in text
    assert 'mediamon_feed_poll_seconds_count{feed="feed-a"} 1.0' in text
    assert serve(Health(), port) is None  # taken now: reported, not raised
    server.shutdown()
    server.server_close()


def test_liveness_follows_the_heartbeat_and_readiness_the_checks() -> None:
    port = free_port()
    health = Health(stale_after=0.5)
    kafka_ok = {"value": True}
    health.check("kafka", lambda: kafka_ok["value"])
    health.check("broken", lambda: 1 / 0 == 0)  # a probe that raises counts as failing
    server = serve(health, port)
    assert server is not None
    try:
        assert http_get(port, "/healthz")[0] == 200
        status, body = http_get(port, "/readyz")
        assert status == 503 and json.loads(body)["broken"] is False
        health.check("broken", lambda: True)
        assert http_get(port, "/readyz")[0] == 200
        kafka_ok["value"] = False
        assert http_get(port, "/readyz")[0] == 503
        health._beat -= 10  # the loop stopped turning
        assert http_get(port, "/healthz")[0] == 503
        assert http_get(port, "/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_endpoints_disabled_with_port_zero() -> None:
    assert serve(Health(), 0) is None
