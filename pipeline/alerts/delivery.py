"""Delivering alert events: once per (rule, article), once per story, throttled into digests.

The state (what was sent, each rule's throttle window and pending digest, which story a rule
has already reported) is a mapping: a Faust table in the worker, so it survives restarts and
rebalances; a dict in unit tests. All events of a rule arrive on one partition (key: rule
id), so one worker owns a rule's state at a time. Its keys are this module's format
(`window:<rule>`, `seen:<rule>:<day>`, `channel:...`). Channels are looked up by type in
pipeline.alerts.channels.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from pipeline.alerts.channels import ChannelConfig, ChannelContext, make_channel
from pipeline.alerts.channels.base import Notification, NotifiedArticle
from pipeline.alerts.matching import RuleSource
from pipeline.alerts.rules import Throttle
from pipeline.errors import DeliveryError, DeliveryRefusedError
from pipeline.schema import AlertEvent, carry_over
from pipeline.settings import Settings

log = logging.getLogger(__name__)
MAX_BACKOFF = 8.0  # seconds; a channel asking for a longer wait is retried via the topic
MEMORY_DAYS = 8
_WINDOW = "window:"


def window_key(rule_id: str) -> str:
    """The state key of a rule's throttle window and pending digest."""
    return f"{_WINDOW}{rule_id}"


def rule_of_window_key(key: object) -> str | None:
    """The rule whose window `key` holds; None for any other state key."""
    if isinstance(key, str) and key.startswith(_WINDOW):
        return key.removeprefix(_WINDOW)
    return None


@dataclass
class Outcome:
    """What happened to one event; `documents` go to the alerts index."""

    status: str  # sent | duplicate | story_copy | throttled | retry | failed
    error: str | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)


def _article(event: AlertEvent) -> NotifiedArticle:
    """The event's fields by name (title, url, kind, detail, ...), the article's id as `id`."""
    published = event.published.isoformat() if event.published else None
    return carry_over(event, NotifiedArticle, id=event.article_id, published=published)


class AlertDeliverer:
    def __init__(
        self,
        settings: Settings,
        rules: RuleSource,
        state: MutableMapping[str, Any],
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.state = state
        self.context = ChannelContext(settings, client)
        self.clock = clock
        self.sleep = sleep

    async def aclose(self) -> None:
        """Close the clients channels opened (a Kafka producer); the HTTP client given to
        the constructor stays its owner's to close."""
        await self.context.aclose()

    def _throttle(self, rule_id: str) -> tuple[str, Throttle]:
        rule = self.rules.current().get(rule_id)
        return (rule.name or rule.id, rule.throttle) if rule else (rule_id, Throttle())

    def _window(self, rule_id: str, now: datetime) -> dict[str, Any]:
        window: dict[str, Any] = dict(self.state.get(window_key(rule_id)) or {})
        if not window:
            window = {"start": now.isoformat(), "count": 0, "pending": [], "copies": {}}
        return window

    async def handle(self, event: AlertEvent, last_attempt: bool = True) -> Outcome:
        """Deliver (or throttle, or fold) one alert. A channel that fails transiently gives
        "retry" (send the event again later) unless this is the last attempt: "failed"."""
        if self._memory(event.rule_id, "a", event.article_id) == "sent":
            return Outcome("duplicate")  # re-delivery after a restart or rebalance
        now = self.clock()
        name, throttle = self._throttle(event.rule_id)
        earlier: list[dict[str, Any]] = []
        if self._expired(event.rule_id):
            # the window ended: its digest goes out before this event opens a new one
            flushed = await self.flush(event.rule_id)
            earlier = flushed.documents if flushed else []
        first = self._memory(event.rule_id, "s", event.story_id)
        outcome: Outcome
        window = self._window(event.rule_id, now)
        documents: list[dict[str, Any]] = list(earlier)
        if first and first != event.article_id:
            # another outlet's copy of a story this rule has reported: list it in the digest
            outlet = event.source_name or event.domain or event.url
            window["copies"].setdefault(event.story_id, {"first": first, "outlets": []})
            window["copies"][event.story_id]["outlets"].append(outlet)
            outcome = Outcome("story_copy")
        elif window["count"] < throttle.max:
            note = self._note("alert", event.rule_id, name, [_article(event)])
            error, transient = await self._deliver(event.channels, note)
            if error:
                status = "retry" if transient and not last_attempt else "failed"
                self._remember(event.rule_id, "a", event.article_id, status)
                doc_status = "retrying" if status == "retry" else "failed"
                return Outcome(status, error, [self._doc(event, doc_status, now, error)])
            window["count"] += 1
            self._remember(event.rule_id, "s", event.story_id, event.article_id)
            outcome = Outcome("sent")
        else:
            window["pending"].append(
                {"event": event.model_dump(mode="json"), "at": now.isoformat()}
            )
            self._remember(event.rule_id, "s", event.story_id, event.article_id)
            outcome = Outcome("throttled")
        self.state[window_key(event.rule_id)] = window
        self._remember(event.rule_id, "a", event.article_id, "sent")
        documents.append(self._doc(event, outcome.status, now, None))
        outcome.documents = documents
        return outcome

    # What a rule has sent (articles "a") and which article opened each story ("s") is kept
    # per rule and UTC day for MEMORY_DAYS: a re-delivery comes within minutes of the first
    # (a restart or rebalance), and unbounded keys would grow the table and its changelog.
    def _day_keys(self, rule_id: str) -> list[str]:
        today = self.clock().date()
        return [f"seen:{rule_id}:{today - timedelta(days=d)}" for d in range(MEMORY_DAYS)]

    def _memory(self, rule_id: str, kind: str, key: str) -> Any:
        for day_key in self._day_keys(rule_id):
            value = (self.state.get(day_key) or {}).get(kind, {}).get(key)
            if value is not None:
                return value
        return None

    def _remember(self, rule_id: str, kind: str, key: str, value: str) -> None:
        today_key, *_ = self._day_keys(rule_id)
        day = dict(self.state.get(today_key) or {"a": {}, "s": {}})
        day[kind] = {**day.get(kind, {}), key: value}
        self.state[today_key] = day
        expired = f"seen:{rule_id}:{self.clock().date() - timedelta(days=MEMORY_DAYS)}"
        self.state.pop(expired, None)

    def _expired(self, rule_id: str) -> bool:
        window = self.state.get(window_key(rule_id))
        if not window:
            return False
        _, throttle = self._throttle(rule_id)
        started = datetime.fromisoformat(window["start"])
        return (self.clock() - started).total_seconds() >= throttle.seconds

    def due(self, rule_id: str) -> bool:
        """Whether the rule's window has ended with something to put in a digest."""
        window = self.state.get(window_key(rule_id))
        if not window or not (window["pending"] or window["copies"]):
            return False
        return self._expired(rule_id)

    async def flush(self, rule_id: str) -> Outcome | None:
        """Send the rule's digest if its window has ended; start a new window."""
        if not self.due(rule_id):
            if self._expired(rule_id):
                del self.state[window_key(rule_id)]  # an ended window with nothing to say
            return None
        window = dict(self.state[window_key(rule_id)])
        name, _ = self._throttle(rule_id)
        events = [AlertEvent.model_validate(p["event"]) for p in window["pending"]]
        articles = [_article(e) for e in events]
        for story, copy in window["copies"].items():
            articles.append(NotifiedArticle.already_reported(copy["first"], story, copy["outlets"]))
        channels = events[0].channels if events else self._channels(rule_id)
        note = self._note("digest", rule_id, name, articles)
        error, _ = await self._deliver(channels, note)
        now = self.clock()
        if error:  # the window stays: the next tick tries again
            return Outcome("failed", error)
        self.state[window_key(rule_id)] = {
            "start": now.isoformat(),
            "count": 0,
            "pending": [],
            "copies": {},
        }
        docs = [self._doc(e, "digest", now, None) for e in events]
        return Outcome("sent", None, docs)

    def _channels(self, rule_id: str) -> list[str]:
        rule = self.rules.current().get(rule_id)
        return rule.channels if rule else []

    def due_rules(self) -> Iterator[str]:
        """The rules whose window has ended with something to put in a digest (reads the
        state's keys; the timer that asks for digests may read the table, not write it)."""
        for key in list(self.state.keys()):
            rule_id = rule_of_window_key(key)
            if rule_id is not None and self.due(rule_id):
                yield rule_id

    def _note(
        self,
        kind: Literal["alert", "digest"],
        rule_id: str,
        name: str,
        articles: list[NotifiedArticle],
    ) -> Notification:
        ids = ",".join(a.id for a in articles)
        return Notification(
            # the same notification always has the same id, re-sent or not: receivers can
            # drop a repeat (a kill between a delivery and its memory write resends it)
            id=hashlib.sha256(f"{rule_id}|{kind}|{ids}".encode()).hexdigest()[:32],
            kind=kind,
            rule_id=rule_id,
            rule_name=name,
            articles=tuple(articles),
            sent_at=self.clock(),
        )

    async def _deliver(
        self, channel_names: list[str], note: Notification
    ) -> tuple[str | None, bool]:
        """Every channel in turn, each tried `alert_delivery_attempts` times in place; the
        first lasting failure's reason, and whether it may pass (a server error or a timeout,
        not a channel missing or misconfigured)."""
        channels = self.rules.current().channels
        for name in channel_names:
            if self.state.get(f"channel:{note.rule_id}:{name}:{_note_key(note)}") == "sent":
                continue  # delivered before a failure on another channel: not twice
            channel = channels.get(name)
            if channel is None:
                return f"channel {name} is not defined in the rules file", False
            error, transient = await self._with_retries(channel, name, note)
            if error:
                return error, transient
            self.state[f"channel:{note.rule_id}:{name}:{_note_key(note)}"] = "sent"
        for name in channel_names:  # all delivered: the per-channel marks have done their job
            self.state.pop(f"channel:{note.rule_id}:{name}:{_note_key(note)}", None)
        return None, False

    async def _with_retries(
        self, config: ChannelConfig, name: str, note: Notification
    ) -> tuple[str | None, bool]:
        delay = 0.5
        attempts = self.settings.alert_delivery_attempts
        channel = make_channel(config, self.context)
        for attempt in range(1, attempts + 1):
            try:
                await channel.send(note)
                return None, False
            except DeliveryRefusedError as exc:  # a missing secret, a 4xx: retrying cannot help
                return f"{name}: {exc}", False
            except DeliveryError as exc:
                log.warning("channel %s attempt %d/%d failed: %s", name, attempt, attempts, exc)
                wait = max(delay, exc.retry_after or 0.0)
                if attempt == attempts or wait > MAX_BACKOFF:
                    return f"{name}: {exc}", True
                await self.sleep(wait)
                delay = min(delay * 2, MAX_BACKOFF)
        return None, False

    def _doc(
        self, event: AlertEvent, status: str, now: datetime, error: str | None
    ) -> dict[str, Any]:
        latency = None
        if event.enriched_at is not None:
            latency = int((now - event.enriched_at).total_seconds() * 1000)
        return {
            "_id": event.id,
            "rule_id": event.rule_id,
            "rule_name": event.rule_name,
            "article_id": event.article_id,
            "story_id": event.story_id,
            "title": event.title,
            "url": event.url,
            "source_name": event.source_name,
            "lang": event.lang,
            "topics": event.topics,
            "published": event.published.isoformat() if event.published else None,
            "matched_at": event.matched_at.isoformat(),
            "handled_at": now.isoformat(),
            "latency_ms": latency,
            "status": status,
            "channels": event.channels,
            "error": error,
        }


def _note_key(note: Notification) -> str:
    ids = ",".join(a.id for a in note.articles)
    return f"{note.kind}:{ids}"[:500]
