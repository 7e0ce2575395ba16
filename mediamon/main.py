"""Entry point of the `mediamon` command: the table of commands, each loaded when it runs."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer
import typer.core

# typer 0.29 vendors click; its group API takes the vendored types
from typer import _click as click

from pipeline.errors import MediamonError

# name -> (module, attribute, one-line help). A command's module is imported only when that
# command runs, so `mediamon enrich` never loads faust or the Elasticsearch client (startup
# 0.25 s instead of ~1 s), and the help text lives here so `mediamon --help` imports nothing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("mediamon.demo", "demo", "Stack up, sample feeds, connector and worker, summary."),
    "stack": ("mediamon.stack", "app", "Run real Kafka and Elasticsearch locally (no Docker)."),
    "setup": ("mediamon.setup", "app", "Create topics, index templates, aliases, dashboards."),
    "connectors": ("mediamon.services", "connectors_app", "Feed connectors."),
    "worker": ("mediamon.services", "worker", "Run the Faust worker (all agents)."),
    "status": ("mediamon.status", "status", "Services, lag, documents, dead letters, feeds."),
    "feeds": ("mediamon.feeds", "app", "Feeds: parse, validate, list, status, import OPML."),
    "enrich": ("mediamon.enrich", "enrich", "JSON Lines in, enriched JSON Lines out."),
    "fetch": ("mediamon.fetch", "fetch_command", "Full text for articles indexed from feeds."),
    "extract": ("mediamon.extract", "extract", "The article in saved pages, as JSON Lines."),
    "search": ("mediamon.search", "search", "Search indexed articles, newest first."),
    "web": ("mediamon.web.command", "web", "The live page in your browser (read-only)."),
    "rules": ("mediamon.rules", "app", "Alert rules (rules.yaml) and what they match."),
    "dlq": ("mediamon.dlq", "app", "Dead-letter topics: inspect and replay."),
    "eval": ("mediamon.evaluate", "eval_command", "Precision/recall per topic on labeled JSONL."),
    "retag": ("mediamon.retag", "retag_command", "Tag indexed articles again (new taxonomy)."),
    "topics": ("mediamon.topics", "app", "Topics: list, show, test on JSON Lines, explain a text."),
}


def load_command(name: str) -> click.Command:
    """The click command for `name`, importing its module now."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        group = typer.Typer(add_completion=False)
        group.add_typer(target, name=name)
        command = typer.main.get_command(group).commands[name]  # type: ignore[attr-defined]
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command  # type: ignore[no-any-return]  # typer's get_command is untyped


class LazyCommands(typer.core.TyperGroup):
    """A command group that lists COMMANDS without importing them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, spec[2]) for name, spec in COMMANDS.items()])


app = typer.Typer(
    name="mediamon",
    cls=LazyCommands,
    help="Streaming media monitoring: feeds -> Kafka -> enrichment -> Elasticsearch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _configure(
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error"),
) -> None:
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # One line per HTTP request to Elasticsearch is noise at info level.
    logging.getLogger("elastic_transport").setLevel(max(logging.WARNING, logging.root.level))
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
    logging.getLogger("pymorphy3").setLevel(max(logging.WARNING, logging.root.level))


def main() -> None:
    # numpy's OpenBLAS starts a thread per core that may use, and they spin after each
    # product they share: language detection's products (py3langid's, for the texts CLD2
    # cannot settle) are one small vector by a few hundred rows, which one thread computes
    # to the same bits (py3langid's scores of 26,766 eval and corpus texts), and the threads
    # cost ~0.1 s of CPU over the enrich benchmark's corpus where the process may use two
    # cores (3.30 -> 3.18 s median). Set here, before any command's module loads numpy, and
    # not in the stage, so importing pipeline/ changes no process's environment; an
    # operator's own setting stands.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app()
    except MediamonError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
