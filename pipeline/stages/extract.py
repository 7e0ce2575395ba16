"""The article in a news page: body text, title, date, author, language, canonical URL.

trafilatura finds the body (its fast path, without comments: the body a reader marks
excludes them; with data tables, tables that lay the page out read as plain blocks); what it
keeps around the body is then tidied: the headline repeated as the first line, boilerplate
lines (copyright, "Read more", reprint and share bars), lines that are only a URL or a
timestamp, and at the head and tail whatever the links outweigh (related stories, menus, tag
lists; table rows and labels stay only between article lines). Measured on 121 hand-marked
pages (tuned on the dev half only): docs/benchmarks/extract.md. The metadata come from the
page's own tags (Open Graph, schema.org, <time>, link rel=canonical) read with lexbor,
htmldate when those lack a date."""

from __future__ import annotations

import codecs
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from pipeline.schema import MAX_TEXT
from pipeline.stages.clean import normalize_text
from pipeline.stages.language import detect_language

MAX_PAGE_BYTES = 5_000_000  # a page beyond this is cut before parsing (time is bounded)
# A line of at least this many words is article text wherever it stands.
LONG_LINE_WORDS = 25
_BOILERPLATE = re.compile(
    r"^(?:read more|read also|see also|related(?: articles| stories)?\b|don'?t miss|"
    r"advertisement|sponsored|order reprints|print article|share this|sign up|subscribe|"
    r"tags?\s*:|leggi anche|lesen sie auch|mehr zum thema|lire aussi|à lire aussi|"
    r"читайте также|читайте також|click here|follow us|copyright|©|all rights reserved|"
    r"this copy is for your personal|write to .+@|by submitting this form|"
    r"an error has occurred|this article has been sent)",
    re.IGNORECASE,
)
MAX_BOILERPLATE_LINE = 200
# A label: a line of one or two words under this many characters ("Tags", a month in an
# archive list); it weighs nothing for or against the article around it.
LABEL_CHARS = 20
# Lines that are only a URL, a machine timestamp, or no letters at all.
_META_LINE = re.compile(r"^(?:https?://\S+|www\.\S+|\d{4}-\d\d-\d\dT[\d:+.Z-]+|[\W\d_]*)$")
_NON_WORD = re.compile(r"\W+")
_LIST_SEPARATOR = re.compile(r"[,;|]")
_JSON_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([\w.:-]{1,40})""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_TITLE_SELECTORS = ('meta[property="og:title"]', 'meta[name="twitter:title"]')
_CANONICAL_SELECTORS = ('link[rel="canonical"]', 'meta[property="og:url"]')
_AUTHOR_SELECTORS = (
    'meta[name="author"]',
    'meta[property="article:author"]',
    'meta[name="byl"]',
    'meta[name="parsely-author"]',
    '[itemprop="author"] [itemprop="name"]',
    '[rel="author"]',
)
_DATE_SELECTORS = (
    'meta[property="article:published_time"]',
    'meta[property="og:published_time"]',
    'meta[name="article:published_time"]',
    'meta[itemprop="datePublished"]',
    'meta[name="pubdate"]',
    'meta[name="publishdate"]',
    'meta[name="date"]',
    'meta[name="DC.date.issued"]',
    'meta[name="dcterms.created"]',
    'time[itemprop="datePublished"]',
    "time[datetime]",
)


@dataclass(frozen=True, slots=True)
class Extracted:
    title: str
    text: str
    published: str | None  # ISO 8601
    author: str | None
    lang: str
    canonical_url: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """A page's bytes as text: the charset of the Content-Type header, else a byte-order
    mark, else a <meta> charset, else charset-normalizer's best guess, else UTF-8 with
    replacement characters (never an exception: pages lie about their encoding)."""
    data = data[:MAX_PAGE_BYTES]
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    declared = None
    if content_type:
        found = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.I)
        declared = found.group(1) if found else None
    if declared is None:
        meta = _META_CHARSET.search(data[:8192])
        declared = meta.group(1).decode("ascii", "replace") if meta else None
    if declared:
        try:
            return data.decode(codecs.lookup(declared).name)
        except (LookupError, UnicodeDecodeError):
            pass  # an unknown or lying label: guess below
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # deferred: only for unlabelled legacy pages

    best = from_bytes(data).best()
    return str(best) if best is not None else data.decode("utf-8", errors="replace")


def _key(line: str) -> str:
    return _NON_WORD.sub(" ", line.lower()).strip()


def _linky(key: str, anchors: set[str]) -> bool:
    """Whether a line is a link's text, or starts with one that makes most of it (a related
    story and its teaser)."""
    # the line's prefixes of at least half its length, looked up (not every anchor scanned)
    return any(key[:end] in anchors for end in range(len(key), (len(key) + 1) // 2 - 1, -1))


def _link_list(line: str, anchors: set[str]) -> bool:
    """Whether a line is three or more link texts joined by commas, semicolons or bars (a
    tag list), whatever its length."""
    parts = 0
    for part in _LIST_SEPARATOR.split(line):
        if key := _key(part):
            if key not in anchors:
                return False  # most lines: at the first part
            parts += 1
    return parts >= 3


def tidy(text: str, title: str, anchors: set[str]) -> str:
    """trafilatura's text without the headline line, boilerplate and metadata lines, and
    link lines at the head and tail (those between two lines of article text stay: a list
    inside an article, unless the links around them outweigh the article lines beyond)."""
    title_key = _key(title)
    lines: list[tuple[str, str]] = []  # (line, key)
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        key = _key(stripped)
        if title_key and (
            key == title_key
            or (
                len(key) > 20
                and (key in title_key or title_key in key)
                and len(key) < 1.3 * len(title_key)
            )
        ):
            continue
        if len(stripped) <= MAX_BOILERPLATE_LINE and (
            _BOILERPLATE.match(stripped) or "©" in stripped
        ):
            continue
        lines.append((stripped, key))

    # the span of lines with the most article words net of link words: a line of article
    # text counts its words, a link line minus its words and one, a label nothing; link
    # lines between article lines stay (a list inside the article) unless the links
    # outweigh the article lines on their far side (a menu with a few labels in it)
    best, total, start, first, last = 0, 0, 0, 0, -1
    for n, (line, key) in enumerate(lines):
        words = len(line.split())
        if _link_list(line, anchors) or (words < LONG_LINE_WORDS and _linky(key, anchors)):
            value = -words - 1
        elif line.startswith("|") or (words <= 2 and len(line) < LABEL_CHARS):
            value = 0  # a table's row or a label: kept between article lines only
        else:
            value = words
        if total <= 0:
            total, start = value, n
        else:
            total += value
        if total > best:
            best, first, last = total, start, n
    return "\n\n".join(s for s, _ in lines[first : last + 1] if not _META_LINE.match(s))


def _layout_tables_to_blocks(page: Any) -> None:
    """Tables that lay a page out (holding paragraphs or other tables, or marked as
    presentation) become plain blocks, so that only data tables are read as tables (a table
    inside a layout one is judged on its own)."""
    for table in list(page.iter("table")):
        if (
            table.get("role") in ("presentation", "none")
            or table.find(".//table") is not None
            or table.find(".//p") is not None
        ):
            for node in table.iter("tbody", "thead", "tfoot", "tr", "td", "th"):
                if next(node.iterancestors("table"), None) is table:
                    node.tag = "div"
            table.tag = "div"


def _attr(node: Any) -> str | None:
    if node is None:
        return None
    attrs = node.attributes
    value = attrs.get("content") or attrs.get("href") or attrs.get("datetime") or node.text()
    return value.strip() if value and value.strip() else None


def _first(tree: LexborHTMLParser, selectors: tuple[str, ...]) -> str | None:
    for selector in selectors:
        value = _attr(tree.css_first(selector))
        if value:
            return value
    return None


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


def _http_url(value: str | None, base: str | None) -> str | None:
    if not value:
        return None
    url = urljoin(base or "", value.strip())
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname else None


def extract_article(html: str, url: str | None = None) -> Extracted:
    """The article of one page (already decoded: see `decode_html`)."""
    import trafilatura  # deferred: ~0.3 s of imports a process without pages never pays
    from trafilatura.utils import load_html

    html = html[:MAX_PAGE_BYTES]
    tree = LexborHTMLParser(html)
    anchors = {k for a in tree.css("a") if len(k := _key(a.text(deep=True))) >= 3}
    title_node = tree.css_first("h1") or tree.css_first("title")
    title = _first(tree, _TITLE_SELECTORS) or (title_node.text().strip() if title_node else "")
    canonical = _http_url(_first(tree, _CANONICAL_SELECTORS), url)
    author = _first(tree, _AUTHOR_SELECTORS)
    published = _iso_date(_first(tree, _DATE_SELECTORS))
    if published is None:  # schema.org JSON-LD, in most news pages
        found = _JSON_LD_DATE.search(html)
        published = _iso_date(found.group(1)) if found else None
    html_node = tree.css_first("html")
    declared_lang = (html_node.attributes.get("lang") or "") if html_node else ""
    page = load_html(html)
    if page is not None:
        _layout_tables_to_blocks(page)
    body = trafilatura.extract(
        page if page is not None else html,
        url=url,
        fast=True,
        include_comments=False,
        include_tables=True,
    )
    text = normalize_text(tidy(body or "", title, anchors))[:MAX_TEXT]
    if published is None and text:
        from htmldate import find_date  # deferred with trafilatura

        # without the extensive search: 1.4 instead of 12.8 ms a page, and it found a date
        # on 120 of the 121 benchmark pages against 121
        date = find_date(html, url=url, original_date=True, extensive_search=False)
        published = _iso_date(date) if date else None
    hint = declared_lang.split("-")[0].lower() or None
    lang = detect_language(f"{title}\n\n{text}".strip(), hint=hint).lang
    return Extracted(
        title=normalize_text(title)[:1_000],
        text=text,
        published=published,
        author=normalize_text(author)[:300] if author else None,
        lang=lang,
        canonical_url=canonical,
    )


# What a page says when it is not the article: a consent wall, a paywall, an error page.
# Such text is never indexed as the article (the feed's text stays; the record says why).
_CONSENT = re.compile(
    r"\b(?:we use cookies|cookie (?:policy|settings|preferences)|accept all|reject all|"
    r"manage (?:your )?(?:consent|preferences)|your privacy choices|consent to|"
    r"alle akzeptieren|zustimmen|tout accepter|accepter les cookies|aceptar todo|"
    r"accetta tutto|согласие на обработку|принять все)\b",
    re.IGNORECASE,
)
_CONSENT_MARKUP = re.compile(
    r"cookiebot|didomi|onetrust|quantcast|__tcfapi|consentmanager|sp_message|cmp-container",
    re.IGNORECASE,
)
_PAYWALL = re.compile(
    r"\b(?:subscribe to (?:continue|read)|subscribers? only|already a subscriber|"
    r"to continue reading|this (?:article|content) is (?:for|reserved for) (?:paying )?"
    r"subscribers|create a free account to continue|jetzt abonnieren|réservé aux abonnés|"
    r"только для подписчиков)\b",
    re.IGNORECASE,
)
_NOT_FREE = re.compile(r'"isAccessibleForFree"\s*:\s*"?(?:false|False)"?')
_ERROR_PAGE = re.compile(
    r"\b(?:page not found|404 not found|error 404|not found|this page (?:does not|doesn't) "
    r"exist|seite nicht gefunden|page introuvable|página no encontrada|страница не найдена)\b",
    re.IGNORECASE,
)
SHORT_PAGE = 600  # characters of extracted text below which a page may be a wall


def page_problem(html: str, found: Extracted) -> str | None:
    """Why the extracted text is not an article (consent_wall, paywall, error_page, empty),
    or None. Long texts pass: an article about cookies is an article."""
    text = found.text
    if not text.strip():
        return "empty"
    if len(text) >= SHORT_PAGE:
        return None
    head = f"{found.title}\n{text}"
    if _ERROR_PAGE.search(found.title) or (len(text) < 300 and _ERROR_PAGE.search(head)):
        return "error_page"
    if _PAYWALL.search(head) or _NOT_FREE.search(html):
        return "paywall"
    if _CONSENT.search(head) or (len(text) < 200 and _CONSENT_MARKUP.search(html[:200_000])):
        return "consent_wall"
    return None


def read_page(
    body: bytes, content_type: str | None, url: str | None
) -> tuple[Extracted, str | None]:
    """A fetched page's article and why it is not one (page_problem), in one call that a
    process pool can run (the connector keeps extraction off its event loop)."""
    html = decode_html(body, content_type)
    found = extract_article(html, url)
    return found, page_problem(html, found)
