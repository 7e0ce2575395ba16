"""`mediamon setup kafka|elasticsearch`: idempotent creation of topics, templates and aliases."""

from __future__ import annotations

import asyncio

import typer

from pipeline.cli.output import console

app = typer.Typer(help="Create topics, index templates and aliases (idempotent).")


@app.command("kafka")
def kafka() -> None:
    """Create every declared topic that does not exist yet."""
    from pipeline.adapters.kafka import ensure_topics
    from pipeline.settings import get_settings

    created = asyncio.run(ensure_topics(get_settings()))
    console.print(f"topics created: {', '.join(created) if created else 'none (all exist)'}")


@app.command("elasticsearch")
def elasticsearch() -> None:
    """Install the articles index template and the `articles` alias."""
    from pipeline.adapters.elastic import ensure_articles_index, make_client
    from pipeline.settings import get_settings

    async def run() -> str:
        settings = get_settings()
        es = make_client(settings)
        try:
            return await ensure_articles_index(es, settings)
        finally:
            await es.close()

    index = asyncio.run(run())
    console.print(f"template installed; write index {index}")
