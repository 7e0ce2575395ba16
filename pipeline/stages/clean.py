"""HTML to plain text that keeps paragraph breaks and drops everything executable."""

from __future__ import annotations

import re
import unicodedata
from types import ModuleType

from selectolax.lexbor import LexborHTMLParser

from pipeline.lazy_re import LazyPattern
from pipeline.native import native

# Removed with their content: executable, embedded or navigational chrome, never article text.
_DROP = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "canvas",
    "form",
    "button",
    "select",
    "textarea",
    "nav",
    "aside",
    "head",
)
_BLOCKS = (
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "hr",
    "dd",
    "dt",
)
_DROP_TAGS = frozenset(_DROP)
_BLOCK_TAGS = frozenset(_BLOCKS)
# The flags of the two patterns below as `re` reports them once compiled (a str pattern
# gains UNICODE), for _NATIVE_SPEC without compiling them: with the native cleaner Python
# never runs them (tests/unit/test_lazy_re.py compares).
_CHROME_FLAGS = _BOILERPLATE_LINE_FLAGS = re.IGNORECASE | re.UNICODE
# Boilerplate containers, recognised by their class or id.
_CHROME = LazyPattern(
    r"(?:^|[\s_-])(?:share|sharing|social|subscribe|subscription|newsletter|related|read-?also|"
    r"see-?also|recommend\w*|promo|advert\w*|ads?|banner|cookie\w*|comments?|breadcrumbs?|"
    r"tags|author-bio|print|footer|sidebar)(?:$|[\s_-])",
    _CHROME_FLAGS,
)
# Short lines that are navigation, not article text ("Read also: ...", "Поделиться").
_BOILERPLATE_LINE = LazyPattern(
    r"^\s*(?:read (?:also|more)|see also|related(?: articles)?|share(?: this)?|subscribe|"
    r"follow us|читайте (?:также|тоже|нас)|также читайте|смотрите также|поделиться|"
    r"подписывайтесь|подпишитесь|читайте також|дивіться також|поділитися|lire aussi|"
    r"à lire aussi|voir aussi|partager|lesen sie auch|mehr zum thema|teilen|"
    r"ayrıca (?:okuyun|bakınız)|ilgili haberler|paylaş|оқи отырыңыз|сондай-ақ оқыңыз|"
    r"اقرأ أيضا|اقرأ أيضاً|شارك|بیشتر بخوانید|همچنین بخوانید)\b",
    _BOILERPLATE_LINE_FLAGS,
)
MAX_BOILERPLATE_LINE = 160
# What UTF-8 read as Latin-1/cp1252 produces: a lead byte's letter followed by as many
# continuation bytes' characters as it announces (Ð¡, Ã©, â€™): worth ftfy. Counting them
# keeps Czech "áš", "íš" (a lead and one continuation, then a letter) from calling ftfy on
# every Czech article (0.4+ ms each).
_CONTINUATION = (
    "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
# One lead character first, then the branch its range calls for (lookbehinds): `re` skips
# to a lead with one character class; three alternatives made it try each at every
# position (0.11 -> 0.03 ms per 4 KB article).
_MOJIBAKE = LazyPattern(
    f"[\u00c2-\u00f4](?:(?<=[\u00c2-\u00df]){_CONTINUATION}"
    f"|(?<=[\u00e0-\u00ef]){_CONTINUATION}{{2}}|(?<=[\u00f0-\u00f4]){_CONTINUATION}{{3}})"
)
_QUOTES = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
    }
)
# Spaces other than " " that count as one: each becomes " ", then runs of " " collapse, the
# same as collapsing mixed runs at once. str.replace per character that occurs beats one
# regex over every character (17 -> 3 µs per 2 KB article).
_ODD_SPACES = (
    "\t",
    "\f",
    "\v",
    "\u00a0",
    *map(chr, range(0x2000, 0x200B)),
    "\u202f",
    "\u205f",
    "\u3000",
)
_SPACE_RUN = LazyPattern("  +")
_QUOTE_CHARS = tuple(map(chr, _QUOTES))
# Zero-width and control characters (but \t \n \r), removed in one pass.
_INVISIBLE_CHARS = r"\u200b-\u200d\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_INVISIBLE = LazyPattern(f"[{_INVISIBLE_CHARS}]")
# Every character that normalize_text removes or replaces one by one (the invisible ones, \r,
# odd spaces, typographic quotes): one scan tells whether any occurs at all, ~20 µs less per
# 4 KB article than a pass for each kind, and most articles have none.
_ONE_BY_ONE = LazyPattern(f"[{_INVISIBLE_CHARS}\r{''.join(_ODD_SPACES)}{''.join(_QUOTE_CHARS)}]")
# Repeats written out: `re` finds a literal prefix fast (3.5x faster than \n{3,} measured).
_BLANK_LINES = LazyPattern(r"\n\n\n+")
_SURROGATES = LazyPattern(r"[\ud800-\udfff]")


_PAGE_TAGS = frozenset({"html", "body", "main", "article"})

# What native/src/clean.rs hardcodes of the above; it is used only while the two agree.
_NATIVE_SPEC = (
    _DROP,
    _BLOCKS,
    tuple(sorted(_PAGE_TAGS)),
    _CHROME.pattern,
    _CHROME_FLAGS,
    _BOILERPLATE_LINE.pattern,
    _BOILERPLATE_LINE_FLAGS,
    MAX_BOILERPLATE_LINE,
    _MOJIBAKE.pattern,
    _INVISIBLE_CHARS,
    _ODD_SPACES,
    tuple((key, ord(value)) for key, value in _QUOTES.items()),
)


def _native_cleaner() -> ModuleType | None:
    """The native module if it has the cleaner and was built with these rules, else None."""
    config = getattr(native, "clean_config", None)
    return native if config is not None and config() == _NATIVE_SPEC else None


_native = _native_cleaner()


def html_to_text(html: str, max_chars: int = 100_000) -> str:
    """Plain text of an HTML fragment: paragraphs separated by a blank line, NFC, trimmed."""
    if not html or not html.strip():
        return ""
    # The native cleaner gives the same text ~10x faster, or None for the HTML it leaves to
    # lexbor (tables, forms, misnested formatting, ...) and for text ftfy might repair.
    if _native is not None and 0 <= max_chars < 2**63:  # the native limit is a usize
        text: str | None = _native.html_to_text(html, max_chars)
        if text is not None:
            return text
    return html_to_text_python(html, max_chars)


def html_to_text_python(html: str, max_chars: int = 100_000) -> str:
    """`html_to_text` without the native module (and what tests compare it with)."""
    if not html or not html.strip():
        return ""
    if "<" not in html and "&" not in html:
        return normalize_text_python(html)[:max_chars]
    tree = LexborHTMLParser(html)
    # One walk in Python instead of three css() queries (55 -> 33 µs per 2 KB article: a
    # parser's first query builds a selector engine, each parses its selector list). Removing
    # or marking nodes in document order leaves the same text as one pass per kind: every
    # insertion is anchored to its node, and a removed subtree's nodes are detached (no parent),
    # so they are skipped.
    for node in list(tree.root.traverse()) if tree.root is not None else ():
        tag = node.tag
        if not tag or tag[0] == "-" or node.parent is None:  # comments; removed subtrees
            continue
        if tag in _DROP_TAGS:
            node.insert_before(" ")  # so the words around a removed element stay apart
            node.decompose()
            continue
        attrs = node.attributes
        # a page-level element with a "share"/"related" class is the whole article, not chrome
        # (and lexbor refuses to decompose the root)
        if (
            attrs
            and tag not in _PAGE_TAGS
            and _CHROME.search(f"{attrs.get('class') or ''} {attrs.get('id') or ''}")
        ):
            node.insert_before(" ")
            node.decompose()
        elif tag == "br":
            node.insert_before("\n")
        elif tag in _BLOCK_TAGS:
            node.insert_before("\n\n")
            node.insert_after("\n\n")
    root = tree.body or tree.root
    text = root.text(deep=True, separator="") if root is not None else ""
    # lexbor's text is decoded from UTF-8 (bad bytes as U+FFFD): no surrogates to scrub
    return _normalize(text)[:max_chars]


def scrub(text: str) -> str:
    """Lone surrogates (invalid UTF-8 smuggled through JSON escapes) become U+FFFD: they
    cannot be encoded, so they would crash whatever writes the text out."""
    if text.isascii():  # told in O(1)
        return text
    if native is not None:
        # the stored characters read in place: no UTF-8 copy made and thrown away (~1.6 %
        # of the enrich benchmark's instructions, for every field of every input line)
        return _SURROGATES.sub("\ufffd", text) if native.has_surrogates(text) else text
    try:  # UTF-8 fails exactly on them: encoding in C beats a regex scan (7 -> 2 µs per 4 KB)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def repair_mojibake(text: str) -> str:
    """UTF-8 that was decoded as Latin-1/cp1252 somewhere upstream, repaired (ftfy); the
    cheap check first, because ftfy's own costs ~0.4 ms per 2 KB of clean text."""
    if not _MOJIBAKE.search(text):
        return text
    import ftfy  # deferred on purpose: ~0.1 s to import, needed only for broken text

    return str(ftfy.fix_text(text, normalization="NFC"))


def normalize_text(text: str) -> str:
    """Mojibake repaired, NFC, no control or zero-width characters, typographic quotes made
    plain, single spaces, no "read also"/share lines, at most one blank line."""
    if _native is not None:
        done: str | None = _native.normalize_text(text)
        if done is not None:
            return done
    return normalize_text_python(text)


def normalize_text_python(text: str) -> str:
    """`normalize_text` without the native module (and what tests compare it with)."""
    return _normalize(scrub(text))


def _normalize(text: str) -> str:
    """normalize_text of a text without lone surrogates (scrubbed, or decoded from UTF-8)."""
    text = unicodedata.normalize("NFC", repair_mojibake(text))
    if _ONE_BY_ONE.search(text):
        text = _INVISIBLE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
        # Whole text at once, not line by line (81 -> 41 µs per 2 KB article): neither the
        # spaces nor the quotes include "\n", so no run crosses a line.
        for space in _ODD_SPACES:
            if space in text:
                text = text.replace(space, " ")
        if any(quote in text for quote in _QUOTE_CHARS):  # translate() costs 35 µs regardless
            text = text.translate(_QUOTES)
    if "  " in text:  # quotes become no spaces: collapsing after them equals before
        text = _SPACE_RUN.sub(" ", text)
    match = _BOILERPLATE_LINE.match
    lines = [line.strip() for line in text.split("\n")]
    lines = [
        line for line in lines if not (line and len(line) <= MAX_BOILERPLATE_LINE and match(line))
    ]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


_URL_ATTRS = ("href", "src", "action", "formaction", "poster", "background", "srcset", "xlink:href")
_BAD_SCHEMES = LazyPattern(r"^\s*(?:javascript|vbscript|data|livescript)\s*:", re.IGNORECASE)


def sanitize_html(html: str) -> str:
    """HTML kept as HTML (raw records keep markup) but inert: no executable or embedded
    elements, no comments, no event-handler or style attributes, no script URLs."""
    if not html or ("<" not in html and "&" not in html):
        return html
    tree = LexborHTMLParser(html)
    for node in list(tree.root.traverse(include_text=False)) if tree.root else []:
        if node.tag in ("-comment", "_comment") or node.tag in _DROP:
            node.decompose()
            continue
        attrs = node.attrs
        for name in list(attrs.keys()):
            value = attrs[name] or ""
            lowered = name.lower()
            if (
                lowered.startswith("on")
                or lowered == "style"
                or (lowered in _URL_ATTRS and _BAD_SCHEMES.search(value.replace("\x00", "")))
            ):
                del attrs[name]
    body = tree.body
    return (body.inner_html or "") if body is not None else ""
