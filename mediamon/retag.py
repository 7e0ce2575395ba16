"""`mediamon retag`: tag what is already indexed again, with the taxonomy as it is now."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

from mediamon.output import console, print_json, print_table, progress_bar
from pipeline.adapters.elastic import make_client
from pipeline.errors import ConfigError
from pipeline.indexing.retag import RetagReport, count, retag
from pipeline.settings import get_settings
from pipeline.stages.tagging import Tagger
from pipeline.taxonomy import load_taxonomy


def _since(value: str | None) -> datetime | None:
    """`7d`, `12h`, `30m` ago, or an ISO date/time."""
    if not value:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--since {value!r}: give 7d, 12h, 30m or an ISO date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def retag_command(
    since: str | None = typer.Option(
        None, "--since", help="Only articles fetched since: 7d, 12h or an ISO date."
    ),
    topic: str | None = typer.Option(None, "--topic", help="Decide only this topic again."),
    taxonomy: Path | None = typer.Option(
        None, "--taxonomy", help="Taxonomy YAML (default: the worker's)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Count what would change; write nothing."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-tag indexed articles; only documents whose topics change are written, each only if
    no newer copy arrived meanwhile. Safe to run again (the second run changes nothing)."""
    settings = get_settings()
    tagger = Tagger(load_taxonomy(taxonomy or settings.taxonomy_path))
    if topic is not None and topic not in tagger.topic_ids:
        raise ConfigError(f"no topic {topic!r}; topics: {', '.join(tagger.topic_ids)}")
    after = _since(since)

    async def run() -> RetagReport:
        es = make_client(settings)
        try:
            total = await count(es, settings.articles_alias, after)
            with progress_bar("retag", as_json) as bar:
                task = bar.add_task("retag", total=total)
                return await retag(
                    es,
                    settings.articles_alias,
                    tagger,
                    since=after,
                    topic=topic,
                    dry_run=dry_run,
                    progress=lambda n: bar.advance(task, n),
                )
        finally:
            await es.close()

    report = asyncio.run(run())
    if as_json:
        print_json(report.as_dict() | {"dry_run": dry_run})
    else:
        print_table(
            "retag" + (" (dry run: nothing written)" if dry_run else ""),
            ["seen", "changed", "newer copy meanwhile", "failed", "gained", "lost"],
            [
                [
                    report.seen,
                    report.changed,
                    report.newer_meanwhile,
                    len(report.failed),
                    ", ".join(f"{t} +{n}" for t, n in report.added.items()),
                    ", ".join(f"{t} -{n}" for t, n in report.removed.items()),
                ]
            ],
        )
        for doc_id, error in report.failed[:10]:
            console.print(f"failed {doc_id}: {error}", markup=False)
    if report.failed:
        raise typer.Exit(1)
