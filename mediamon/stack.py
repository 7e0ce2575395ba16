"""`mediamon stack up|down|status`: the local Kafka and Elasticsearch servers."""

from __future__ import annotations

import typer

from deploy.cluster import Cluster
from deploy.secure_stack import ROLES, SecureStack
from deploy.stack import ElasticsearchServer, ServiceStatus, Stack
from mediamon.output import console, err_console, print_json, print_table
from pipeline.settings import get_settings

app = typer.Typer(
    help="Run real Kafka and Elasticsearch locally (no Docker).", no_args_is_help=True
)


def _single(secure: bool) -> Stack | SecureStack:
    settings = get_settings()
    return SecureStack(settings) if secure else Stack(settings)


def _stack() -> Stack | SecureStack | Cluster:
    """The stack as it was last started (its state says)."""
    settings = get_settings()
    cluster = Cluster.recorded(settings)
    if cluster is not None:
        return cluster
    return _single(ElasticsearchServer(settings).secure_marker.exists())


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
def up(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    secure: bool = typer.Option(
        False,
        "--secure",
        help="TLS, logins and least privilege: Kafka SASL_SSL with ACLs, Elasticsearch with "
        "x-pack security and an API key per service; credentials in <state>/secure/*.env.",
    ),
    brokers: int = typer.Option(
        1, "--brokers", min=1, help="Kafka nodes (a KRaft cluster; 3: replication factor 3)."
    ),
    es_nodes: int = typer.Option(
        1, "--es-nodes", min=1, help="Elasticsearch nodes (the first master, the rest data)."
    ),
) -> None:
    """Resolve the jars (first run only), start both servers, wait until they are healthy."""
    if brokers > 1 or es_nodes > 1:
        if secure:
            raise typer.BadParameter("--secure runs one node of each", param_hint="--secure")
        _cluster_up(Cluster(get_settings(), brokers, es_nodes), as_json)
        return
    stack = _single(secure)
    running = stack.elasticsearch.status().running
    if running and secure != stack.elasticsearch.secure_marker.exists():
        err_console.print(
            f"Elasticsearch already runs {'without' if secure else 'with'} security: "
            "`mediamon stack down` first",
            markup=False,
        )
        raise typer.Exit(2)
    with console.status("starting Kafka and Elasticsearch (first run downloads the jars)..."):
        statuses = stack.up()
    _show(statuses, as_json)
    if not as_json:
        console.print(f"state, logs and pid files: {stack.settings.state_dir.resolve()}")
        if isinstance(stack, SecureStack):
            console.print(
                "Secured: each service's own credentials are in (mode 0600)\n"
                + "".join(f"  {stack.env_file(role)}\n" for role in ROLES)
                + "e.g. env $(cat "
                + str(stack.env_file("worker"))
                + ") mediamon worker",
                markup=False,
                highlight=False,
            )


def _cluster_up(cluster: Cluster, as_json: bool) -> None:
    if any(s.running for s in Stack(cluster.settings).status()):
        err_console.print("a single-node stack runs here: `mediamon stack down` first")
        raise typer.Exit(2)
    with console.status(f"starting {len(cluster.services)} nodes..."):
        statuses = cluster.up()
    _show(statuses, as_json)
    if not as_json:
        print("the clients need:")
        for key, value in cluster.client_vars().items():
            print(f"  export {key}={value}")  # plain: a terminal's width must not wrap it


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
