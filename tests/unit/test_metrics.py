"""The connector's Prometheus endpoint."""

from __future__ import annotations

import socket
import urllib.request

from connectors import metrics


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_endpoint_serves_per_feed_counters() -> None:
    port = _free_port()
    assert metrics.serve(port)
    metrics.POLLS.labels("feed-a", "not_modified").inc()
    metrics.NOT_MODIFIED.labels("feed-a").inc()
    metrics.ITEMS.labels("feed-a").inc(3)
    metrics.ERRORS.labels("feed-b", "transient").inc()
    metrics.LATENCY.labels("feed-a").observe(0.2)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'mediamon_feed_polls_total{feed="feed-a",result="not_modified"} 1.0' in text
    assert 'mediamon_feed_items_emitted_total{feed="feed-a"} 3.0' in text
    assert 'mediamon_feed_errors_total{feed="feed-b",kind="transient"} 1.0' in text
    assert 'mediamon_feed_poll_seconds_count{feed="feed-a"} 1.0' in text
    assert not metrics.serve(port)  # taken now: reported, not raised


def test_metrics_disabled_with_port_zero() -> None:
    assert not metrics.serve(0)
