"""The `mediamon enrich` JSON Lines contract: an input object as a raw article, an enriched
article as an output object (the evaluation reads labeled items through the same path)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.schema import MAX_HTML, MAX_TITLE, MAX_URL, EnrichedArticle, RawArticle
from pipeline.stages.canonical import article_id
from pipeline.stages.clean import scrub

FIELDS = ("id", "url", "title", "summary", "content")


def read_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON Lines file; a line that is
    not a JSON object is a ConfigError naming the file and the line."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not JSON: {exc.msg}") from exc
            if not isinstance(obj, dict):
                raise ConfigError(f"{path}:{number}: expected a JSON object")
            yield number, obj


def to_raw(obj: Any) -> RawArticle:
    """An input object (any of id, url, title, summary, content, lang_hint) as a raw article."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    for key in (*FIELDS, "lang_hint"):
        if key in obj and obj[key] is not None and not isinstance(obj[key], str):
            raise ValueError(f"field {key!r} must be a string")
    if not any(obj.get(k) for k in FIELDS):
        raise ValueError(f"the object has none of {', '.join(FIELDS)}")

    def field(key: str, limit: int) -> str:
        # Oversized input is cut to the record's bounds rather than refused: the first
        # 200,000 characters of an article say what it is about.
        return scrub(str(obj.get(key) or ""))[:limit]

    url = field("url", MAX_URL)
    ident = field("id", 128)
    if not ident:  # the text an id is made of, joined only where the object has none
        text_basis = "\n".join(field(k, MAX_HTML) for k in ("title", "summary", "content"))
        ident = article_id(url, fallback=text_basis)
    return RawArticle(
        id=ident,
        url=url,
        title=field("title", MAX_TITLE),
        summary_html=field("summary", MAX_HTML),
        content_html=field("content", MAX_HTML),
        lang_hint=field("lang_hint", 8) or None,
    )


def to_output(article: EnrichedArticle) -> dict[str, Any]:
    return article.model_dump(
        mode="json",
        include={
            "id",
            "url",
            "canonical_url",
            "title",
            "text",
            "lang",
            "lang_confidence",
            "topics",
            "topic_scores",
            "topic_evidence",
            "story_id",
        },
    )
