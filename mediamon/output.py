"""Shared CLI output helpers: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

console = Console(stderr=False)
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False, min_width=len(title) + 4)
    for column in columns:
        table.add_column(column)
    for row in rows:
        # Text, not str: a cell is data (a feed's title, a server's message), never markup
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    console.print(table)


def progress_bar(label: str, quiet: bool) -> Progress:
    """A bar with done/total and time left on the console (none when `quiet`, e.g. --json)."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
