"""The feeds file (feeds.yaml): which feeds to poll and how, validated with file and line."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.adapters.hosts import HostPolicy, valid_host
from pipeline.adapters.http import http_url
from pipeline.errors import ConfigError
from pipeline.yamlfile import load_yaml_model

_SLUG = re.compile(r"[^a-z0-9]+")


class FeedConfig(BaseModel):
    """One feed. Intervals are seconds; the scheduler adapts within [min, max]."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    url: Annotated[
        str, Field(max_length=2048), http_url("only http:// and https:// feed URLs are polled")
    ]
    name: str = ""
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    poll_interval: float = Field(default=300.0, ge=1)
    min_interval: float | None = Field(default=None, ge=1)
    max_interval: float | None = Field(default=None, ge=1)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    # Some servers send validators that never change or 304 for a changed feed: switch off.
    conditional_get: bool = True
    # Article pages (MEDIAMON_FETCH_PAGES): auto fetches an item's page when its feed text
    # is shorter than fetch_min_chars; always, for every item; never, not at all.
    fetch: Literal["auto", "always", "never"] = "auto"

    @model_validator(mode="after")
    def _bounds(self) -> FeedConfig:
        if self.interval_bounds[0] > self.interval_bounds[1]:
            raise ValueError("min_interval is larger than max_interval")
        return self

    @property
    def interval_bounds(self) -> tuple[float, float]:
        low = self.min_interval if self.min_interval is not None else self.poll_interval / 4
        high = self.max_interval if self.max_interval is not None else self.poll_interval * 4
        return max(1.0, low), high


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feeds: list[FeedConfig] = Field(default_factory=list)
    # Per-host pace for feeds and article pages, e.g. {"wire.example.org": {"spacing": 0.2,
    # "concurrency": 4}}; a name covers its subdomains; hosts not named use the defaults.
    hosts: dict[str, HostPolicy] = Field(default_factory=dict)

    @field_validator("hosts")
    @classmethod
    def _host_names(cls, hosts: dict[str, HostPolicy]) -> dict[str, HostPolicy]:
        named: dict[str, HostPolicy] = {}
        for name, policy in hosts.items():
            host = valid_host(name)
            if host in named:
                raise ValueError(f"host {host!r} is named twice")
            named[host] = policy
        return named

    @model_validator(mode="after")
    def _unique(self) -> FeedsFile:
        for attr in ("id", "url"):
            seen: set[str] = set()
            for feed in self.feeds:
                value = getattr(feed, attr)
                if value in seen:
                    raise ValueError(f"duplicate feed {attr} {value!r}")
                seen.add(value)
        return self


def feed_id_from(url: str, title: str = "") -> str:
    slug = _SLUG.sub("-", title.lower()).strip("-")[:40]
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else f"feed-{digest}"


def load_feeds(path: Path) -> FeedsFile:
    if not path.exists():
        raise ConfigError(f"{path}: feeds file not found (set MEDIAMON_FEEDS_FILE)")
    return load_yaml_model(path, FeedsFile)


def adhoc_feeds(urls: list[str], poll_interval: float) -> list[FeedConfig]:
    """Feeds given as plain URLs (MEDIAMON_FEEDS, --feed) with default settings."""
    return [FeedConfig(id=feed_id_from(u), url=u, poll_interval=poll_interval) for u in urls]


def save_feeds(path: Path, feeds: FeedsFile) -> None:
    data: dict[str, Any] = feeds.model_dump(exclude_defaults=True)
    data.setdefault("feeds", [])
    header = "# mediamon feeds: see README (Feeds). Validate with `mediamon feeds validate`.\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    tmp.replace(path)


def import_opml(opml: Path, feeds: FeedsFile) -> tuple[FeedsFile, list[FeedConfig]]:
    """Merge an OPML export: new URLs are added, known ones left as they are."""
    try:
        root = ET.parse(opml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ConfigError(f"{opml}: not a readable OPML file: {exc}") from exc
    known_urls = {f.url for f in feeds.feeds}
    known_ids = {f.id for f in feeds.feeds}
    added: list[FeedConfig] = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url.startswith(("http://", "https://")) or url in known_urls:
            continue
        title = outline.get("title") or outline.get("text") or ""
        feed_id = feed_id_from(url, title)
        if feed_id in known_ids:
            continue
        lang = (outline.get("language") or "").split("-")[0].lower() or None
        feed = FeedConfig(id=feed_id, url=url, name=title[:200], lang=lang)
        added.append(feed)
        known_urls.add(url)
        known_ids.add(feed_id)
    return FeedsFile(feeds=[*feeds.feeds, *added]), added


def configured_hosts(feeds_file: Path) -> dict[str, HostPolicy]:
    """The feeds file's per-host policies (none when there is no file)."""
    return dict(load_feeds(feeds_file).hosts) if feeds_file.exists() else {}


def configured_feeds(
    feeds_file: Path, extra_urls: list[str], poll_interval: float, require_file: bool = False
) -> list[FeedConfig]:
    """The feeds file's feeds (refusing an invalid file) plus feeds given as plain URLs."""
    feeds: list[FeedConfig] = []
    if feeds_file.exists() or require_file:
        feeds = list(load_feeds(feeds_file).feeds)
    known = {f.url for f in feeds}
    feeds += [f for f in adhoc_feeds(extra_urls, poll_interval) if f.url not in known]
    if not feeds:
        raise ConfigError(
            f"no feeds: {feeds_file} does not exist and MEDIAMON_FEEDS is empty "
            "(create the file, import OPML with `mediamon feeds import-opml`, or pass --feed URL)"
        )
    return feeds
