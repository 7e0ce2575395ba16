"""Volume rules' arithmetic (current window against the average window of the baseline)
and the alert a surge raises, once per window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.alerts.rules import KeywordRule, VolumeRule
from pipeline.alerts.volume import evaluate, volume_alert

RULE = VolumeRule(id="surge", type="volume", window="1h", baseline="24h", factor=3, min_count=5)


def counts(current: list[int], before: list[int]) -> dict[int, int]:
    """Hourly buckets: index 0 is the current hour, then the 24 hours before it."""
    return dict(enumerate(current + before))


def test_a_tripling_fires_and_says_how_much() -> None:
    data = counts([12], [4] * 24)
    surge = evaluate(RULE, lambda k: data.get(k, 0), 3600)
    assert surge is not None and surge.current == 12 and surge.baseline == 4
    assert surge.ratio == 3 and "3.0x the average of 4.0 per 1h" in surge.describe(RULE)


def test_below_the_factor_or_the_minimum_does_not_fire() -> None:
    assert evaluate(RULE, lambda k: counts([11], [4] * 24).get(k, 0), 3600) is None
    quiet = counts([4], [0] * 24)  # 0 -> 4 is "up from none", but under min_count
    assert evaluate(RULE, lambda k: quiet.get(k, 0), 3600) is None


def test_new_coverage_from_nothing_fires_without_a_ratio() -> None:
    data = counts([6], [0] * 24)
    surge = evaluate(RULE, lambda k: data.get(k, 0), 3600)
    assert surge is not None and surge.ratio is None and "up from none" in surge.describe(RULE)


def test_minute_buckets_sum_to_windows() -> None:
    # 60 one-minute buckets of 1 in the last hour; 1 per 12 minutes before (5 per hour)
    data = {k: 1 for k in range(60)} | {k: 1 for k in range(60, 60 + 24 * 60, 12)}
    surge = evaluate(RULE, lambda k: data.get(k, 0), 60)
    assert surge is not None and (surge.current, surge.baseline) == (60, 5)


NOW = datetime(2026, 11, 28, 12, 30, 5, tzinfo=UTC)
SURGE = counts([12], [4] * 24)


def surge_count(k: int) -> int:
    return SURGE.get(k, 0)


def test_a_surge_raises_one_volume_alert() -> None:
    rule = RULE.model_copy(update={"name": "Astana surge", "channels": ["ops"]})
    alert = volume_alert(rule, surge_count, 3600, NOW, None)
    assert alert is not None
    assert alert.id == "surge:volume:20261128T123005" and alert.kind == "volume"
    assert (alert.rule_id, alert.rule_name, alert.channels) == ("surge", "Astana surge", ["ops"])
    assert alert.article_id == alert.story_id == "volume:20261128T123005"
    assert alert.title.startswith("Astana surge: 12 articles in the last 1h (3.0x")
    assert alert.detail == {"current": 12, "baseline": 4.0, "ratio": 3.0}
    assert alert.enriched_at == NOW


def test_a_rule_with_a_very_long_name_still_raises_its_alert() -> None:
    rule = RULE.model_copy(update={"name": "Astana " * 300})
    alert = volume_alert(rule, surge_count, 3600, NOW, None)
    assert alert is not None and len(alert.title) == 1_000
    assert alert.title.startswith("Astana Astana")


def test_a_surge_is_reported_once_per_window() -> None:
    reported = (NOW - timedelta(minutes=59)).isoformat()
    assert volume_alert(RULE, surge_count, 3600, NOW, reported) is None
    long_ago = (NOW - timedelta(hours=1)).isoformat()
    assert volume_alert(RULE, surge_count, 3600, NOW, long_ago) is not None


def test_no_alert_without_a_surge_or_an_enabled_volume_rule() -> None:
    quiet = counts([5], [4] * 24)
    assert volume_alert(RULE, lambda k: quiet.get(k, 0), 3600, NOW, None) is None
    disabled = RULE.model_copy(update={"enabled": False})
    assert volume_alert(disabled, surge_count, 3600, NOW, None) is None
    keyword = KeywordRule(id="surge", query="Astana")
    assert volume_alert(keyword, surge_count, 3600, NOW, None) is None
    assert volume_alert(None, surge_count, 3600, NOW, None) is None  # rule deleted meanwhile
