"""docker-compose.yml cannot run here: check it against the local stack and the settings."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import elasticsearch
import pytest
import yaml

from pipeline.adapters.elastic import client_options
from pipeline.adapters.kafka import client_options as kafka_common
from pipeline.settings import Settings
from tests.support.paths import REPO


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def _tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


def test_services_present(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "kafka",
        "elasticsearch",
        "kibana",
        "setup",
        "worker",
        "connectors",
        "web",
    }
    for name, service in compose["services"].items():
        if name not in ("setup",):
            assert "healthcheck" in service or "depends_on" in service, name


def test_one_elasticsearch_major_everywhere(compose: dict[str, Any]) -> None:
    services = compose["services"]
    es_tag = _tag(services["elasticsearch"]["image"])
    assert es_tag == _tag(services["kibana"]["image"])
    local = Settings().es_version
    # re-exported by elasticsearch/__init__.py without being listed in __all__
    client_major = elasticsearch.__versionstr__.split(".")[0]  # type: ignore[attr-defined]
    assert es_tag.split(".")[0] == local.split(".")[0] == client_major
    assert es_tag == local


def test_kafka_image_matches_local_broker(compose: dict[str, Any]) -> None:
    assert _tag(compose["services"]["kafka"]["image"]) == Settings().kafka_version


def test_environment_names_are_settings(compose: dict[str, Any]) -> None:
    fields = {f"MEDIAMON_{name.upper()}" for name in Settings.model_fields}
    for name in ("setup", "worker", "connectors"):
        service = compose["services"][name]
        assert service["image"].startswith("mediamon:")
        assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        for key in service["environment"]:
            assert key in fields, f"{name}: {key} is not a setting"
        assert service["environment"]["MEDIAMON_KAFKA_BOOTSTRAP"] == "kafka:19092"


def test_services_wait_for_setup_and_setup_for_servers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["setup"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "elasticsearch": {"condition": "service_healthy"},
        "kibana": {"condition": "service_healthy"},
    }
    for name in ("worker", "connectors", "web"):
        assert services[name]["depends_on"]["setup"] == {
            "condition": "service_completed_successfully"
        }
    assert (REPO / "deploy/docker/Dockerfile").is_file()


def test_env_example_lists_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"MEDIAMON_{name.upper()}=" in text, name


def test_setup_imports_the_dashboards_into_the_compose_kibana(compose: dict[str, Any]) -> None:
    services = compose["services"]
    script = services["setup"]["entrypoint"][-1]
    steps = [step.strip() for step in script.split("&&")]
    assert steps == [
        "mediamon setup kafka",
        "mediamon setup elasticsearch",
        "mediamon setup kibana",
    ]
    kibana_url = services["setup"]["environment"]["MEDIAMON_KIBANA_URL"]
    published = {p.split(":")[-1] for p in services["kibana"]["ports"]}
    assert kibana_url == f"http://kibana:{published.pop()}"
    dashboards = REPO / "pipeline/adapters/dashboards"
    assert any(dashboards.glob("*.ndjson")), "nothing for setup kibana to import"


# --- docker-compose.secure.yml: the override with Elasticsearch security on ---------------


class _ComposeLoader(yaml.SafeLoader):
    """Compose's merge tags (!override, !reset) on top of plain YAML."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag_name in ("!override", "!reset"):
    _ComposeLoader.add_constructor(_tag_name, _tagged)


@pytest.fixture(scope="module")
def secure() -> dict[str, Any]:
    text = (REPO / "docker-compose.secure.yml").read_text()
    data: dict[str, Any] = yaml.load(text, Loader=_ComposeLoader)  # a SafeLoader subclass
    return data


SECRET_WORDS = ("PASSWORD", "API_KEY", "SECRET", "TOKEN")
INTERPOLATION = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(:\?[^}]*)?\}$")


def _env_items(service: dict[str, Any]) -> list[tuple[str, str]]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return [tuple(e.split("=", 1)) if "=" in e else (e, "") for e in env]
    return [(str(k), str(v)) for k, v in env.items()]


def test_every_secure_password_comes_from_the_env_file(secure: dict[str, Any]) -> None:
    seen = set()
    for name, service in secure["services"].items():
        for key, value in _env_items(service):
            if any(word in key.upper() for word in SECRET_WORDS):
                assert INTERPOLATION.match(value), f"{name}: {key} is not ${{VAR}}: {value!r}"
                # a required variable: compose refuses to start without it, never runs empty
                assert ":?" in value, f"{name}: {key} has no :? (would start with no password)"
                seen.add(value.split(":?")[0].removeprefix("${"))
    assert seen == {
        "ELASTIC_PASSWORD",
        "KIBANA_PASSWORD",
        "MEDIAMON_ES_PASSWORD",
        "MEDIAMON_KAFKA_PASSWORD",
    }


def test_no_literal_secret_in_either_compose_file() -> None:
    for path in ("docker-compose.yml", "docker-compose.secure.yml"):
        text = (REPO / path).read_text()
        # scripts read passwords from their environment ($$VAR at run time) or from
        # ${VAR} interpolation; nothing like password: hunter2 or -u elastic:changeme
        assert not re.search(r"(?i)(password|api_key)[\"']?\s*[:=]\s*[\"']?[a-z0-9]", text), path
        assert not re.search(r"-u\s+\"?\w+:[^$\"]", text), path
        # a secret interpolated into a command would show in `docker inspect` and ps
        for name, service in yaml.load(text, Loader=_ComposeLoader)["services"].items():
            command = json.dumps([service.get("command"), service.get("entrypoint")])
            assert "${" not in command, f"{path}: {name}: interpolation in a command"


def test_env_file_is_ignored_and_the_example_names_the_secrets() -> None:
    ignored = (REPO / ".gitignore").read_text().split()
    assert ".env" in ignored
    tracked = subprocess.run(
        ["git", "ls-files", ".env"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert tracked.stdout.strip() == "", ".env is committed"
    example = (REPO / ".env.example").read_text()
    for name in (
        "ELASTIC_PASSWORD",
        "KIBANA_PASSWORD",
        "MEDIAMON_ES_PASSWORD",
        "MEDIAMON_KAFKA_PASSWORD",
        "KAFKA_BROKER_PASSWORD",
    ):
        # documented, and empty: the example holds no password of its own
        lines = [ln for ln in example.splitlines() if re.match(rf"#?\s*{name}=", ln)]
        assert lines, f".env.example does not name {name}"
        assert all(ln.split("=", 1)[1].strip() == "" for ln in lines), lines


def test_secure_elasticsearch_has_security_and_tls_on(secure: dict[str, Any]) -> None:
    services = secure["services"]
    es = services["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "true"
    assert es["xpack.security.http.ssl.enabled"] == "true"
    assert es["xpack.security.http.ssl.certificate_authorities"] == "certs/ca/ca.crt"
    assert services["elasticsearch"]["depends_on"]["es-certs"] == {
        "condition": "service_completed_successfully"
    }
    certs = " ".join(services["es-certs"]["command"])
    assert "elasticsearch-certutil ca" in certs and "elasticsearch-certutil cert" in certs
    assert "--cacert" in services["elasticsearch"]["healthcheck"]["test"][-1]
    kibana = services["kibana"]["environment"]
    assert kibana["ELASTICSEARCH_HOSTS"] == '["https://elasticsearch:9200"]'
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kibana["ELASTICSEARCH_SSL_VERIFICATIONMODE"] == "full"
    users = " ".join(services["es-users"]["command"])
    assert "kibana_system/_password" in users and "_security/user/mediamon" in users
    assert "--cacert" in users and "-k " not in users and "--insecure" not in users
    # the Kibana login has Kibana's role only: no broad role on mediamon's indices any more
    assert "_security/role/" not in users and '\\"all\\"' not in users
    assert '[\\"kibana_admin\\"]' in users
    for image in (services["es-certs"]["image"], services["es-users"]["image"]):
        assert _tag(image) == Settings().es_version


def test_secure_mediamon_services_use_their_own_keys_and_verify_the_ca(
    compose: dict[str, Any], secure: dict[str, Any]
) -> None:
    fields = {f"MEDIAMON_{name.upper()}" for name in Settings.model_fields}
    services = secure["services"]
    # es-keys makes the roles and keys as `mediamon setup security` does (one code path)
    keys = services["es-keys"]
    assert keys["command"] == ["setup", "security", "--env-dir", "/var/lib/mediamon-keys"]
    assert keys["image"] == compose["services"]["worker"]["image"]
    assert "es-keys:/var/lib/mediamon-keys" in keys["volumes"]
    assert keys["environment"]["MEDIAMON_ES_USERNAME"] == "elastic"
    for name in ("setup", "worker", "connectors", "web"):
        env = dict(compose["services"][name]["environment"])
        env |= services[name]["environment"]  # compose merges the mappings
        for key in env:
            assert key in fields, f"{name}: {key} is not a setting"
        assert env["MEDIAMON_ES_URL"].startswith("https://")
        assert env["MEDIAMON_ES_VERIFY_CERTS"] == "true"
        # no service holds an Elasticsearch password: each has its own API key, or none
        assert "MEDIAMON_ES_PASSWORD" not in env and "MEDIAMON_ES_USERNAME" not in env, name
        if name == "connectors":  # Kafka only: neither a key file nor a key
            assert "entrypoint" not in services[name] and "volumes" not in services[name]
            continue
        volumes = services[name]["volumes"]
        assert "es-keys:/var/lib/mediamon-keys:ro" in volumes, name
        script = services[name]["entrypoint"][2]
        own = "setup" if name == "setup" else name
        assert f". /var/lib/mediamon-keys/{own}.env" in script and script.startswith("set -a")
        mount = next(v for v in volumes if v.startswith("es-certs:"))
        target = mount.split(":")[1]
        assert env["MEDIAMON_ES_CA_CERTS"].startswith(target + "/") and mount.endswith(":ro")
        # the settings take it: an https URL with the CA, verification on, the key
        settings = Settings(
            es_url=env["MEDIAMON_ES_URL"],
            es_api_key="a2V5",
            es_ca_certs=env["MEDIAMON_ES_CA_CERTS"],
            es_verify_certs=env["MEDIAMON_ES_VERIFY_CERTS"],
        )
        opts = client_options(settings)
        assert opts["ca_certs"] == env["MEDIAMON_ES_CA_CERTS"] and "verify_certs" not in opts
        assert opts["api_key"] == "a2V5"
    # the worker and the page keep the base file's command after their key is read
    for name in ("worker", "web"):
        entry = services[name]["entrypoint"]
        assert entry[-1] == "mediamon" and 'exec mediamon "$$@"' in entry[2]
    # every service the override names exists in the base file or is one it adds
    assert set(services) - set(compose["services"]) == {"es-certs", "es-users", "es-keys"}
    assert {"es-certs", "es-keys"} <= set(secure["volumes"])


LOOPBACK = "${MEDIAMON_PUBLISH_ADDRESS:-127.0.0.1}:"


def test_secure_kafka_port_only_on_loopback(secure: dict[str, Any]) -> None:
    assert secure["services"]["kafka"]["ports"] == [LOOPBACK + "9092:9092"]


def test_every_published_port_is_on_loopback_unless_opened(
    compose: dict[str, Any], secure: dict[str, Any]
) -> None:
    published = [
        port
        for spec in (compose, secure)
        for service in spec["services"].values()
        for port in service.get("ports", [])
    ]
    assert len(published) >= 5
    assert all(str(p).startswith(LOOPBACK) for p in published), published


def test_long_running_services_restart_and_have_memory_limits(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name == "setup":
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert re.fullmatch(r"\d+[mg]", service["mem_limit"]), name


def test_mediamon_services_keep_state_in_the_volume_and_config_read_only(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("setup", "worker", "connectors", "web"):
        assert services[name]["read_only"] is True, name
    mounts = {
        name: {m if isinstance(m, str) else m["target"]: m for m in services[name]["volumes"]}
        for name in ("worker", "connectors", "web")
    }
    assert mounts["worker"]["worker-state:/var/lib/mediamon"]
    assert mounts["connectors"]["connector-state:/var/lib/mediamon"]
    assert mounts["web"]["connector-state:/var/lib/mediamon"]  # the feeds page reads it
    for name, target in (
        ("worker", "/etc/mediamon/rules.yaml"),
        ("web", "/etc/mediamon/rules.yaml"),
        ("connectors", "/etc/mediamon/feeds.yaml"),
    ):
        mount = mounts[name][target]
        assert mount["read_only"] is True and mount["bind"]["create_host_path"] is False
        assert (
            REPO / mount["source"].replace("./", "", 1).replace(".yaml", ".example.yaml")
        ).exists()


def test_secure_kafka_requires_sasl_and_the_services_log_in(
    compose: dict[str, Any], secure: dict[str, Any]
) -> None:
    kafka_env = dict(compose["services"]["kafka"]["environment"])
    kafka_env |= secure["services"]["kafka"]["environment"]
    protocols = dict(
        pair.split(":") for pair in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    clients = [u.split("://")[0] for u in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    assert clients and all(protocols[name] == "SASL_PLAINTEXT" for name in clients)
    assert all("_" not in name for name in protocols)  # the image maps "_" to "."
    assert kafka_env["KAFKA_SASL_ENABLED_MECHANISMS"] == "PLAIN"
    assert kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"] in clients
    assert kafka_env["KAFKA_OPTS"]  # the image's configure script exits without it
    # no KAFKA_* variable holding a password: the image would write it into server.properties
    assert not [k for k in kafka_env if k.startswith("KAFKA_") and "PASSWORD" in k]
    mediamon_user = None
    for name in clients:
        jaas = kafka_env[f"KAFKA_LISTENER_NAME_{name}_PLAIN_SASL_JAAS_CONFIG"]
        values = re.findall(r'(\w+)="([^"]*)"', jaas)
        assert {"username", "password", "user_broker", "user_mediamon"} <= dict(values).keys()
        for key, value in values:
            if key != "username":  # every password is a required ${VAR} from .env
                assert INTERPOLATION.match(value) and ":?" in value, (name, key)
        mediamon_user = dict(values)["user_mediamon"]
    assert mediamon_user is not None and mediamon_user.startswith("${MEDIAMON_KAFKA_PASSWORD:?")
    check = secure["services"]["kafka"]["healthcheck"]["test"][-1]
    assert "--command-config" in check and "$$MEDIAMON_KAFKA_PASSWORD" in check
    assert "umask 077" in check
    for name in ("setup", "worker", "connectors"):
        env = dict(compose["services"][name]["environment"])
        env |= secure["services"][name]["environment"]
        assert env["MEDIAMON_KAFKA_PASSWORD"] == mediamon_user
        settings = Settings(
            kafka_bootstrap=env["MEDIAMON_KAFKA_BOOTSTRAP"],
            kafka_security_protocol=env["MEDIAMON_KAFKA_SECURITY_PROTOCOL"],
            kafka_sasl_mechanism=env["MEDIAMON_KAFKA_SASL_MECHANISM"],
            kafka_username=env["MEDIAMON_KAFKA_USERNAME"],
            kafka_password="x",
        )
        opts = kafka_common(settings)
        assert opts["security_protocol"] == "SASL_PLAINTEXT"
        assert opts["sasl_mechanism"] in kafka_env["KAFKA_SASL_ENABLED_MECHANISMS"].split(",")
        assert opts["sasl_plain_username"] == "mediamon"
        assert env["MEDIAMON_KAFKA_BOOTSTRAP"].split(":")[-1] in kafka_env["KAFKA_LISTENERS"]
