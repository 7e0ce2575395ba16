"""`mediamon feeds parse`: show what the connector would make of a feed, without Kafka."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.output import console, print_table

app = typer.Typer(help="Inspect feeds.", no_args_is_help=True)


@app.command("parse")
def parse(
    source: str = typer.Argument(..., help="A feed file or an http(s) URL."),
    as_json: bool = typer.Option(False, "--json", help="One raw-article record per line."),
) -> None:
    """Parse a feed into raw-article records; report a malformed feed and its readable entries."""
    from connectors.normalize import parse_feed

    if source.startswith(("http://", "https://")):
        import asyncio

        from pipeline.adapters import http
        from pipeline.settings import get_settings

        async def get() -> tuple[str, bytes]:
            settings = get_settings()
            async with http.make_client(settings) as client:
                fetched = await http.fetch(client, source, settings.max_feed_bytes)
            return fetched.url, fetched.body

        url, data = asyncio.run(get())
    else:
        path = Path(source)
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {source}")
        url, data = path.resolve().as_uri(), path.read_bytes()
    parsed = parse_feed(data, url)
    if as_json:
        for article in parsed.articles:
            print(article.to_json().decode())
    else:
        print_table(
            f"{parsed.title or source}: {len(parsed.articles)} entries",
            ["published", "title", "url"],
            [[a.published, a.title[:80], a.url] for a in parsed.articles],
        )
    if parsed.malformed:
        console.print(f"[yellow]malformed feed[/yellow]: {parsed.malformed}", highlight=False)
