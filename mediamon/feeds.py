"""`mediamon feeds parse|validate|list|status|import-opml`: the feeds and what became of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import typer

from connectors.feeds import FeedsFile, configured_feeds, import_opml, load_feeds, save_feeds
from connectors.normalize import parse_feed
from connectors.state import StateStore
from mediamon.output import console, print_json, print_table
from pipeline.adapters import http
from pipeline.errors import MediamonError
from pipeline.settings import get_settings

app = typer.Typer(help="Feeds: parse, validate, list, status, import OPML.", no_args_is_help=True)
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".feed", ""}


def _files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix in FEED_SUFFIXES
            )
        else:
            yield path


@app.command("parse")
def parse(
    sources: list[str] = typer.Argument(..., help="Feed files, folders (recursive) or URLs."),
) -> None:
    """Run the connector's parse-and-normalize path; print raw-article records as JSON Lines.
    A source that cannot be used yields one error line naming it; exit 1 if any did."""
    failed = 0
    urls = [s for s in sources if s.startswith(("http://", "https://"))]
    paths = [Path(s) for s in sources if s not in urls]
    for url in urls:
        failed += not _parse_url(url)
    for path in _files(paths):
        try:
            parsed = parse_feed(path.read_bytes(), path.resolve().as_uri())
        except Exception as exc:  # one bad file must never stop the others
            failed += 1
            print(json.dumps({"file": str(path), "error": f"{type(exc).__name__}: {exc}"}))
            continue
        if not parsed.articles and (parsed.malformed or not parsed.is_feed):
            failed += 1
            reason = parsed.malformed or "no RSS/Atom entries"
            print(json.dumps({"file": str(path), "error": reason}, ensure_ascii=False))
            continue
        for article in parsed.articles:
            print(article.to_json().decode())
    if failed:
        raise typer.Exit(1)


def _parse_url(url: str) -> bool:
    settings = get_settings()

    async def get() -> http.Fetched:
        async with http.make_client(settings) as client:
            return await http.fetch(client, url, settings.max_feed_bytes)

    try:
        fetched = asyncio.run(get())
    except MediamonError as exc:
        print(json.dumps({"url": url, "error": str(exc)}))
        return False
    parsed = parse_feed(fetched.body, fetched.url, content_type=fetched.content_type)
    for article in parsed.articles:
        print(article.to_json().decode())
    return bool(parsed.articles) or parsed.is_feed


@app.command("validate")
def validate(
    path: Path | None = typer.Argument(None, help="Feeds file (default: MEDIAMON_FEEDS_FILE)."),
) -> None:
    """Check the feeds file; every problem is reported with its line."""
    target = path or get_settings().feeds_file
    feeds = load_feeds(target)
    hosts = f", {len(feeds.hosts)} host policies" if feeds.hosts else ""
    console.print(f"{target}: {len(feeds.feeds)} feeds{hosts}, valid")


@app.command("list")
def list_feeds(as_json: bool = typer.Option(False, "--json")) -> None:
    """The configured feeds."""
    settings = get_settings()
    feeds = configured_feeds(settings.feeds_file, settings.feed_urls, settings.poll_interval)
    if as_json:
        print_json([f.model_dump() for f in feeds])
        return
    print_table(
        f"{len(feeds)} feeds",
        ["id", "enabled", "lang", "interval", "tags", "url"],
        [
            [f.id, f.enabled, f.lang, f"{f.poll_interval:.0f}s", ",".join(f.tags), f.url]
            for f in feeds
        ],
    )


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Per feed: last poll, last success, consecutive failures, last error, items emitted."""
    settings = get_settings()
    if not settings.connector_state_file.exists():
        console.print(f"no connector state yet ({settings.connector_state_file})")
        raise typer.Exit(1)
    store = StateStore(settings.connector_state_file)
    try:
        states = store.all_feeds()
    finally:
        store.close()
    if as_json:
        print_json([s.__dict__ for s in states])
        return
    print_table(
        f"{len(states)} feeds polled",
        ["feed", "last poll", "last success", "fails", "emitted", "304s", "last error"],
        [
            [
                s.feed_id,
                (s.last_poll or "")[:19],
                (s.last_success or "")[:19],
                s.consecutive_failures,
                s.items_emitted,
                s.not_modified,
                (s.last_error or "")[:60],
            ]
            for s in states
        ],
    )


@app.command("import-opml")
def import_opml_cmd(
    opml: Path = typer.Argument(..., exists=True, dir_okay=False),
    feeds_file: Path | None = typer.Option(None, "--feeds-file"),
) -> None:
    """Merge the feeds of an OPML export into the feeds file (known URLs are kept as they are)."""
    target = feeds_file or get_settings().feeds_file
    current = load_feeds(target) if target.exists() else FeedsFile()
    merged, added = import_opml(opml, current)
    save_feeds(target, merged)
    console.print(f"{len(added)} feeds added to {target} ({len(merged.feeds)} in all)")
