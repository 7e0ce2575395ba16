"""`mediamon fetch`: full text for articles indexed from their feed alone, fetched politely
like the connector's pages; with progress, and safe to run again."""

from __future__ import annotations

import asyncio

import typer

from connectors.feeds import configured_hosts
from mediamon.output import console, print_json, print_table, progress_bar
from mediamon.search import parse_since
from pipeline.adapters import http
from pipeline.adapters.elastic import make_client
from pipeline.adapters.hosts import HostGate
from pipeline.adapters.pages import PageFetcher
from pipeline.indexing.backfill import BackfillReport, backfill, query
from pipeline.settings import get_settings
from pipeline.stages.enrich import Enricher


def fetch_command(
    since: str = typer.Option(
        "7d", "--since", help="Articles fetched within this span: 30m, 24h, 7d."
    ),
    feed: str | None = typer.Option(None, "--feed", help="Only this feed's articles."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Fetch the pages of articles indexed without their full text (feed text shorter than
    MEDIAMON_FETCH_MIN_CHARS), tag them again from the page, and write each back unless a
    newer copy arrived meanwhile. Pages that cannot be used are counted by reason."""
    settings = get_settings()
    after = parse_since(since)
    enricher = Enricher.from_path(settings.taxonomy_path)

    async def run() -> BackfillReport:
        es = make_client(settings)
        try:
            total = (await es.count(index=settings.articles_alias, query=query(after, feed)))[
                "count"
            ]
            async with http.make_client(settings) as client:
                gate = HostGate(
                    settings.host_spacing,
                    per_host=settings.host_concurrency,
                    policies=configured_hosts(settings.feeds_file),
                )
                fetcher = PageFetcher(
                    client,
                    gate,
                    max_bytes=settings.max_page_bytes,
                    total_timeout=settings.page_total_timeout,
                    concurrency=settings.page_concurrency,
                )
                with progress_bar("pages", as_json) as bar:
                    task = bar.add_task("pages", total=total)
                    return await backfill(
                        es,
                        settings.articles_alias,
                        enricher,
                        fetcher,
                        since=after,
                        feed=feed,
                        min_chars=settings.fetch_min_chars,
                        progress=lambda n: bar.advance(task, n),
                    )
        finally:
            await es.close()

    report = asyncio.run(run())
    if as_json:
        print_json(report.as_dict())
    else:
        print_table(
            "pages",
            ["seen", "now from their page", "not used (why)", "newer copy meanwhile", "failed"],
            [
                [
                    report.seen,
                    report.from_page,
                    ", ".join(f"{r} {n}" for r, n in sorted(report.problems.items())) or "-",
                    report.newer_meanwhile,
                    len(report.failed),
                ]
            ],
        )
        for doc_id, error in report.failed[:10]:
            console.print(f"failed {doc_id}: {error}", markup=False)
    if report.failed:
        raise typer.Exit(1)
