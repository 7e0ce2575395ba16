"""The versioned records shared by the connector (producer) and the pipeline (consumer)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import SchemaVersionError

# Bounds keep every Kafka message well under the producer's 1 MB default request size.
MAX_TITLE = 1_000
MAX_HTML = 200_000
MAX_TEXT = 100_000
MAX_URL = 2_048


def utcnow() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")


def carry_over(source: BaseModel, target: type[T], **fields: Any) -> T:
    """A `target` (a record or a dataclass) made of `source`'s values of the fields both
    declare by name, with `fields` added or replacing them. The version (`schema`) is never
    carried: each record has its own."""
    if issubclass(target, BaseModel):
        names = set(target.model_fields)
    elif dataclasses.is_dataclass(target):
        names = {f.name for f in dataclasses.fields(target)}
    else:
        raise TypeError(f"{target.__name__} is neither a record nor a dataclass")
    shared = names & set(type(source).model_fields) - {"schema_version"}
    return target(**({name: getattr(source, name) for name in shared} | fields))


Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


def _version_of(data: bytes | str) -> int | None:
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    version = payload.get("schema", 1) if isinstance(payload, dict) else None
    return version if isinstance(version, int) else None


class Record(BaseModel):
    """Base for versioned records: `schema` travels on the wire. A consumer refuses a newer
    version than it knows (a clear error, dead-lettered: replay it after upgrading) and
    upgrades an older one, step by step, with the record's UPGRADES."""

    # defer_build: a record's validator and serializer are built at its first use, not at
    # import, so a process builds only the records it uses (`mediamon enrich`: two of the
    # six; ~16 M instructions of its start). Subclasses inherit the setting.
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)
    VERSION: ClassVar[int] = 1
    # version n -> the function turning a version-n payload into a version n+1 payload
    UPGRADES: ClassVar[dict[int, Upgrade]] = {}

    schema_version: int = Field(default=1, alias="schema")

    @classmethod
    def from_json(cls, data: bytes | str) -> Any:
        obj: Record | None = None
        try:
            obj = cls.model_validate_json(data)  # the common case: this very version
            version = obj.schema_version
        except ValidationError:
            # another version's fields may differ: its version decides, else the error stands
            found = _version_of(data)
            if found is None or found == cls.VERSION:
                raise
            version = found
        if version > cls.VERSION:
            raise SchemaVersionError(
                f"{cls.__name__} schema {version} is newer than this consumer "
                f"understands ({cls.VERSION})"
            )
        if version < cls.VERSION:
            return cls.model_validate(cls.upgrade(json.loads(data)))
        return obj

    @classmethod
    def upgrade(cls, payload: dict[str, Any]) -> dict[str, Any]:
        version = int(payload.get("schema", 1))
        while version < cls.VERSION:
            step = cls.UPGRADES.get(version)
            if step is None:
                raise SchemaVersionError(
                    f"{cls.__name__} schema {version} has no upgrade to {version + 1}"
                )
            payload = {**step(dict(payload)), "schema": version + 1}
            version += 1
        return payload

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Enclosure(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)  # built with RawArticle, if used

    url: str = Field(max_length=MAX_URL)
    type: str = Field(default="", max_length=200)
    length: int | None = None


class RawArticle(Record):
    """One feed entry as the connector saw it (HTML untouched, sizes bounded)."""

    VERSION: ClassVar[int] = 2
    UPGRADES: ClassVar[dict[int, Upgrade]] = {1: lambda payload: payload}  # fields added
    schema_version: int = Field(default=2, alias="schema")

    id: str = Field(min_length=1, max_length=128)
    feed_id: str = ""
    feed_url: str = Field(default="", max_length=MAX_URL)
    url: str = Field(default="", max_length=MAX_URL)
    guid: str = Field(default="", max_length=MAX_URL)
    title: str = Field(default="", max_length=MAX_TITLE)
    summary_html: str = Field(default="", max_length=MAX_HTML)
    content_html: str = Field(default="", max_length=MAX_HTML)
    authors: list[str] = Field(default_factory=list, max_length=50)
    categories: list[str] = Field(default_factory=list, max_length=50)
    enclosures: list[Enclosure] = Field(default_factory=list, max_length=20)
    published: datetime | None = None
    published_from_fetch: bool = False  # True when the feed gave no date and fetched_at stands in
    updated: datetime | None = None
    updated_from_fetch: bool = False
    fetched_at: datetime = Field(default_factory=utcnow)
    lang_hint: str | None = None
    source_name: str = Field(default="", max_length=300)
    feed_tags: list[str] = Field(default_factory=list, max_length=50)
    # Version 2: the article page's text (connectors/pages.py) when it was used, and why
    # not when it was not. A version-1 consumer would drop the page text without a word,
    # so it refuses version 2 instead.
    page_text: str = Field(default="", max_length=MAX_TEXT)
    text_source: Literal["feed", "page"] = "feed"
    page_problem: str | None = Field(default=None, max_length=100)
    # The page's own canonical URL (pipeline/stages/canonical.declared_canonical), already
    # behind `id`. Added within version 2: a consumer that ignores it still files the
    # article under the right id and only records the link's address as canonical_url.
    canonical_url: str = Field(default="", max_length=MAX_URL)


class EnrichedArticle(Record):
    """A cleaned, language-detected, topic-tagged article: what gets indexed."""

    id: str
    # bounded as on the raw article they come from, so a record read back (retag, replay)
    # is held to the same limits
    url: str = Field(default="", max_length=MAX_URL)
    canonical_url: str = Field(default="", max_length=MAX_URL)
    domain: str = ""
    feed_id: str = ""
    source_name: str = ""
    title: str = Field(default="", max_length=MAX_TITLE)
    text: str = ""
    # where `text` (and its evidence offsets) comes from; not `text_source`: the index keeps
    # text_* names for the per-language copies and leaves them out of _source
    content_from: Literal["feed", "page"] = "feed"
    page_problem: str | None = None  # why the article page was not used, when it was asked for
    lang: str = "und"
    lang_confidence: float = 0.0
    topics: list[str] = Field(default_factory=list)
    topic_scores: dict[str, float] = Field(default_factory=dict)
    # Per topic, why: [{"term", "text", "field", "start", "end"}, ...]
    topic_evidence: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    fingerprint: str | None = None  # SimHash (hex) of title and text, for near-duplicates
    story_id: str = ""  # shared by near-duplicate copies; the first copy's article id
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    published: datetime | None = None
    fetched_at: datetime | None = None
    enriched_at: datetime = Field(default_factory=utcnow)

    @property
    def version(self) -> int:
        """The Elasticsearch document version (microseconds): when the connector fetched
        this copy, so an older copy retried or replayed later never replaces a newer one."""
        return int((self.fetched_at or self.enriched_at).timestamp() * 1_000_000)

    def to_document(self) -> dict[str, Any]:
        """The Elasticsearch document (the id travels as `_id`, not in the source)."""
        doc = self.model_dump(mode="json", by_alias=True)
        doc["indexed_at"] = utcnow().isoformat()
        return doc


class AlertEvent(Record):
    """A rule matched an article: on the `alerts` topic (key: rule id), for the deliverer
    and for any other consumer. `id` is rule id + article id: the once-per-pair key."""

    id: str
    kind: str = "match"  # or "volume": a surge of coverage, `detail` says how much
    rule_id: str
    rule_name: str = ""
    article_id: str
    story_id: str = ""
    # what a channel puts in a message: held to the article's own limits
    title: str = Field(default="", max_length=MAX_TITLE)
    url: str = Field(default="", max_length=MAX_URL)
    source_name: str = ""
    domain: str = ""
    lang: str = ""
    topics: list[str] = Field(default_factory=list)
    published: datetime | None = None
    enriched_at: datetime | None = None  # the article entered articles.enriched: latency origin
    matched_at: datetime = Field(default_factory=utcnow)
    channels: list[str] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


class VolumeCount(Record):
    """Articles of one indexed batch that a volume rule's query and filters found; on
    `alerts.volume`, keyed by rule id, counted into time buckets by the volume agent."""

    rule_id: str
    count: int = Field(ge=1)
