"""Least privilege: what each mediamon service may do in Elasticsearch, as role descriptors.

One definition, used by `mediamon setup security` to create the roles and the API keys (an
API key carries its service's descriptor, so a key can never do more than its role), by
docker-compose.secure.yml's setup, and by docs/operations.md's table. The index names follow
the settings' namespace, so two deployments in one cluster get disjoint roles.

What each service does there, and so what it gets:
- worker: creates the month's articles index, writes and deletes article copies (stray
  copies moved to another month), refreshes before matching alert rules, reads the mapping
  for the rule pre-selection, writes alerts and publishes the rules file into alert-rules.
  No `manage`, no `delete_index`: it cannot drop or re-map an index.
- web (the page and `mediamon search`): reads articles, alerts and rules. Nothing else.
- setup: installs templates, the articles alias, the alerts and rules indices, the
  retention policy; it writes no article.
- connector: talks to Kafka only; it gets no Elasticsearch access at all.
`monitor` (cluster health and node info: read-only) lets each service tell "down" from
"refused" and find which modules the node has.
"""

from __future__ import annotations

from typing import Any, Literal

from pipeline.settings import Settings

Service = Literal["worker", "web", "setup"]
SERVICES: tuple[Service, ...] = ("worker", "web", "setup")
NO_ELASTICSEARCH = ("connector",)  # services that never get a role or a key

# every key mediamon makes carries this in its metadata, with the service and a generation
KEY_METADATA = "mediamon_service"


def role_name(settings: Settings, service: Service) -> str:
    return f"{settings.namespace}mediamon-{service}"


def key_name(settings: Settings, service: Service) -> str:
    return f"{settings.namespace}mediamon-{service}"


def index_names(settings: Settings) -> dict[str, str]:
    """The index patterns the roles grant on: the articles alias and monthly indices, the
    alerts index, the alert-rules index."""
    return {
        "articles": f"{settings.articles_alias}*",
        "alerts": settings.alerts_index,
        "rules": settings.alert_rules_index,
    }


def role_descriptor(settings: Settings, service: Service) -> dict[str, Any]:
    """The Elasticsearch role descriptor (PUT _security/role body) for `service`."""
    names = index_names(settings)
    # monitor (index stats: document counts, sizes) is read-only, and `mediamon status` shows it
    read = ["read", "view_index_metadata", "monitor"]
    if service == "worker":
        indices = [
            {
                "names": [names["articles"]],
                "privileges": ["write", "create_index", "maintenance", *read],
            },
            {"names": [names["alerts"]], "privileges": ["write", "maintenance", *read]},
            {"names": [names["rules"]], "privileges": ["write", "create_index", *read]},
        ]
        cluster = ["monitor"]
    elif service == "web":
        indices = [{"names": sorted(names.values()), "privileges": read}]
        cluster = ["monitor"]
    elif service == "setup":
        indices = [
            {
                "names": sorted(names.values()),
                "privileges": ["manage", "create_index", *read],
            }
        ]
        cluster = ["monitor", "manage_index_templates", "manage_ilm"]
    else:  # pragma: no cover - Literal
        raise ValueError(f"unknown service {service!r}")
    return {
        "cluster": cluster,
        "indices": indices,
        "metadata": {KEY_METADATA: service, "managed_by": "mediamon setup security"},
    }


def roles_table(settings: Settings) -> list[tuple[str, str, str]]:
    """(service, cluster privileges, index privileges) for people to read."""
    rows: list[tuple[str, str, str]] = []
    for service in SERVICES:
        role = role_descriptor(settings, service)
        grants = "; ".join(
            f"{', '.join(g['names'])}: {', '.join(g['privileges'])}" for g in role["indices"]
        )
        rows.append((service, ", ".join(role["cluster"]), grants))
    rows += [(name, "none", "none (no Elasticsearch access)") for name in NO_ELASTICSEARCH]
    return rows
