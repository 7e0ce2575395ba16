"""Volume rules' arithmetic: current window against the average window of the baseline."""

from __future__ import annotations

from pipeline.alerts.rules import VolumeRule
from pipeline.alerts.volume import evaluate

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
