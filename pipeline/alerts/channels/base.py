"""What every alert channel shares: the Channel base, its config base, the notification.

A channel is one module in this package: its config model (the mapping under `channels:`
in rules.yaml, with a `type` literal) and a `Channel` subclass whose `send` delivers one
`Notification`. It raises DeliveryError (worth retrying) or DeliveryRefusedError /
ChannelConfigError (retrying will not help). Secrets never live in the rules file: a
config names the environment variable that holds one, and neither payloads, logs nor error
texts ever repeat it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from pipeline.adapters.http import withhold_in_logs
from pipeline.errors import ChannelConfigError
from pipeline.settings import Settings, named_secret

ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"  # what a *_env key may name
ID_HEADER = "X-Mediamon-Alert-Id"  # the notification's stable id: drop a repeat of it


class ChannelConfig(BaseModel):
    """One entry under `channels:`; each channel's model narrows `type` to its name."""

    model_config = ConfigDict(extra="forbid")  # an inline `secret:` is refused by name

    type: str


@dataclass(frozen=True, slots=True)
class NotifiedArticle:
    """One line of a notification: an article that matched, or (in a digest, `kind` None) a
    story already reported, with the outlets that reported it since."""

    id: str
    title: str
    url: str
    source_name: str
    domain: str
    lang: str
    story_id: str
    topics: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601
    also_reported_by: list[str] = field(default_factory=list)
    kind: str | None = "match"  # "match", or "volume" with the counts in `detail`
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def already_reported(cls, first: str, story_id: str, outlets: list[str]) -> NotifiedArticle:
        return cls(
            id=first,
            title="(already reported)",
            url="",
            source_name="",
            domain="",
            lang="",
            story_id=story_id,
            also_reported_by=outlets,
            kind=None,
        )

    def as_json(self) -> dict[str, Any]:
        common: dict[str, Any] = {
            "title": self.title,
            "url": self.url,
            "source_name": self.source_name,
            "domain": self.domain,
            "lang": self.lang,
            "topics": self.topics,
            "published": self.published,
        }
        also = {"also_reported_by": self.also_reported_by}
        if self.kind is None:  # the key order receivers have seen since the first version
            return {"id": self.id, "story_id": self.story_id, **common, **also}
        story = {"story_id": self.story_id}
        return {"id": self.id, **common, **story, **also, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Notification:
    """What a channel is given: one alert, or one rule's digest at the end of its window."""

    id: str  # the same for a re-send: receivers can drop a repeat
    kind: Literal["alert", "digest"]
    rule_id: str
    rule_name: str
    articles: tuple[NotifiedArticle, ...]
    sent_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The webhook body and the Kafka record: the same JSON for every consumer."""
        return {
            "id": self.id,
            "kind": self.kind,
            "rule": {"id": self.rule_id, "name": self.rule_name},
            "articles": [a.as_json() for a in self.articles],
            "sent_at": self.sent_at.isoformat(),
        }

    def text(self) -> str:
        """Plain text for people (Slack, e-mail, Telegram)."""
        if self.kind == "digest":
            lines = [f"mediamon digest for rule {self.rule_name} ({len(self.articles)} more):"]
        else:
            lines = [f"mediamon alert: {self.rule_name}"]
        for art in self.articles:
            lines.append(f"- {art.title} ({art.source_name or art.domain}, {art.lang})")
            lines.append(f"  {art.url}")
            if art.also_reported_by:
                lines.append(f"  also reported by: {', '.join(art.also_reported_by)}")
        return "\n".join(lines)


T = TypeVar("T")


class ChannelContext:
    """What channels share in a process: the settings, the HTTP client (built by
    pipeline.adapters.http), and clients a channel opens on first use through `shared`
    (the Kafka channel's producer) and that `aclose` closes."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._shared: dict[str, tuple[Any, Callable[[Any], Awaitable[None]]]] = {}
        self._lock = asyncio.Lock()

    async def shared(
        self,
        key: str,
        open_: Callable[[], Awaitable[T]],
        close: Callable[[T], Awaitable[None]],
    ) -> T:
        """The client under `key`, opened once (rules are delivered concurrently: one lock,
        so two first alerts do not open two). A failed open is not remembered."""
        async with self._lock:
            if key not in self._shared:
                self._shared[key] = (await open_(), close)
            client: T = self._shared[key][0]
            return client

    async def aclose(self) -> None:
        while self._shared:
            _, (client, close) = self._shared.popitem()
            await close(client)


C = TypeVar("C", bound=ChannelConfig)


class Channel(ABC, Generic[C]):
    """One kind of channel (ElastAlert2's Alerter): `config_model` validates its entry in
    the rules file; an instance sends notifications to one configured channel."""

    config_model: ClassVar[type[ChannelConfig]]

    def __init__(self, config: C, context: ChannelContext) -> None:
        self.config = config
        self.context = context

    @abstractmethod
    async def send(self, note: Notification) -> None:
        """Deliver `note` or raise DeliveryError (retry) / DeliveryRefusedError (do not)."""


def secret(name: str) -> str:
    """The value of the environment variable a channel names; ChannelConfigError (naming
    the variable, never a value) when it is not set."""
    value = named_secret(name)
    if value is None:
        raise ChannelConfigError(f"environment variable {name} is not set")
    return value.get_secret_value()


def secret_url(name: str) -> str:
    """A URL that is itself a credential (a Slack incoming webhook), from its variable;
    httpx's request log shows its host only."""
    url = secret(name)
    if not url.startswith(("http://", "https://")):
        raise ChannelConfigError(f"environment variable {name} is not an http(s) URL")
    withhold_in_logs(url)
    return url
