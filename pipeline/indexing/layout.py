"""Index layout: the articles template (package data beside this module), monthly indices
behind the alias, retention where the cluster has ILM, mappings kept up to date."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch

from pipeline.adapters.elastic import cluster_modules
from pipeline.schema import EnrichedArticle
from pipeline.settings import Settings

log = logging.getLogger(__name__)

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def _asset(name: str) -> dict[str, Any]:
    text = resources.files("pipeline.indexing").joinpath(name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _template_properties() -> dict[str, Any]:
    props: dict[str, Any] = _asset("articles-template.json")["template"]["mappings"]["properties"]
    return props


# Detected language -> analyzer, read off the template's title_<lang>/text_<lang> fields so the
# mapping file stays the one place that says which languages get their own analysis.
LANGUAGE_ANALYZERS: dict[str, str] = {
    name.removeprefix("text_"): spec["analyzer"]
    for name, spec in _template_properties().items()
    if name.startswith("text_") and "analyzer" in spec
}


# Without analysis-common (the integ-test-zip) the template's custom analyzers cannot be
# built from token filters; the mediamon-analysis plugin provides the same Lucene chains whole.
LOCAL_ANALYZERS = {"mediamon_russian": {"type": "mediamon_russian_light"}}


def articles_template(
    settings: Settings, lifecycle_policy: str | None = None, analysis_common: bool = True
) -> dict[str, Any]:
    body = _asset("articles-template.json")
    if not analysis_common:
        analysis = body["template"]["settings"]["analysis"]
        analysis["analyzer"] = {name: LOCAL_ANALYZERS[name] for name in analysis["analyzer"]}
        analysis.pop("filter", None)
    body["index_patterns"] = [f"{settings.articles_alias}-*"]
    body["template"]["aliases"] = {settings.articles_alias: {}}
    index_settings = body["template"]["settings"]
    index_settings |= {
        "number_of_shards": settings.es_shards,
        "number_of_replicas": settings.es_replicas,
        "refresh_interval": settings.es_refresh_interval,
    }
    if lifecycle_policy:
        index_settings["lifecycle"] = {"name": lifecycle_policy}
    return body


def month_of(article: EnrichedArticle) -> datetime:
    """The month an article is filed under: its publication date, or when it was fetched if
    the date is missing or not believable (feeds do send 1970 and 2099)."""
    now = datetime.now(UTC)
    when = article.published
    if when is None or not (EARLIEST <= when <= now + timedelta(days=2)):
        when = article.fetched_at or article.enriched_at
    return when.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def monthly_index(settings: Settings, month: datetime) -> str:
    return f"{settings.articles_alias}-{month:%Y.%m}"


async def lifecycle_available(es: AsyncElasticsearch) -> bool:
    """Index lifecycle management is the x-pack-ilm module: absent from the integ-test-zip."""
    return "x-pack-ilm" in await cluster_modules(es)


def lifecycle_policy_name(settings: Settings) -> str:
    return f"{settings.articles_alias}-retention"


async def ensure_lifecycle(es: AsyncElasticsearch, settings: Settings) -> str | None:
    """Install the retention policy where the cluster can run it; say so where it cannot."""
    if not settings.es_retention_days:
        log.info("retention disabled (MEDIAMON_ES_RETENTION_DAYS is 0): indices are kept")
        return None
    if not await lifecycle_available(es):
        log.warning(
            "this Elasticsearch has no index lifecycle management (no x-pack): the %d-day "
            "retention is not applied; delete old %s-YYYY.MM indices by hand",
            settings.es_retention_days,
            settings.articles_alias,
        )
        return None
    name = lifecycle_policy_name(settings)
    await es.ilm.put_lifecycle(
        name=name,
        policy={
            "_meta": {"managed_by": "mediamon"},
            "phases": {
                "hot": {"actions": {}},
                # counted from the index's origination date: the end of its month
                "delete": {
                    "min_age": f"{settings.es_retention_days}d",
                    "actions": {"delete": {}},
                },
            },
        },
    )
    return name


async def ensure_monthly_index(
    es: AsyncElasticsearch, settings: Settings, month: datetime, lifecycle: bool
) -> str:
    """Create the month's index (the template supplies mappings and the alias)."""
    index = monthly_index(settings, month)
    if await es.indices.exists(index=index):
        return index
    index_settings: dict[str, Any] = {}
    if lifecycle:
        # Retention counts from the end of the month the articles belong to, not from
        # whenever the index happened to be created (a backfill creates old months today).
        month_end = (month + timedelta(days=32)).replace(day=1)
        index_settings["index.lifecycle.origination_date"] = int(month_end.timestamp() * 1000)
    try:
        await es.indices.create(index=index, settings=index_settings or None)
    except ApiError as exc:  # another worker created it between exists() and create()
        if "resource_already_exists_exception" not in str(exc):
            raise
    return index


# What an index created before a custom analyzer existed uses for fields added later.
BUILTIN_STAND_INS = {"mediamon_russian": "russian"}


def _with_builtins(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v | {"analyzer": BUILTIN_STAND_INS[v["analyzer"]]}
        if v.get("analyzer") in BUILTIN_STAND_INS
        else v
        for k, v in properties.items()
    }


async def ensure_articles_index(es: AsyncElasticsearch, settings: Settings) -> str:
    """Retention policy, template, this month's index (so the alias exists) and the newest
    fields on every existing index. Idempotent; returns this month's index."""
    policy = await ensure_lifecycle(es, settings)
    analysis_common = "analysis-common" in await cluster_modules(es)
    template = articles_template(settings, policy, analysis_common)
    await es.indices.put_index_template(name=f"{settings.articles_alias}-template", **template)
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    index = await ensure_monthly_index(es, settings, month, lifecycle=policy is not None)
    # Indices made by an older version lack newer fields, and the strict mapping would
    # reject every document carrying them: add them (adding fields is always allowed).
    properties = template["template"]["mappings"]["properties"]
    existing = await es.indices.get_mapping(index=f"{settings.articles_alias}-*")
    for name, mapping in existing.body.items():
        have = mapping.get("mappings", {}).get("properties", {})
        missing = {k: v for k, v in properties.items() if k not in have}
        if missing:
            try:
                await es.indices.put_mapping(index=name, properties=missing)
            except ApiError as exc:
                if "has not been configured" not in str(exc.body):
                    raise
                # an index older than a custom analyzer: a built-in stands in for it there
                await es.indices.put_mapping(index=name, properties=_with_builtins(missing))
        changed = [k for k, v in properties.items() if k in have and have[k] != v]
        if changed:
            # an analyzer or type cannot change in place: the next monthly index has it
            log.info("%s keeps its older definition of %s", name, ", ".join(sorted(changed)))
    return index
