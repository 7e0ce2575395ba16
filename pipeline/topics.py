"""The topology, declared once: every Kafka topic and the stages between them.

`STAGES` drives the Faust app (pipeline.app builds one topic per name, pipeline.agents one
agent per stage), `mediamon setup kafka` (every topic), `mediamon status` (consumed topics'
lag, dead-letter counts) and the README's architecture table (tests/unit/test_topology.py
checks it against `markdown_table()`). The names of retry and dead-letter topics follow one
convention: `<input>.retry`, `<input>.dlq`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.settings import Settings

RAW = "articles.raw"
# enriched but not yet grouped: every article passes one partition, so copies meet
TAGGED = "articles.tagged"
ENRICHED = "articles.enriched"
RAW_DLQ = f"{RAW}.dlq"
TAGGED_DLQ = f"{TAGGED}.dlq"
ENRICHED_DLQ = f"{ENRICHED}.dlq"
# transient failures wait here, then go back to their topic (pipeline.failures)
ENRICHED_RETRY = f"{ENRICHED}.retry"

ALERTS = "alerts"
ALERTS_DLQ = f"{ALERTS}.dlq"
ALERTS_RETRY = f"{ALERTS}.retry"
ALERT_TICKS = "alerts.ticks"
ALERTS_VOLUME = "alerts.volume"


@dataclass(frozen=True)
class Stage:
    """One agent: what it reads, what it writes, where its failures go, how it is keyed."""

    name: str
    input: str
    outputs: tuple[str, ...]
    key: str
    does: str
    retry: str | None = None
    dead_letter: str | None = None
    # a stage fed back by its retry topic's agent is not "consumed" work of its own for lag
    internal: bool = False


STAGES: tuple[Stage, ...] = (
    Stage(
        "enrich",
        RAW,
        (TAGGED,),
        key="article id",
        does="clean HTML, language, topics, SimHash fingerprint",
        dead_letter=RAW_DLQ,
    ),
    Stage(
        "group",
        TAGGED,
        (ENRICHED,),
        key="one partition",
        does="story ids: every article meets every recent fingerprint, on any worker",
        dead_letter=TAGGED_DLQ,
    ),
    Stage(
        "index",
        ENRICHED,
        (ALERTS, ALERTS_VOLUME),
        key="article id",
        does="bulk into Elasticsearch, then match the alert rules over the batch",
        retry=ENRICHED_RETRY,
        dead_letter=ENRICHED_DLQ,
    ),
    Stage(
        "retry-index",
        ENRICHED_RETRY,
        (ENRICHED,),
        key="article id",
        does="send a deferred article back once its backoff has passed",
        internal=True,
    ),
    Stage(
        "deliver",
        ALERTS,
        (),
        key="rule id",
        does="deliver each alert once per rule and article (throttle, digest)",
        retry=ALERTS_RETRY,
        dead_letter=ALERTS_DLQ,
    ),
    Stage(
        "retry-alerts",
        ALERTS_RETRY,
        (ALERTS,),
        key="rule id",
        does="send a failed delivery back once its backoff has passed",
        internal=True,
    ),
    Stage(
        "volume",
        ALERTS_VOLUME,
        (ALERTS,),
        key="rule id",
        does="count matches per rule in time buckets; one alert per surge",
        dead_letter=ALERTS_DLQ,
    ),
    Stage(
        "digest",
        ALERT_TICKS,
        (),
        key="rule id",
        does="send a rule's digest when its window ends (ticks from a timer)",
        internal=True,
    ),
)


def _unique(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


ALL: tuple[str, ...] = _unique(
    [
        name
        for stage in STAGES
        for name in (stage.input, *stage.outputs, stage.retry, stage.dead_letter)
        if name
    ]
)
DEAD_LETTERS: tuple[str, ...] = _unique([s.dead_letter for s in STAGES if s.dead_letter])
# the topics whose consumer lag says how far behind the pipeline is
CONSUMED: tuple[str, ...] = tuple(s.input for s in STAGES if not s.internal)


def stage(name: str) -> Stage:
    """The stage called `name` (KeyError names the known ones)."""
    for candidate in STAGES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no stage {name!r}; stages: {', '.join(s.name for s in STAGES)}")


# Topics with one partition whatever MEDIAMON_TOPIC_PARTITIONS says: story grouping must see
# every fingerprint in one place (docs/decisions.md, "Stories across workers").
ONE_PARTITION: frozenset[str] = frozenset({TAGGED})


def partitions(name: str, settings: Settings) -> int:
    """How many partitions the topic of logical `name` has."""
    return 1 if name in ONE_PARTITION else settings.topic_partitions


def names(settings: Settings) -> dict[str, str]:
    """Logical name -> actual topic name, with the settings' namespace applied."""
    return {name: settings.topic(name) for name in ALL}


def markdown_table() -> str:
    """The stages as the README's architecture table."""
    rows = [
        "| stage | reads | writes | retry | dead letters | key | does |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in STAGES:
        writes = ", ".join(f"`{o}`" for o in s.outputs) or "channels"
        if s.name == "index":
            writes = f"Elasticsearch, {writes}"
        rows.append(
            f"| {s.name} | `{s.input}` | {writes} | "
            f"{f'`{s.retry}`' if s.retry else ''} | "
            f"{f'`{s.dead_letter}`' if s.dead_letter else ''} | {s.key} | {s.does} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
