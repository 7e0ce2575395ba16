"""Thin Faust agents: read a topic, call a pure stage, write a topic. No business logic.

Each module's `register(wiring)` adds its agents to the App; `register_all` adds them all and
checks that every stage declared in pipeline.topics has its agent."""

from __future__ import annotations

from collections.abc import Callable

from pipeline import topics
from pipeline.agents import alerts, enrich, heartbeat, index, retry, stories
from pipeline.app import Wiring
from pipeline.errors import ConfigError

REGISTER: tuple[Callable[[Wiring], None], ...] = (
    enrich.register,
    stories.register,
    index.register,
    retry.register,
    alerts.register,
    heartbeat.register,
)


def register_all(w: Wiring) -> None:
    for register in REGISTER:
        register(w)
    consumed = {str(a.channel.get_topic_name()) for a in w.app.agents.values()}
    missing = [s.name for s in topics.STAGES if w.settings.topic(s.input) not in consumed]
    if missing:
        raise ConfigError(f"stages without an agent: {', '.join(missing)}")
