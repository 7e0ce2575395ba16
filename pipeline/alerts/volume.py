"""Volume rules: is a rule's coverage in its last window a surge against its baseline, and
the alert to raise for it (once per window).

Counts live in time buckets (a tumbling windowed Faust table in the worker); this module
only does the arithmetic and builds the alert, on a function that returns the count of the
bucket `k` buckets before the current one, so it is tested without Kafka."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pipeline.alerts.rules import KeywordRule, VolumeRule, parse_span
from pipeline.schema import MAX_TITLE, AlertEvent


@dataclass(frozen=True)
class Surge:
    current: int  # articles in the last window
    baseline: float  # average articles per window over the baseline span before it
    ratio: float | None  # current / baseline; None when the baseline saw nothing

    def describe(self, rule: VolumeRule) -> str:
        times = f"{self.ratio:.1f}x" if self.ratio is not None else "up from none"
        return (
            f"{self.current} articles in the last {rule.window} ({times} the average of "
            f"{self.baseline:.1f} per {rule.window} over the previous {rule.baseline})"
        )


def buckets(span: str, bucket_seconds: float) -> int:
    return max(1, round(parse_span(span).total_seconds() / bucket_seconds))


def evaluate(rule: VolumeRule, count: Callable[[int], int], bucket_seconds: float) -> Surge | None:
    """A Surge when the last window has at least `min_count` articles and at least `factor`
    times the baseline average; None otherwise."""
    window = buckets(rule.window, bucket_seconds)
    baseline = buckets(rule.baseline, bucket_seconds)
    current = sum(count(k) for k in range(window))
    if current < rule.min_count:
        return None
    before = sum(count(k) for k in range(window, window + baseline))
    average = before / (baseline / window)
    if average and current < rule.factor * average:
        return None
    return Surge(current, average, current / average if average else None)


def volume_alert(
    rule: KeywordRule | VolumeRule | None,
    count: Callable[[int], int],
    bucket_seconds: float,
    now: datetime,
    last_reported: str | None,
) -> AlertEvent | None:
    """The alert to raise for `rule` now: None unless it is an enabled volume rule whose
    last window is a surge that was not reported yet (`last_reported`: when this rule last
    raised one, ISO 8601; one alert per window). The caller records `now` when it sends."""
    if not isinstance(rule, VolumeRule) or not rule.enabled:
        return None
    surge = evaluate(rule, count, bucket_seconds)
    if surge is None:
        return None
    if last_reported and now - datetime.fromisoformat(last_reported) < parse_span(rule.window):
        return None  # this surge has been reported
    key = f"volume:{now:%Y%m%dT%H%M%S}"
    return AlertEvent(
        id=f"{rule.id}:{key}",
        kind="volume",
        rule_id=rule.id,
        rule_name=rule.name or rule.id,
        article_id=key,
        story_id=key,
        # a rule's name has no length limit; the event's title has the article's
        title=f"{rule.name or rule.id}: {surge.describe(rule)}"[:MAX_TITLE],
        enriched_at=now,
        channels=rule.channels,
        detail={"current": surge.current, "baseline": surge.baseline, "ratio": surge.ratio},
    )
