"""`mediamon stack up|down|status`: the local Kafka and Elasticsearch servers."""

from __future__ import annotations

import typer

from deploy.stack import ServiceStatus, Stack
from mediamon.output import console, print_json, print_table
from pipeline.settings import get_settings

app = typer.Typer(
    help="Run real Kafka and Elasticsearch locally (no Docker).", no_args_is_help=True
)


def _stack() -> Stack:
    return Stack(get_settings())


def _show(statuses: list[ServiceStatus], as_json: bool) -> None:
    if as_json:
        print_json([s.as_dict() for s in statuses])
        return
    print_table(
        "mediamon stack",
        ["service", "pid", "running", "healthy", "url", "log"],
        [[s.name, s.pid, s.running, s.healthy, s.url, s.log] for s in statuses],
    )


@app.command()
def up(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Resolve the jars (first run only), start both servers, wait until they are healthy."""
    stack = _stack()
    with console.status("starting Kafka and Elasticsearch (first run downloads the jars)..."):
        statuses = stack.up()
    _show(statuses, as_json)
    if not as_json:
        console.print(f"state, logs and pid files: {stack.settings.state_dir.resolve()}")


@app.command()
def down() -> None:
    """Stop the servers this stack started (by pid)."""
    stopped = _stack().down()
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show whether each server runs and answers; exit 1 if one does not."""
    statuses = _stack().status()
    _show(statuses, as_json)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)
