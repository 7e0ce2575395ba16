"""`mediamon setup security`: the services' Elasticsearch roles and API keys (idempotent).

Runs with an administrator's credentials from the environment (MEDIAMON_ES_USERNAME and
MEDIAMON_ES_PASSWORD of a user with manage_security, e.g. `elastic`); prints each new key
once, and never stores it unless --env-dir asks for 0600 files for the services to read.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path

import typer
from aiokafka.errors import KafkaError
from elastic_transport import TransportError
from elasticsearch import ApiError

from mediamon.output import console, err_console, print_json, print_table
from pipeline.access import (
    ES_KEY,
    KAFKA_SERVICES,
    SERVICES,
    KafkaService,
    Service,
    default_principal,
    kafka_acls,
    roles_table,
)
from pipeline.adapters.elastic import describe_error, make_client
from pipeline.adapters.es_security import IssuedKey, SecurityReport, ensure_security
from pipeline.adapters.kafka_acls import ensure_acls
from pipeline.envfiles import read_env_file, write_env_file
from pipeline.errors import ConfigError
from pipeline.settings import Settings, get_settings


def _services(names: list[str], option: str) -> frozenset[Service]:
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown)}: not a service with an Elasticsearch key "
            f"(choose from {', '.join(SERVICES)}; the connector has none)",
            param_hint=option,
        )
    return frozenset(names)  # type: ignore[arg-type]


def write_env_files(directory: Path, issued: list[IssuedKey]) -> list[Path]:
    """One `<service>.env` per new key (MEDIAMON_ES_API_KEY=...), created 0600 so the key is
    never readable by others, not even for a moment."""
    written = []
    for key in issued:
        path = directory / f"{key.service}.env"
        write_env_file(path, {ES_KEY: key.encoded.get_secret_value()})
        written.append(path)
    return written


def keyless(directory: Path) -> frozenset[Service]:
    """The services whose file in `directory` holds no key: a key's secret is shown only
    when it is made, so they need a new one (the current one stays valid meanwhile)."""
    return frozenset(s for s in SERVICES if ES_KEY not in read_env_file(directory / f"{s}.env"))


def security(
    rotate: list[str] = typer.Option(
        [], "--rotate", help="Make a new key for SERVICE; its current key stays valid."
    ),
    retire: list[str] = typer.Option(
        [], "--retire", help="Invalidate every key of SERVICE but the newest."
    ),
    env_dir: Path | None = typer.Option(
        None,
        "--env-dir",
        help="Also write each new key to DIR/<service>.env (mode 0600); a service whose file "
        "there has no key gets a new one.",
    ),
    elasticsearch: bool = typer.Option(
        True, "--elasticsearch/--no-elasticsearch", help="Roles and API keys in Elasticsearch."
    ),
    kafka: bool = typer.Option(
        False,
        "--kafka",
        help="Also the Kafka ACLs of the connector, the worker and setup (a broker with an "
        "authorizer; run as a Kafka super user).",
    ),
    kafka_principal: list[str] = typer.Option(
        [],
        "--kafka-principal",
        help="SERVICE=PRINCIPAL, e.g. worker=User:pipeline (default User:mediamon-SERVICE).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (keys too)."),
) -> None:
    """Create the worker's, the page's and setup's Elasticsearch roles, and an API key for
    each service that has none; with --kafka, each service's Kafka ACLs. Keys are printed
    once: store them where the services read MEDIAMON_ES_API_KEY from."""
    settings = get_settings()
    rotating = _services(rotate, "--rotate")
    if env_dir and elasticsearch:
        rotating |= keyless(env_dir)
    retiring = _services(retire, "--retire")
    principals = _principals(kafka_principal) if kafka else {}
    acls = kafka_acls(settings, principals) if kafka else []
    report = SecurityReport()
    try:
        if elasticsearch:
            report = asyncio.run(_run(settings, rotating, retiring))
        if acls:
            asyncio.run(ensure_acls(settings, acls))
    except (ApiError, TransportError) as exc:
        err_console.print(f"setup security failed: {describe_error(exc, settings)}", markup=False)
        raise typer.Exit(1) from exc
    except (ConfigError, KafkaError) as exc:
        err_console.print(f"setup security failed on Kafka: {exc}", markup=False)
        raise typer.Exit(1) from exc
    files = write_env_files(env_dir, report.issued) if env_dir else []
    if as_json:
        print_json(
            {
                "kafka_acls": [asdict(a) for a in acls],
                "roles": report.roles,
                "issued": [k.as_dict(reveal=True) for k in report.issued],
                "kept": report.kept,
                "invalidated": report.invalidated,
                "env_files": [str(p) for p in files],
            }
        )
        return
    if elasticsearch:
        _print_elasticsearch(settings, report, files)
    if acls:
        grouped: dict[tuple[str, str, str, str], list[str]] = {}
        for acl in acls:
            grouped.setdefault((acl.principal, acl.resource, acl.name, acl.pattern), []).append(
                acl.operation
            )
        print_table(
            "Kafka ACLs (allow)",
            ["principal", "resource", "name", "pattern", "operations"],
            [(*k, ", ".join(ops)) for k, ops in grouped.items()],
        )


def _print_elasticsearch(settings: Settings, report: SecurityReport, files: list[Path]) -> None:
    created = {role: made for role, made in report.roles.items()}
    rows = []
    for service, cluster, indices in roles_table(settings):
        role = f"{settings.namespace}mediamon-{service}"
        state = "-" if role not in created else ("created" if created[role] else "updated")
        rows.append((service, cluster, indices, state))
    print_table("mediamon roles", ["service", "cluster", "indices", "role"], rows)
    keys = []
    for service in SERVICES:
        new_ids = ", ".join(k.id for k in report.issued if k.service == service)
        keys.append((service, len(report.kept.get(service, [])), new_ids))
    print_table("API keys", ["service", "valid keys", "new key id"], keys)
    if report.invalidated:
        console.print(f"invalidated: {', '.join(report.invalidated)}")
    for key in report.issued:
        # the one time the secret is shown: on stdout for the operator, never in a log
        print(f"{key.service}: MEDIAMON_ES_API_KEY={key.encoded.get_secret_value()}")
    for path in files:
        console.print(f"written (0600): {path}")
    if not report.issued:
        console.print("no new key: every service has a valid one (--rotate SERVICE for a new one)")


def _principals(pairs: list[str]) -> dict[KafkaService, str]:
    out: dict[KafkaService, str] = {s: default_principal(s) for s in KAFKA_SERVICES}
    for pair in pairs:
        service, sep, principal = pair.partition("=")
        if not sep or service not in KAFKA_SERVICES or ":" not in principal:
            raise typer.BadParameter(
                f"{pair!r}: give SERVICE=TYPE:NAME with SERVICE one of "
                f"{', '.join(KAFKA_SERVICES)} (the page has no Kafka access)",
                param_hint="--kafka-principal",
            )
        out[service] = principal
    return out


async def _run(
    settings: Settings, rotating: frozenset[Service], retiring: frozenset[Service]
) -> SecurityReport:
    es = make_client(settings)
    try:
        return await ensure_security(es, settings, rotate=rotating, retire=retiring)
    finally:
        await es.close()
