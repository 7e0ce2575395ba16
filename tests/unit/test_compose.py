"""docker-compose.yml cannot run here: check it against the local stack and the settings."""

from __future__ import annotations

from typing import Any

import elasticsearch
import pytest
import yaml

from pipeline.settings import Settings
from tests.conftest import REPO


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
    }
    for name, service in compose["services"].items():
        if name not in ("setup",):
            assert "healthcheck" in service or "depends_on" in service, name


def test_one_elasticsearch_major_everywhere(compose: dict[str, Any]) -> None:
    services = compose["services"]
    es_tag = _tag(services["elasticsearch"]["image"])
    assert es_tag == _tag(services["kibana"]["image"])
    local = Settings().es_version
    client_major = elasticsearch.__versionstr__.split(".")[0]
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
    for name in ("worker", "connectors"):
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
    assert any((REPO / "deploy/kibana").glob("*.ndjson")), "nothing for setup kibana to import"
