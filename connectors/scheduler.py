"""Polling policy: adaptive, jittered intervals with capped backoff (per-host spacing:
pipeline/adapters/hosts.py, shared with the article-page fetcher)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from connectors.feeds import FeedConfig

# Each step moves the interval by this factor: eight quiet polls in a row take a 5-minute
# feed to ~21 minutes, four busy ones back down to ~95 s (within the feed's bounds).
SPEED_UP = 0.75
SLOW_DOWN = 1.2
JITTER = 0.1


class Outcome(Enum):
    NEW_ITEMS = "new_items"
    NO_NEW_ITEMS = "no_new_items"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Plan:
    interval: float  # the adapted interval to remember for this feed
    delay: float  # seconds until the next poll (jittered, or the backoff when failing)


def plan_next(
    feed: FeedConfig,
    current: float | None,
    outcome: Outcome,
    failures: int,
    backoff_cap: float,
    rng: random.Random | None = None,
) -> Plan:
    low, high = feed.interval_bounds
    interval = min(high, max(low, current or feed.poll_interval))
    if outcome is Outcome.NEW_ITEMS:
        interval = max(low, interval * SPEED_UP)
    elif outcome in (Outcome.NO_NEW_ITEMS, Outcome.NOT_MODIFIED):
        interval = min(high, interval * SLOW_DOWN)
    delay = interval
    if outcome is Outcome.FAILED:
        delay = min(backoff_cap, feed.poll_interval * 2 ** min(max(failures - 1, 0), 20))
    jitter = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return Plan(interval=interval, delay=delay * jitter)
