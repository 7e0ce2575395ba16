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
