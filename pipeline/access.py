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

from dataclasses import dataclass
from typing import Any, Literal

from pipeline import topics
from pipeline.settings import Settings

Service = Literal["worker", "web", "setup"]
SERVICES: tuple[Service, ...] = ("worker", "web", "setup")
NO_ELASTICSEARCH = ("connector",)  # services that never get a role or a key

# every key mediamon makes carries this in its metadata, with the service and a generation
KEY_METADATA = "mediamon_service"
ES_KEY = "MEDIAMON_ES_API_KEY"  # the variable a service reads its key from


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


# --- Kafka -------------------------------------------------------------------------------

KafkaService = Literal["connector", "worker", "setup"]
KAFKA_SERVICES: tuple[KafkaService, ...] = ("connector", "worker", "setup")
NO_KAFKA = ("web",)  # the page reads Elasticsearch only
CLUSTER = "kafka-cluster"  # the one name of Kafka's cluster resource


@dataclass(frozen=True, order=True)
class KafkaAcl:
    """One ALLOW entry: `principal` may do `operation` on the resource."""

    principal: str  # "User:<name>"
    resource: Literal["topic", "group", "cluster"]
    name: str
    pattern: Literal["literal", "prefixed"]
    operation: Literal[
        "read",
        "write",
        "create",
        "describe",
        "describe_configs",
        "alter_configs",
        "idempotent_write",
    ]


def default_principal(service: KafkaService) -> str:
    return f"User:mediamon-{service}"


def kafka_acls(settings: Settings, principals: dict[KafkaService, str]) -> list[KafkaAcl]:
    """The ACLs of each service in `principals` (service -> Kafka principal), for this
    namespace's topics and consumer group.

    - connector: writes articles.raw, nothing else (it never reads a topic).
    - worker: reads and writes the pipeline's topics and Faust's own (changelogs, assignor:
      named after the app id, so a prefix), in its one consumer group; it may create its
      own topics, since Faust declares them at start.
    - setup: creates the topics and sets their configuration; reads and writes none.
    Every producer writes idempotently (acks=all), which needs IDEMPOTENT_WRITE on the cluster
    before Kafka 3.0 and is implied after it; granted for both.
    """
    names = sorted(topics.names(settings).values())
    raw = settings.topic(topics.RAW)
    out: list[KafkaAcl] = []
    for service, who in principals.items():

        def grant(
            resource: Literal["topic", "group", "cluster"],
            name: str,
            ops: tuple[str, ...],
            pattern: Literal["literal", "prefixed"] = "literal",
            principal: str = who,
        ) -> None:
            out.extend(KafkaAcl(principal, resource, name, pattern, op) for op in ops)  # type: ignore[arg-type]

        if service == "connector":
            grant("topic", raw, ("write", "describe"))
            grant("cluster", CLUSTER, ("idempotent_write",))
        elif service == "worker":
            for name in names:
                grant("topic", name, ("read", "write", "describe", "create"))
            grant(
                "topic", f"{settings.app_id}-", ("read", "write", "describe", "create"), "prefixed"
            )
            grant("group", settings.app_id, ("read", "describe"))
            grant("cluster", CLUSTER, ("idempotent_write",))
        elif service == "setup":
            for name in names:
                grant("topic", name, ("create", "describe", "describe_configs", "alter_configs"))
        else:  # pragma: no cover - Literal
            raise ValueError(f"unknown service {service!r}")
    return sorted(set(out))
