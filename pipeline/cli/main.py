"""Entry point of the `mediamon` command; command groups are registered here."""

from __future__ import annotations

import logging
import sys

import typer

from pipeline.cli import (
    demo,
    dlq,
    enrich,
    evaluate,
    feeds,
    rules,
    search,
    services,
    setup,
    stack,
    status,
)
from pipeline.errors import MediamonError

app = typer.Typer(
    name="mediamon",
    help="Streaming media monitoring: feeds -> Kafka -> enrichment -> Elasticsearch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(stack.app, name="stack")
app.add_typer(setup.app, name="setup")
app.add_typer(feeds.app, name="feeds")
app.add_typer(rules.app, name="rules")
app.add_typer(dlq.app, name="dlq")
app.add_typer(services.connectors_app, name="connectors")
app.command("worker")(services.worker)
app.command("enrich")(enrich.enrich)
app.command("search")(search.search)
app.command("demo")(demo.demo)
app.command("eval")(evaluate.eval_command)
app.command("status")(status.status)


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
    try:
        app()
    except MediamonError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
