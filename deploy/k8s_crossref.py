"""Cross-checks of the rendered Kubernetes objects with the code, compose and the image.

Used by deploy.k8s_check; each check returns readable errors naming the object and field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from pipeline import topics
from pipeline.settings import Settings

if TYPE_CHECKING:
    from deploy.k8s_check import Obj

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs/operations.md"
# Objects the manifests reference but do not contain: who makes them and their keys (None:
# any). docs/operations.md ("Kubernetes") must name every one.
EXTERNAL: dict[tuple[str, str], tuple[str, frozenset[str] | None]] = {
    ("Secret", "mediamon-credentials"): (
        "you",
        frozenset({"kafka-password", "es-password", "web-token"}),
    ),
    ("Secret", "mediamon-alert-channels"): ("you (optional)", None),
    ("Secret", "mediamon-es-user"): ("you", frozenset({"username", "password", "roles"})),
    ("Secret", "mediamon-cluster-ca-cert"): (
        "Strimzi",
        frozenset({"ca.crt", "ca.p12", "ca.password"}),
    ),
    ("Secret", "mediamon-es-http-certs-public"): ("ECK", frozenset({"ca.crt", "tls.crt"})),
}
# pod component label -> docker-compose.yml service run with the same command
COMPOSE = {"connector": "connectors", "worker": "worker", "web": "web", "setup": "setup"}
HEALTH_PORT = {"connector": "connector_metrics_port", "worker": "worker_metrics_port"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob"}


class _InitOnly(Settings):
    """Settings from the given values alone: the host's environment must not leak in
    (BaseSettings.model_validate reads MEDIAMON_* from os.environ too)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def env_names() -> dict[str, str]:
    """MEDIAMON_* variable -> Settings field (prefix + upper-case name, and aliases)."""
    names = {f"MEDIAMON_{field.upper()}": field for field in Settings.model_fields}
    for field, info in Settings.model_fields.items():
        if isinstance(info.validation_alias, AliasChoices):
            names.update({str(a): field for a in info.validation_alias.choices})
    return {k: v for k, v in names.items() if k.startswith("MEDIAMON_")}


def _dockerfile() -> dict[str, Any]:
    text = (ROOT / "deploy/docker/Dockerfile").read_text(encoding="utf-8")
    user = re.search(r"^USER (\d+):(\d+)", text, re.M)
    entry = re.search(r"^ENTRYPOINT (\[.*\])", text, re.M)
    state = re.search(r"MEDIAMON_STATE_DIR=(\S+)", text)
    rules = re.search(r"MEDIAMON_RULES_FILE=(\S+)", text)
    feeds = re.search(r"MEDIAMON_FEEDS_FILE=(\S+)", text)
    assert user and entry and state and rules and feeds, "deploy/docker/Dockerfile changed shape"
    return {"uid": int(user[1]), "gid": int(user[2]), "entrypoint": json.loads(entry[1]),
            "state": state[1], "files": (rules[1], feeds[1])}  # fmt: skip


def _compose_argv(service: str, entrypoint: list[str]) -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    spec = compose["services"][service]
    return list(spec.get("entrypoint") or entrypoint) + list(spec.get("command") or [])


def _pod(obj: Obj) -> dict[str, Any] | None:
    spec = obj.data.get("spec", {})
    if obj.kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    pod = spec.get("template", {}).get("spec") if obj.kind in WORKLOADS else None
    return pod if isinstance(pod, dict) else None


def _component(obj: Obj) -> str:
    labels = obj.data.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    return str(labels.get("app.kubernetes.io/component", ""))


def _references(node: Any, path: str) -> list[tuple[str, str, str | None, str]]:
    """(kind, name, key or None, path) of every ConfigMap/Secret/claim named under node."""
    found: list[tuple[str, str, str | None, str]] = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            found += _references(item, f"{path}[{i}]")
        return found
    if not isinstance(node, dict):
        return found
    for key, value in node.items():
        here = f"{path}.{key}"
        if isinstance(value, dict):
            kind = {"configMapRef": "ConfigMap", "configMapKeyRef": "ConfigMap",
                    "configMap": "ConfigMap", "secretRef": "Secret", "secretKeyRef": "Secret",
                    "secret": "Secret", "persistentVolumeClaim": "PersistentVolumeClaim",
                    }.get(key)  # fmt: skip
            name = value.get("name") or value.get("secretName") or value.get("claimName")
            if kind and isinstance(name, str):
                found.append((kind, name, value.get("key"), f"{here}.name"))
                continue
        elif key == "secretName" and isinstance(value, str) and "auth" in path:
            found.append(("Secret", value, None, here))  # ECK's auth.roles / fileRealm
        found += _references(value, here)
    return found


def check_references(objects: list[Obj], docs: str) -> list[str]:
    errors = []
    have: dict[tuple[str, str], Obj] = {(o.kind, o.name): o for o in objects}
    claims = set()
    for obj in objects:
        if obj.kind == "StatefulSet":
            spec = obj.data["spec"]
            for template in spec.get("volumeClaimTemplates", []):
                for i in range(spec.get("replicas", 1)):
                    claims.add(f"{template['metadata']['name']}-{obj.name}-{i}")
    for obj in objects:
        for kind, name, key, where in _references(obj.data.get("spec"), "spec"):
            if kind == "PersistentVolumeClaim":
                if name not in claims and (kind, name) not in have:
                    errors.append(f"{obj.ref}: {where}: claim {name!r} is not made by any "
                                  "StatefulSet's volumeClaimTemplates nor defined")  # fmt: skip
                continue
            target = have.get((kind, name))
            if target is not None:
                data = {**target.data.get("data", {}), **target.data.get("stringData", {})}
                if key is not None and key not in data:
                    errors.append(f"{obj.ref}: {where}: {kind} {name!r} has no key {key!r}")
            elif (kind, name) in EXTERNAL:
                keys = EXTERNAL[(kind, name)][1]
                if key is not None and keys is not None and key not in keys:
                    known = ", ".join(sorted(keys))
                    errors.append(f"{obj.ref}: {where}: key {key!r} is not one of the expected "
                                  f"keys of {kind} {name!r} ({known})")  # fmt: skip
            else:
                errors.append(f"{obj.ref}: {where}: {kind} {name!r} is neither in the rendered "
                              "manifests nor an expected external one (deploy/k8s_crossref.py "
                              "EXTERNAL)")  # fmt: skip
        labels = obj.data.get("metadata", {}).get("labels", {})
        cluster = labels.get("strimzi.io/cluster")
        if obj.kind.startswith("Kafka") and cluster is not None and ("Kafka", cluster) not in have:
            errors.append(f"{obj.ref}: metadata.labels.strimzi.io/cluster: no Kafka {cluster!r}")
        es_ref = obj.data.get("spec", {}).get("elasticsearchRef", {}).get("name")
        if obj.kind == "Kibana" and ("Elasticsearch", es_ref) not in have:
            errors.append(f"{obj.ref}: spec.elasticsearchRef.name: no Elasticsearch {es_ref!r}")
    for kind, name in EXTERNAL:
        if name not in docs:
            errors.append(f"docs/operations.md: the external {kind} {name!r} is not documented")
    return errors


def _container_env(
    container: dict[str, Any], objects: list[Obj], where: str
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The variables a container gets (Secret-sourced ones as a placeholder) and where each
    came from, for naming it in an error."""
    env: dict[str, str] = {}
    origin: list[tuple[str, str]] = []
    maps = {o.name: o for o in objects if o.kind == "ConfigMap"}
    for source in container.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        if name in maps:
            for key, value in maps[name].data.get("data", {}).items():
                env[key] = str(value)
                origin.append((key, f"{maps[name].ref}: data.{key}"))
    for i, var in enumerate(container.get("env", [])):
        env[var["name"]] = str(var.get("value", "secret-value"))
        origin.append((var["name"], f"{where}.env[{i}].name"))
    return env, origin


def _channel_env_names(objects: list[Obj]) -> set[str]:
    """Variables the shipped rules.yaml's channels name (url_env, token_env, secret_env)."""
    names: set[str] = set()
    for obj in objects:
        text = obj.data.get("data", {}).get("rules.yaml") if obj.kind == "ConfigMap" else None
        if text:
            for channel in (yaml.safe_load(text) or {}).get("channels", {}).values():
                names.update(str(v) for k, v in channel.items() if k.endswith("_env"))
    return names


def settings_of(env: dict[str, str], names: dict[str, str]) -> Settings:
    """The Settings a process with these MEDIAMON_* variables gets (ValidationError if bad).
    Only these: the host's own MEDIAMON_* variables must not leak in."""
    return _InitOnly.model_validate({names[k]: v for k, v in env.items() if k in names})


def check_containers(objects: list[Obj]) -> tuple[list[str], dict[str, Settings]]:
    """Settings names and values, commands, user, state volume and health probes of every
    mediamon pod; returns the settings each component runs with."""
    errors: list[str] = []
    names, image = env_names(), _dockerfile()
    allowed = set(names) | _channel_env_names(objects)
    effective: dict[str, Settings] = {}
    for cm in (o for o in objects if o.kind == "ConfigMap"):
        for var in cm.data.get("data", {}):
            if var.startswith("MEDIAMON_") and var not in names:
                errors.append(f"{cm.ref}: data.{var}: not a field of pipeline.settings.Settings "
                              "(prefix MEDIAMON_)")  # fmt: skip
    for obj in objects:
        pod, component = _pod(obj), _component(obj)
        if pod is None or component not in COMPOSE:
            continue
        sec = pod.get("securityContext", {})
        if (sec.get("runAsUser"), sec.get("runAsGroup")) != (image["uid"], image["gid"]):
            errors.append(f"{obj.ref}: spec.template.spec.securityContext: runAsUser/runAsGroup "
                          f"must be the image's USER {image['uid']}:{image['gid']}")  # fmt: skip
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c, container in enumerate(pod.get("containers", [])):
            where = f"spec.template.spec.containers[{c}]"
            env, origin = _container_env(container, objects, where)
            for var, place in origin:
                if place.startswith(where) and var not in allowed:
                    errors.append(f"{obj.ref}: {place}: {var} is not a field of pipeline."
                                  "settings.Settings (prefix MEDIAMON_)")  # fmt: skip
                elif not var.startswith("MEDIAMON_"):
                    errors.append(f"{place}: {var!r} reaches {obj.ref} through envFrom, but "
                                  "mediamon reads MEDIAMON_* variables only")  # fmt: skip
            try:
                settings = settings_of(env, names)
            except ValidationError as exc:
                for e in exc.errors():
                    var = f"MEDIAMON_{str(e['loc'][0]).upper()}"
                    errors.append(f"{obj.ref}: {where}: {var}={env.get(var)!r}: {e['msg']}")
                continue
            effective[component] = settings
            argv = list(container.get("command") or image["entrypoint"]) + list(
                container.get("args", [])
            )
            expected = _compose_argv(COMPOSE[component], image["entrypoint"])
            if argv != expected:
                errors.append(f"{obj.ref}: {where}: runs {argv}, docker-compose.yml's "
                              f"{COMPOSE[component]} runs {expected}")  # fmt: skip
            mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
            state = mounts.get(image["state"])
            if state is None or state.get("readOnly"):
                errors.append(f"{obj.ref}: {where}.volumeMounts: no writable volume at "
                              f"{image['state']} (the image's MEDIAMON_STATE_DIR)")  # fmt: skip
            errors += _check_health(obj, where, container, component, settings)
            if component == "connector":
                errors += _check_connector(obj, volumes, pod, state)
    return errors, effective


def _check_health(
    obj: Obj, where: str, container: dict[str, Any], component: str, settings: Settings
) -> list[str]:
    errors = []
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if component in HEALTH_PORT:
        port = getattr(settings, HEALTH_PORT[component])
        if settings.health_bind in LOOPBACK:
            errors.append(f"{obj.ref}: {where}: MEDIAMON_HEALTH_BIND={settings.health_bind}: "
                          "the kubelet's probes cannot reach a loopback address")  # fmt: skip
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = container.get(probe, {}).get("httpGet")
            if not get:
                errors.append(f"{obj.ref}: {where}.{probe}: missing (httpGet {path})")
                continue
            target = ports.get(str(get["port"]), get["port"])  # a name or a number
            if get.get("path") != path or target != port:
                errors.append(f"{obj.ref}: {where}.{probe}.httpGet: {get.get('path')} on port "
                              f"{target}; the service answers {path} on {port} "
                              f"(MEDIAMON_{HEALTH_PORT[component].upper()})")  # fmt: skip
    elif component == "web":
        args = container.get("args", [])
        port = int(args[args.index("--port") + 1]) if "--port" in args else settings.web_port
        if port not in ports.values():
            errors.append(f"{obj.ref}: {where}.ports: the page listens on {port}")
    return errors


def _check_connector(
    obj: Obj, volumes: dict[str, Any], pod: dict[str, Any], state: dict[str, Any] | None
) -> list[str]:
    spec, errors = obj.data["spec"], []
    if spec.get("replicas", 1) != 1:
        errors.append(f"{obj.ref}: spec.replicas: the connector must run exactly once "
                      "(every feed would be polled and sent twice)")  # fmt: skip
    recreate = spec.get("strategy", {}).get("type") == "Recreate"
    if not (obj.kind == "StatefulSet" or (obj.kind == "Deployment" and recreate)):
        errors.append(f"{obj.ref}: a StatefulSet, or a Deployment with strategy Recreate: "
                      "two connectors must never overlap")  # fmt: skip
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    name = state["name"] if state else None
    if name not in claims and "persistentVolumeClaim" not in volumes.get(name or "", {}):
        errors.append(f"{obj.ref}: the state volume {name!r} is not a PersistentVolumeClaim "
                      "(the SQLite of what was sent must survive the pod)")  # fmt: skip
    return errors


def check_topics(objects: list[Obj], settings: Settings) -> list[str]:
    """The KafkaTopics are every topic pipeline/topics.py and Faust (pipeline/app.py) use,
    with their partitions, and nothing else."""
    from pipeline.app import create_app

    expected: dict[str, tuple[int, dict[str, Any]]] = {
        settings.topic(name): (topics.partitions(name, settings), {}) for name in topics.ALL
    }
    # only what names and sizes topics: the pod's Kafka login and CA file are not here
    shaping = ("namespace", "topic_partitions", "volume_bucket_seconds", "volume_history_days")
    app = create_app(_InitOnly.model_validate({f: getattr(settings, f) for f in shaping})).app
    for table in app.tables.values():
        log = table.changelog_topic
        config: dict[str, Any] = {}
        if log.compacting:
            config["cleanup.policy"] = "compact,delete" if log.deleting else "compact"
        if log.retention:
            config["retention.ms"] = int(log.retention * 1000)
        expected[log.get_topic_name()] = (log.partitions, config)
    assignor: Any = app._leader_assignor  # Faust's partition assignor, its own topic
    expected[assignor._leader_topic_name] = (1, {})
    errors, found = [], set()
    for obj in (o for o in objects if o.kind == "KafkaTopic"):
        spec = obj.data.get("spec", {})
        name = spec.get("topicName", obj.name)
        found.add(name)
        if name not in expected:
            errors.append(f"{obj.ref}: topic {name!r} is not one mediamon uses (pipeline/"
                          f"topics.py: {', '.join(topics.ALL)}; Faust's own)")  # fmt: skip
            continue
        partitions, config = expected[name]
        if spec.get("partitions") != partitions:
            errors.append(f"{obj.ref}: spec.partitions: {spec.get('partitions')}, mediamon "
                          f"uses {partitions}")  # fmt: skip
        for key, value in config.items():
            if spec.get("config", {}).get(key) != value:
                errors.append(f"{obj.ref}: spec.config.{key}: Faust makes it {value!r}")
    if found:
        for name in sorted(set(expected) - found):
            errors.append(f"KafkaTopics: none for {name!r}: mediamon would create it with "
                          "replication factor 1")  # fmt: skip
    return errors


def check_scale(objects: list[Obj], settings: Settings) -> list[str]:
    errors = []
    raw = [o for o in objects if o.kind == "KafkaTopic" and o.name == topics.RAW]
    sizes = [o.data.get("spec", {}).get("partitions") for o in raw]
    limit = min([settings.topic_partitions, *(n for n in sizes if isinstance(n, int))])
    for obj in objects:
        replicas = obj.data.get("spec", {}).get("replicas", 1)
        if _component(obj) == "worker" and isinstance(replicas, int) and replicas > limit:
            errors.append(f"{obj.ref}: spec.replicas: {obj.data['spec']['replicas']} workers "
                          f"for {limit} partitions (MEDIAMON_TOPIC_PARTITIONS, KafkaTopic "
                          f"{topics.RAW}): the rest would idle")  # fmt: skip
    return errors


def check_files(objects: list[Obj]) -> list[str]:
    """mediamon-files holds copies of rules.example.yaml and feeds.example.yaml under the
    names the image reads; the Elasticsearch/Kibana versions are the client's."""
    errors = []
    wanted = {Path(f).name for f in _dockerfile()["files"]}
    for obj in objects:
        data = obj.data.get("data", {})
        if obj.kind == "ConfigMap" and set(data) & wanted:
            for name in sorted(wanted):
                example = ROOT / name.replace(".yaml", ".example.yaml")
                if data.get(name) != example.read_text(encoding="utf-8"):
                    errors.append(f"{obj.ref}: data.{name} differs from {example.name}")
        version = obj.data.get("spec", {}).get("version")
        es_version = Settings.model_fields["es_version"].default
        if obj.kind in ("Elasticsearch", "Kibana") and version != es_version:
            errors.append(f"{obj.ref}: spec.version {version}: mediamon runs against "
                          f"{es_version} (Settings.es_version, compose)")  # fmt: skip
    return errors


def cross_check(objects: list[Obj]) -> tuple[list[str], list[str]]:
    """Every cross-check; (errors, summary lines)."""
    docs = DOCS.read_text(encoding="utf-8")
    errors = check_references(objects, docs)
    container_errors, effective = check_containers(objects)
    errors += container_errors + check_files(objects)
    worker = effective.get("worker")
    if worker is not None:
        errors += check_scale(objects, worker) + check_topics(objects, worker)
    n_topics = sum(o.kind == "KafkaTopic" for o in objects)
    summary = [
        f"references resolved ({len(EXTERNAL)} external Secrets, documented); MEDIAMON_* names "
        f"and values are Settings'; commands are docker-compose.yml's; health probes on "
        f"the settings' ports; {n_topics} KafkaTopics are mediamon's topics with their "
        f"partitions; worker replicas fit {worker.topic_partitions if worker else '?'} partitions"
    ]
    return errors, summary
