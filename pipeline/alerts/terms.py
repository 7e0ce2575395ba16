"""Analysed terms from Elasticsearch, for the rules' pre-selection (pipeline.alerts.presearch):
the tokens each analyzer of the default fields makes of a rule's words (`_analyze`), and
the terms a batch's documents were indexed with (`_mtermvectors`).

Both come from the server on purpose: the index's own analyzers (stemming, stop words,
folding, the mediamon-analysis plugin's chains) are the only exact account of what a search
compares, and a copy of them in Python would drift.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.schema import EnrichedArticle

TEXTS_PER_REQUEST = 2_000  # words per _analyze request: a bounded body, few round trips
IDS_PER_REQUEST = 200  # articles per _mtermvectors request: full texts, a bounded body


def _utf16_len(text: str) -> int:
    # Elasticsearch's offsets count Java chars: UTF-16 code units
    return len(text.encode("utf-16-le")) // 2


@dataclass
class IndexFields:
    """An index's default text fields (its real mapping: an older index may have a built-in
    standing in for a custom analyzer, or lack a newer language's fields)."""

    analyzer: dict[str, str]  # text field -> its analyzer

    @property
    def text(self) -> set[str]:
        return set(self.analyzer)

    @property
    def per_analyzer(self) -> dict[str, str]:
        """analyzer -> one field that uses it (what `_analyze` is asked with)."""
        return {a: f for f, a in sorted(self.analyzer.items(), reverse=True)}


async def index_fields(es: AsyncElasticsearch, index: str) -> IndexFields:
    mapping = await es.indices.get_mapping(index=index)
    analyzer: dict[str, str] = {}
    for body in mapping.body.values():
        for name, spec in body["mappings"].get("properties", {}).items():
            if spec.get("type") == "text" and _is_default(name):
                analyzer[name] = spec.get("analyzer", "default")
    return IndexFields(analyzer)


def _is_default(name: str) -> bool:
    # the articles template's `query.default_field`: title, text, title_*, text_*
    return name in ("title", "text") or name.startswith(("title_", "text_"))


async def analyse(
    es: AsyncElasticsearch, index: str, fields: IndexFields, texts: Iterable[str]
) -> dict[str, dict[str, list[str]]]:
    """text -> per default text field the tokens its analyzer makes of it (one `_analyze`
    per distinct analyzer and chunk of texts)."""
    wanted = sorted({t for t in texts if t})
    per_analyzer: dict[str, dict[str, list[str]]] = {t: {} for t in wanted}
    for start in range(0, len(wanted), TEXTS_PER_REQUEST):
        chunk = wanted[start : start + TEXTS_PER_REQUEST]
        # several texts go in one request; each token's offset says which text it came from
        # (the server counts offsets on through the texts, one apart)
        bases, at = [], 0
        for text in chunk:
            bases.append(at)
            at += _utf16_len(text) + 1
        for analyzer, field in fields.per_analyzer.items():
            for text in chunk:
                per_analyzer[text][analyzer] = []
            answer = await es.indices.analyze(index=index, field=field, text=chunk)
            for token in answer.body.get("tokens", []):
                i = bisect.bisect_right(bases, token["start_offset"]) - 1
                per_analyzer[chunk[i]][analyzer].append(token["token"])
    return {
        text: {f: tokens[a] for f, a in fields.analyzer.items()}
        for text, tokens in per_analyzer.items()
    }


async def batch_terms(
    es: AsyncElasticsearch, index: str, fields: IndexFields, articles: Sequence[EnrichedArticle]
) -> set[str]:
    """Every term the default fields of these articles hold, as `index` analyses them.

    The articles go as artificial documents: the language copies (title_<lang>,
    text_<lang>) are left out of _source, so the term vectors of the stored documents could
    not be rebuilt for them. The copies are made as the indexer makes them (only for a
    language the index has fields for: its strict mapping refuses any other)."""
    terms: set[str] = set()
    for start in range(0, len(articles), IDS_PER_REQUEST):
        docs = []
        for article in articles[start : start + IDS_PER_REQUEST]:
            doc = {"title": article.title, "text": article.text}
            if f"text_{article.lang}" in fields.text:
                doc |= {
                    f"title_{article.lang}": article.title,
                    f"text_{article.lang}": article.text,
                }
            docs.append(
                {
                    "_index": index,
                    "doc": doc,
                    "fields": sorted(doc),
                    "positions": False,
                    "offsets": False,
                    "payloads": False,
                    "term_statistics": False,
                    "field_statistics": False,
                }
            )
        answer = await es.mtermvectors(
            index=index, docs=docs, filter_path=["docs.term_vectors.*.terms", "docs.error"]
        )
        for doc_answer in answer.body.get("docs", []):
            if "error" in doc_answer:
                raise TermVectorsError(str(doc_answer["error"])[:300])
            vectors: dict[str, Any] = doc_answer.get("term_vectors", {})
            for field in vectors.values():
                terms.update(field.get("terms", {}))
    return terms


class TermVectorsError(Exception):
    """The server could not analyse a batch document: the batch is matched against every
    rule instead."""
