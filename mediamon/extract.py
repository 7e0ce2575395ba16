"""`mediamon extract PATH...`: the article in saved pages, one JSON line per file, through the
code the fetch stage uses."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from pipeline.stages.extract import MAX_PAGE_BYTES, decode_html, extract_article

PAGE_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")


def _pages(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(PAGE_SUFFIXES)
            )
        else:
            yield path


def _read(path: Path) -> bytes:
    with path.open("rb") as raw:
        if path.name.lower().endswith(".gz"):
            with gzip.open(raw) as unpacked:
                return unpacked.read(MAX_PAGE_BYTES)
        return raw.read(MAX_PAGE_BYTES)


def extract(
    paths: list[Path] = typer.Argument(..., help="HTML files (.html, .html.gz) or folders."),
    url: str | None = typer.Option(None, help="The page's address (resolves relative links)."),
) -> None:
    """Print {"path", "title", "text", "published", "author", "lang", "canonical_url"} per
    page; an unreadable file gets a line with "error", and the exit status is 1 at the end."""
    failed = 0
    out = sys.stdout
    for path in _pages(paths):
        try:
            found = extract_article(decode_html(_read(path)), url).as_dict()
            line = {"path": str(path), **found}
        except Exception as exc:  # one bad file must never stop the others
            failed += 1
            line = {"path": str(path), "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
    if failed:
        typer.echo(f"{failed} file(s) failed", err=True)
        raise typer.Exit(1)
