"""`mediamon worker` and `mediamon connectors run`: the two long-running services."""

from __future__ import annotations

import asyncio
import signal

import typer

from connectors.feeds import adhoc_feeds, configured_feeds, configured_hosts
from connectors.rss import RssConnector
from mediamon.output import print_json
from pipeline.health import Health, beat
from pipeline.health import serve as serve_health
from pipeline.settings import get_settings
from pipeline.worker import run_worker

connectors_app = typer.Typer(help="Feed connectors.", no_args_is_help=True)


def worker(
    loglevel: str = typer.Option("info", "--loglevel", help="Faust worker log level."),
) -> None:
    """Run the Faust worker: enrich articles.raw and index articles.enriched."""
    run_worker(get_settings(), loglevel)


@connectors_app.command("run")
def run(
    once: bool = typer.Option(False, "--once", help="Poll every feed once, then exit."),
    feed: list[str] = typer.Option([], "--feed", help="Feed URL (repeatable; default: settings)."),
    as_json: bool = typer.Option(False, "--json", help="Print poll reports as JSON."),
) -> None:
    """Poll RSS/Atom feeds and produce raw articles to Kafka."""
    settings = get_settings()
    if feed:
        feeds = adhoc_feeds(feed, settings.poll_interval)
    else:
        feeds = configured_feeds(settings.feeds_file, settings.feed_urls, settings.poll_interval)
    hosts = configured_hosts(settings.feeds_file)
    health = Health()
    if not once:
        serve_health(health, settings.connector_metrics_port, settings.health_bind)

    async def main() -> list[dict[str, object]]:
        connector = RssConnector(settings, feeds, hosts)
        await connector.setup()
        health.check("kafka", lambda: connector.emitter.healthy(settings.ready_grace_seconds))
        heartbeat = asyncio.create_task(beat(health))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, connector.request_stop)
        try:
            reports = await connector.run(once=once)
        finally:
            heartbeat.cancel()
            await connector.stop()
        return [r.__dict__ for r in reports]

    reports = asyncio.run(main())
    if as_json:
        print_json(reports)
    if once and any(r["error"] for r in reports):
        raise typer.Exit(1)
