"""Pure feed parsing: feed bytes -> raw-article records (no network, no Kafka)."""

from __future__ import annotations

import calendar
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser

from pipeline.schema import MAX_HTML, MAX_TITLE, MAX_URL, Enclosure, RawArticle
from pipeline.stages.canonical import article_id
from pipeline.stages.clean import html_to_text, sanitize_html

log = logging.getLogger(__name__)

# A date further ahead than this is a feed bug (or a timezone typo), not a scheduled article.
FUTURE_TOLERANCE = timedelta(days=1)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
# Entity expansion is the classic XML bomb; feedparser's parser does not resolve external
# entities, and a feed this large in entries is not a news feed.
MAX_ENTRIES = 5_000


@dataclass
class ParsedFeed:
    title: str
    articles: list[RawArticle]
    malformed: str | None = None  # feedparser's bozo exception, when the feed was not well formed
    skipped: list[str] = field(default_factory=list)
    version: str = ""

    @property
    def is_feed(self) -> bool:
        """False when the document is not recognisably RSS/Atom (an HTML page, garbage)."""
        return bool(self.version) or bool(self.articles)


def _ts(value: Any, fetched_at: datetime) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    if when > fetched_at + FUTURE_TOLERANCE or when < EARLIEST:
        return None
    return when


def _content(entry: Any) -> str:
    parts = entry.get("content") or []
    html = [str(p.get("value", "")) for p in parts if isinstance(p, dict)]
    return max(html, key=len, default="")


def _enclosures(entry: Any, base: str) -> list[Enclosure]:
    found = []
    for link in entry.get("links", []) or []:
        if not isinstance(link, dict) or link.get("rel") != "enclosure" or not link.get("href"):
            continue
        url = urljoin(base, str(link["href"]))[:MAX_URL]
        if not url.startswith(("http://", "https://")):
            continue
        length = str(link.get("length") or "")
        found.append(
            Enclosure(
                url=url,
                type=str(link.get("type") or "")[:200],
                length=int(length) if length.isdigit() and len(length) < 15 else None,
            )
        )
    return found[:20]


def fingerprint(article: RawArticle) -> str:
    """What makes a new version of an entry: its content, its links or its `updated` date."""
    basis = "\x1f".join(
        [
            article.title,
            article.summary_html,
            article.content_html,
            article.url,
            article.updated.isoformat()
            if article.updated and not article.updated_from_fetch
            else "",
        ]
    )
    return hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()[:32]


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
    feed_tags: list[str] | None = None,
) -> ParsedFeed:
    """Parse RSS/Atom bytes. A malformed feed still yields the entries that could be read."""
    fetched_at = fetched_at or datetime.now(UTC)
    parsed = feedparser.parse(
        data,
        response_headers={"content-location": feed_url, "content-type": content_type or ""},
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    feed = parsed.get("feed", {})
    source_name = str(feed.get("title", ""))[:300]
    lang = lang_hint or (str(feed.get("language") or "").split("-")[0].lower()[:3] or None)
    fid = feed_id or feed_id_for(feed_url)
    malformed = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        malformed = f"{type(exc).__name__}: {str(exc)[:300]}"
    result = ParsedFeed(
        title=source_name, articles=[], malformed=malformed, version=str(parsed.get("version", ""))
    )
    entries = parsed.get("entries", [])
    if len(entries) > MAX_ENTRIES:
        result.skipped.append(f"{len(entries) - MAX_ENTRIES} entries beyond {MAX_ENTRIES} dropped")
    for n, entry in enumerate(entries[:MAX_ENTRIES]):
        try:
            article = _article(entry, feed_url, fid, lang, source_name, fetched_at, feed_tags)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            result.skipped.append(f"entry {n}: {str(exc).splitlines()[0]}")
            continue
        if article is None:
            result.skipped.append(f"entry {n}: no link, id, title or summary")
            continue
        result.articles.append(article)
    return result


def _article(
    entry: Any,
    feed_url: str,
    fid: str,
    lang: str | None,
    source_name: str,
    fetched_at: datetime,
    feed_tags: list[str] | None,
) -> RawArticle | None:
    link = str(entry.get("link") or "").strip()
    url = urljoin(feed_url, link)[:MAX_URL] if link else ""
    if url and not url.startswith(("http://", "https://")):
        url = ""
    guid = str(entry.get("id") or "")[:MAX_URL]
    # feedparser sanitises too, but leaves e.g. <script> inside comments: make it inert here.
    title = html_to_text(str(entry.get("title") or ""), MAX_TITLE).replace("\n", " ")
    summary = sanitize_html(str(entry.get("summary") or ""))[:MAX_HTML]
    content = sanitize_html(_content(entry))[:MAX_HTML]
    if not (url or guid or title or summary):
        return None
    published = _ts(entry.get("published_parsed"), fetched_at)
    # dict.get: FeedParserDict.get maps a missing "updated" to "published", with a warning.
    updated = _ts(dict.get(entry, "updated_parsed"), fetched_at)
    return RawArticle(
        id=article_id(url, guid, fallback=f"{feed_url}\n{title}\n{summary}"),
        feed_id=fid,
        feed_url=feed_url[:MAX_URL],
        url=url,
        guid=guid,
        title=title,
        summary_html=summary,
        content_html=content if content != summary else "",
        authors=[str(a.get("name", ""))[:200] for a in entry.get("authors", []) if a][:50],
        categories=[str(t.get("term", ""))[:200] for t in entry.get("tags", []) if t][:50],
        enclosures=_enclosures(entry, feed_url),
        published=published or updated or fetched_at,
        published_from_fetch=published is None and updated is None,
        updated=updated or published or fetched_at,
        updated_from_fetch=updated is None and published is None,
        fetched_at=fetched_at,
        lang_hint=lang,
        source_name=source_name,
        feed_tags=list(feed_tags or [])[:50],
    )
