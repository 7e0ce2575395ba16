"""Canonical article URLs and the stable article id derived from them."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never the article.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "ga_")
_TRACKING_NAMES = frozenset(
    {"fbclid", "gclid", "dclid", "yclid", "msclkid", "igshid", "ref", "ref_src", "cmpid", "s_cid"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """Lowercase scheme and host, no default port, no fragment, no tracking parameters."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    netloc = host
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_NAMES
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def domain_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def article_id(url: str, guid: str = "", fallback: str = "") -> str:
    """Stable id: from the canonical URL, else the GUID, else the given fallback text."""
    basis = canonical_url(url) if url.strip() else (guid.strip() or fallback)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def _is_address(host: str) -> bool:
    return ":" in host or host.replace(".", "").isdigit()


def declared_canonical(declared: str | None, page_url: str) -> str | None:
    """The page's own canonical URL (link rel=canonical, og:url) when it may name the
    article, else None. Copies of one article reached through different feeds, links with
    other parameters or the mobile host then share one id. A page only speaks for its own
    site: the canonical host must be the page's host or a parent or child of it (m.x.org
    for x.org), never another site, or a hostile page could take over, and overwrite,
    another outlet's article. A canonical that is the site's front page while the page is
    not is a soft 404 or a wall, not this article's address."""
    if not declared:
        return None
    url = canonical_url(declared)
    want, have = urlsplit(url), urlsplit(canonical_url(page_url))
    if want.scheme not in ("http", "https") or not want.hostname or not have.hostname:
        return None
    claimed, own = want.hostname, have.hostname  # canonical_url: lower case, without www.
    if claimed != own and (
        _is_address(claimed)
        or _is_address(own)
        or not (claimed.endswith(f".{own}") or own.endswith(f".{claimed}"))
        or "." not in min(claimed, own, key=len)  # a bare TLD is no site
    ):
        return None
    if want.path in ("", "/") and not want.query and have.path not in ("", "/"):
        return None
    return url
