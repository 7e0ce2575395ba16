"""Pure feed parsing: feed bytes -> raw-article records (no network, no Kafka)."""

from __future__ import annotations

import calendar
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from pipeline.schema import MAX_HTML, MAX_TITLE, RawArticle
from pipeline.stages.canonical import article_id

log = logging.getLogger(__name__)


@dataclass
class ParsedFeed:
    title: str
    articles: list[RawArticle]
    malformed: str | None = None  # feedparser's bozo exception, when the feed was not well formed
    skipped: list[str] = field(default_factory=list)


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _content(entry: Any) -> str:
    parts = entry.get("content") or []
    html = [p.get("value", "") for p in parts if isinstance(p, dict)]
    return max(html, key=len, default="")


def feed_id_for(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def parse_feed(
    data: bytes,
    feed_url: str,
    *,
    feed_id: str | None = None,
    lang_hint: str | None = None,
    fetched_at: datetime | None = None,
    content_type: str = "application/xml",
) -> ParsedFeed:
    """Parse RSS/Atom bytes. A malformed feed still yields the entries that could be read."""
    fetched_at = fetched_at or datetime.now(UTC)
    parsed = feedparser.parse(
        data, response_headers={"content-location": feed_url, "content-type": content_type}
    )
    feed = parsed.get("feed", {})
    source_name = str(feed.get("title", ""))[:200]
    lang = lang_hint or (str(feed.get("language") or "").split("-")[0].lower() or None)
    fid = feed_id or feed_id_for(feed_url)
    malformed = None
    if parsed.get("bozo"):
        malformed = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
    result = ParsedFeed(title=source_name, articles=[], malformed=malformed)
    for n, entry in enumerate(parsed.get("entries", [])):
        link = str(entry.get("link") or "").strip()
        url = urljoin(feed_url, link) if link else ""
        if url and not url.startswith(("http://", "https://")):
            url = ""
        guid = str(entry.get("id") or "")[:1000]
        title = str(entry.get("title") or "")[:MAX_TITLE]
        summary = str(entry.get("summary") or "")[:MAX_HTML]
        content = _content(entry)[:MAX_HTML]
        if not (url or guid or title or summary):
            result.skipped.append(f"entry {n}: no link, id, title or summary")
            continue
        published = _ts(entry.get("published_parsed")) or _ts(entry.get("updated_parsed"))
        result.articles.append(
            RawArticle(
                id=article_id(url, guid, fallback=f"{feed_url}\n{title}\n{summary}"),
                feed_id=fid,
                feed_url=feed_url,
                url=url,
                guid=guid,
                title=title,
                summary_html=summary,
                content_html=content if content != summary else "",
                authors=[str(a.get("name", ""))[:200] for a in entry.get("authors", []) if a],
                categories=[str(t.get("term", ""))[:200] for t in entry.get("tags", []) if t][:50],
                published=published or fetched_at,
                published_from_fetch=published is None,
                fetched_at=fetched_at,
                lang_hint=lang,
                source_name=source_name,
            )
        )
    return result
