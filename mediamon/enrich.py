"""`mediamon enrich`: JSON Lines in, enriched JSON Lines out, through the agents' own core."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import typer
from pydantic import ValidationError

from pipeline.stages.enrich import Enricher
from pipeline.stages.jsonl import line_writer, to_output, to_raw


def enrich(
    taxonomy: Path | None = typer.Option(None, help="Taxonomy YAML (default: the shipped one)."),
) -> None:
    """Read JSON Lines on stdin, write one enriched JSON line per input line to stdout."""
    enricher = Enricher.from_path(taxonomy)
    # What is loaded by now (modules, the taxonomy, the records' validators) lives as long
    # as the process: frozen, the cyclic collector's passes no longer traverse it.
    gc.freeze()
    failed = 0
    write = line_writer(sys.stdout)
    for number, line in enumerate(sys.stdin, start=1):
        try:
            result = to_output(enricher.enrich(to_raw(json.loads(line))))
        except (ValueError, ValidationError) as exc:
            failed += 1
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            result = {"line": number, "error": f"{type(exc).__name__}: {message}"}
        write(result)
    if failed:
        typer.echo(f"{failed} line(s) failed", err=True)
        raise typer.Exit(1)
