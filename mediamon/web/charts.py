"""Charts as numbers for the templates to draw in SVG: no chart library, nothing loaded from
the internet, nothing but numbers computed here (labels are escaped by the template)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 600, 160, 4  # the time chart's viewBox


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    count: int
    share: float  # of the largest bar, 0..100 (the bar's width in %)


def bars(pairs: list[tuple[str, int]]) -> list[Bar]:
    top = max((n for _, n in pairs), default=0) or 1
    return [Bar(label, n, round(100 * n / top, 1)) for label, n in pairs]


@dataclass(frozen=True, slots=True)
class Series:
    name: str  # "" is all articles
    points: str  # "x,y x,y ..." in the viewBox
    total: int


@dataclass(frozen=True, slots=True)
class TimeChart:
    series: list[Series]
    first: str
    last: str
    peak: int
    width: int = WIDTH
    height: int = HEIGHT


def over_time(buckets: list[tuple[str, dict[str, int]]], top: int = 5) -> TimeChart | None:
    """Articles per time bucket, in all (the "" series) and for the `top` topics."""
    if len(buckets) < 2:
        return None
    totals: dict[str, int] = {}
    for _, counts in buckets:
        for name, n in counts.items():
            totals[name] = totals.get(name, 0) + n
    names = ["", *sorted((k for k in totals if k), key=lambda k: -totals[k])[:top]]
    peak = max(counts.get("", 0) for _, counts in buckets) or 1
    step = (WIDTH - 2 * PAD) / (len(buckets) - 1)
    series = []
    for name in names:
        points = " ".join(
            f"{PAD + i * step:.1f},{HEIGHT - PAD - (HEIGHT - 2 * PAD) * c.get(name, 0) / peak:.1f}"
            for i, (_, c) in enumerate(buckets)
        )
        series.append(Series(name, points, totals.get(name, 0)))
    return TimeChart(series, buckets[0][0], buckets[-1][0], peak)
