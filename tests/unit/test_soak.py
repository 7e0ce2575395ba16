"""The soak benchmark's verdicts: RSS flatness and lag boundedness from samples."""

from __future__ import annotations

import os
from collections.abc import Sequence

from benchmarks.measure import descendants, memory
from benchmarks.soak import boundedness, flatness, slope


def series(values: Sequence[float], every: float = 10.0) -> list[tuple[float, float]]:
    return [(n * every, v) for n, v in enumerate(values)]


def test_flat_rss_within_the_band() -> None:
    # warm-up 60 s at ~100 MB, then wobbling by up to 8 %
    points = series([50, 80, 100, 100, 100, 100, 100, 104, 96, 108, 101, 100])
    got = flatness(points, warmup=60, end=110, limit_pct=10, window=30)
    assert got["warmup_mb"] == 100
    assert got["max_dev_pct"] == 8.0
    assert got["flat"] is True


def test_growing_rss_is_not_flat() -> None:
    points = series([100] * 7 + [105, 110, 115, 120])
    got = flatness(points, warmup=60, end=100, limit_pct=10, window=30)
    assert got["flat"] is False
    assert got["max_dev_pct"] == 20.0
    assert got["change_pct"] == 15.0  # t 80-100 s average 115


def test_samples_after_the_end_are_not_judged() -> None:
    points = series([100] * 10 + [300])  # the drain: t=100
    assert flatness(points, warmup=30, end=90, limit_pct=10, window=20)["flat"] is True


def test_no_samples_after_the_warmup_gives_no_verdict() -> None:
    assert flatness(series([100, 100]), warmup=60, end=60, limit_pct=10)["flat"] is None


def test_lag_that_comes_and_goes_is_bounded() -> None:
    points = series([0, 900, 40, 300, 0, 200, 350, 10, 0, 120, 0])
    got = boundedness(points, warmup=10, end=100, floor=250)
    assert got["bounded"] is True
    assert got["max"] == 900
    assert got["at_end"] == 0


def test_lag_that_keeps_growing_is_not() -> None:
    points = series([n * 100.0 for n in range(11)])
    got = boundedness(points, warmup=10, end=100, floor=250)
    assert got["bounded"] is False
    assert got["slope_per_min"] == 600.0


def test_slope_of_flat_and_short_series() -> None:
    assert slope(series([5, 5, 5])) == 0.0
    assert slope([(0.0, 1.0)]) == 0.0


def test_this_process_is_its_own_tree_and_has_memory() -> None:
    assert descendants(os.getpid())[0] == os.getpid()
    mem = memory([os.getpid()])
    assert mem["rss"] > 0
    assert 0 < mem["anon"] <= mem["rss"]
