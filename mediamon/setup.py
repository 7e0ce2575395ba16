"""`mediamon setup kafka|elasticsearch|kibana`: idempotent creation of topics, templates,
aliases and dashboards."""

from __future__ import annotations

import asyncio

import typer
from elastic_transport import TransportError
from elasticsearch import ApiError

from mediamon.output import console, err_console
from mediamon.setup_security import security
from pipeline.adapters import kibana as kibana_api
from pipeline.adapters.elastic import describe_error, make_client
from pipeline.adapters.kafka_admin import ensure_topics
from pipeline.adapters.kibana import (
    DASHBOARD_ID,
    apply_advanced_settings,
    import_saved_objects,
    objects_for,
    shipped_objects,
    to_ndjson,
)
from pipeline.alerts.store import ensure_alerts_index
from pipeline.indexing.layout import ensure_articles_index
from pipeline.settings import get_settings

app = typer.Typer(help="Create topics, index templates, aliases and dashboards (idempotent).")


@app.command("kafka")
def kafka() -> None:
    """Create every declared topic that does not exist yet."""
    created = asyncio.run(ensure_topics(get_settings()))
    console.print(f"topics created: {', '.join(created) if created else 'none (all exist)'}")


@app.command("elasticsearch")
def elasticsearch() -> None:
    """Install the index templates, this month's articles index, the `articles` alias, the
    retention policy (where the cluster has ILM) and the alerts index. Idempotent."""

    async def run() -> tuple[str, str]:
        settings = get_settings()
        es = make_client(settings)
        try:
            return (
                await ensure_articles_index(es, settings),
                await ensure_alerts_index(es, settings),
            )
        finally:
            await es.close()

    settings = get_settings()
    try:
        index, alerts = asyncio.run(run())
    except (ApiError, TransportError) as exc:
        err_console.print(
            f"setup elasticsearch failed: {describe_error(exc, settings)}", markup=False
        )
        raise typer.Exit(1) from exc
    console.print(f"templates installed; current articles index {index}; alerts index {alerts}")


@app.command("kibana")
def kibana(
    url: str | None = typer.Option(
        None, "--url", help="Kibana base URL (default: MEDIAMON_KIBANA_URL)", show_default=False
    ),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for Kibana to start"),
) -> None:
    """Import the data view, visualizations, saved search and dashboard (the NDJSON in
    pipeline/adapters/dashboards/)."""
    settings = get_settings()
    objects = objects_for(settings, shipped_objects())
    with kibana_api.make_client(settings, url) as client:
        where = str(client.base_url).rstrip("/")
        result = import_saved_objects(client, to_ndjson(objects), timeout=timeout)
        if result.ok:
            apply_advanced_settings(client)
            console.print("search bar: Lucene query syntax, default operator AND (as rules)")
    console.print(f"saved objects imported: {result.success_count} of {len(objects)} into {where}")
    for error in result.errors:
        err_console.print(f"not imported: {error}", markup=False, highlight=False)
    if not result.ok:
        if not result.errors:
            err_console.print("Kibana reported the import as unsuccessful", markup=False)
        raise typer.Exit(1)
    console.print(f"dashboard: {where}/app/dashboards#/view/{DASHBOARD_ID}")


app.command("security")(security)
