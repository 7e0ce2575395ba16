"""`mediamon demo [--once]`: the whole pipeline on the shipped sample feeds."""

from __future__ import annotations

import asyncio
import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from deploy.feedserver import FeedServer
from deploy.stack import Stack
from mediamon.demo_flow import (
    expected_ids,
    start_services,
    start_web,
    summarize,
    wait_until_indexed,
)
from mediamon.output import console, print_table
from pipeline.settings import get_settings
from pipeline.worker import prepare


def demo(
    once: bool = typer.Option(False, "--once", help="Exit 0 once every sample is searchable."),
    timeout: float = typer.Option(300.0, help="Seconds to wait for every sample to be indexed."),
) -> None:
    """Start the stack, serve the sample feeds, run connector and worker, show progress."""
    settings = get_settings()
    with console.status("starting Kafka and Elasticsearch (the first run downloads them)..."):
        Stack(settings).up()
    console.print(f"stack up: Kafka {settings.kafka_bootstrap}, Elasticsearch {settings.es_url}")
    server = FeedServer(port=settings.demo_feed_port).start()
    services = []
    try:
        urls = server.feed_urls()
        ids = expected_ids(server)
        console.print(
            f"serving {len(urls)} sample feeds ({len(ids)} articles) at {server.base_url}"
        )
        asyncio.run(prepare(settings))
        services = start_services(settings, server, once)
        with Progress(
            TextColumn("[bold]indexed"), BarColumn(), MofNCompleteColumn(), console=console
        ) as progress:
            task = progress.add_task("indexed", total=len(ids))
            wait_until_indexed(
                settings, ids, services, timeout, lambda n: progress.update(task, completed=n)
            )
        summary = asyncio.run(summarize(settings, ids))
        print_table("articles per language", ["lang", "articles"], sorted(summary.by_lang.items()))
        print_table("articles per topic", ["topic", "articles"], sorted(summary.by_topic.items()))
        print_table(
            "where the text came from",
            ["source", "articles"],
            sorted(summary.by_text.items(), key=lambda kv: (-kv[1], kv[0])),
        )
        console.print(
            f"{summary.total} sample articles searchable in Elasticsearch at {settings.es_url} "
            f"(alias {settings.articles_alias}); try: mediamon search 'Сирия' --lang ru"
        )
        if once:
            console.print("to look at them in a browser: mediamon web")
            return
        web, url = start_web(settings)
        services.append(web)
        console.print(f"[bold]the live page: {url}[/bold] (new articles appear by themselves)")
        console.print("monitoring the sample feeds; Ctrl-C to stop (the stack keeps running)")
        while True:
            time.sleep(5)
            for service in services:
                if not service.running:
                    console.print(f"[red]{service.name} exited[/red]; log: {service.log_path}")
                    raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping connector and worker")
    finally:
        for service in reversed(services):
            service.stop()
        server.stop()
        console.print("stack still running: `mediamon stack down` stops it")
