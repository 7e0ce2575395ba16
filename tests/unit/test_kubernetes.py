"""deploy/kubernetes: the shipped manifests pass `make k8s-check`; broken copies fail by name."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import k8s_check, k8s_crossref
from tests.support.paths import REPO

K8S = REPO / "deploy" / "kubernetes"
Docs = list[dict[str, Any]]


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "kubernetes"
    shutil.copytree(K8S, root)
    return root


def _check(root: Path) -> list[str]:
    errors, _ = k8s_check.check((root, root / "examples"))
    return errors


def _mutated(tmp_path: Path, file: str, change: Callable[[Docs], None]) -> list[str]:
    root = _copy(tmp_path)
    path = root / file
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    change(docs)
    path.write_text(yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False), "utf-8")
    return _check(root)


def _one(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _matching(errors: list[str], *parts: str) -> list[str]:
    return [e for e in errors if all(p in e for p in parts)]


def test_shipped_manifests_pass() -> None:
    errors, summary = k8s_check.check()
    assert errors == []
    assert "strict" in summary[0]
    assert "KafkaTopics" in summary[1]


def test_copy_without_changes_passes(tmp_path: Path) -> None:
    # the mutation tests below start from this copy: it must be clean for them to mean much
    assert _check(_copy(tmp_path)) == []


def test_unknown_field_in_a_deployment_fails(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        worker = _one(docs, "Deployment", "mediamon-worker")
        worker["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}

    errors = _mutated(tmp_path, "worker.yaml", change)
    assert _matching(
        errors,
        "Deployment/mediamon-worker",
        "spec.template.spec.containers[0]",
        "'livenesProbe' was unexpected",
    ), errors


def test_configmap_key_that_is_no_setting_fails(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        _one(docs, "ConfigMap", "mediamon-env")["data"]["MEDIAMON_KAFKA_BOOTSTRAPS"] = "x:9092"

    errors = _mutated(tmp_path, "config.yaml", change)
    assert _matching(
        errors, "ConfigMap/mediamon-env", "data.MEDIAMON_KAFKA_BOOTSTRAPS", "Settings"
    ), errors


def test_configmap_value_that_does_not_parse_fails(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        _one(docs, "ConfigMap", "mediamon-env")["data"]["MEDIAMON_TOPIC_PARTITIONS"] = "six"

    errors = _mutated(tmp_path, "config.yaml", change)
    assert _matching(errors, "Deployment/mediamon-worker", "MEDIAMON_TOPIC_PARTITIONS='six'")


def test_missing_referenced_configmap_fails(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        docs.remove(_one(docs, "ConfigMap", "mediamon-files"))

    errors = _mutated(tmp_path, "config.yaml", change)
    assert _matching(
        errors, "StatefulSet/mediamon-connector", "volumes[", "ConfigMap 'mediamon-files'"
    ), errors
    assert _matching(errors, "Deployment/mediamon-worker", "ConfigMap 'mediamon-files'")


def test_secret_key_nobody_creates_fails(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        env = _one(docs, "Deployment", "mediamon-web")["spec"]["template"]["spec"]
        env["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["key"] = "webtoken"

    errors = _mutated(tmp_path, "web.yaml", change)
    assert _matching(errors, "Deployment/mediamon-web", "key 'webtoken'"), errors


def test_worker_replicas_above_partitions_fail(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        _one(docs, "Deployment", "mediamon-worker")["spec"]["replicas"] = 7

    errors = _mutated(tmp_path, "worker.yaml", change)
    assert _matching(errors, "Deployment/mediamon-worker", "spec.replicas", "6 partitions"), errors


def test_misspelt_kafkatopic_field_fails(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        spec = _one(docs, "KafkaTopic", "articles.raw")["spec"]
        spec["partition"] = spec.pop("partitions")

    errors = _mutated(tmp_path, "examples/topics.yaml", change)
    assert _matching(errors, "KafkaTopic/articles.raw", "spec", "'partition' was unexpected"), (
        errors
    )


def test_kafkatopic_partitions_and_names_follow_the_pipeline(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        _one(docs, "KafkaTopic", "articles.tagged")["spec"]["partitions"] = 6
        _one(docs, "KafkaTopic", "alerts.ticks")["metadata"]["name"] = "alert.ticks"

    errors = _mutated(tmp_path, "examples/topics.yaml", change)
    assert _matching(errors, "KafkaTopic/articles.tagged", "spec.partitions", "uses 1"), errors
    assert _matching(errors, "KafkaTopic/alert.ticks", "not one mediamon uses"), errors
    assert _matching(errors, "none for 'alerts.ticks'"), errors


def test_pod_template_inside_a_custom_resource_is_checked(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        es = _one(docs, "Elasticsearch", "mediamon")
        es["spec"]["nodeSets"][0]["podTemplate"]["spec"]["containers"][0]["resource"] = {}

    errors = _mutated(tmp_path, "examples/elasticsearch.yaml", change)
    assert _matching(
        errors,
        "Elasticsearch/mediamon",
        "spec.nodeSets[0].podTemplate.spec.containers[0]",
        "'resource' was unexpected",
    ), errors


def test_probe_on_the_wrong_port_and_loopback_bind_fail(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        _one(docs, "ConfigMap", "mediamon-env")["data"]["MEDIAMON_HEALTH_BIND"] = "127.0.0.1"
        _one(docs, "ConfigMap", "mediamon-env")["data"]["MEDIAMON_WORKER_METRICS_PORT"] = "9999"

    errors = _mutated(tmp_path, "config.yaml", change)
    assert _matching(errors, "StatefulSet/mediamon-connector", "MEDIAMON_HEALTH_BIND=127.0.0.1")
    assert _matching(errors, "Deployment/mediamon-worker", "livenessProbe", "on 9999"), errors


def test_command_that_differs_from_compose_fails(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        pod = _one(docs, "StatefulSet", "mediamon-connector")["spec"]["template"]["spec"]
        pod["containers"][0]["args"] = ["connector", "run"]

    errors = _mutated(tmp_path, "connector.yaml", change)
    assert _matching(errors, "StatefulSet/mediamon-connector", "docker-compose.yml"), errors


def test_two_connectors_fail(tmp_path: Path) -> None:
    def change(docs: Docs) -> None:
        _one(docs, "StatefulSet", "mediamon-connector")["spec"]["replicas"] = 2

    errors = _mutated(tmp_path, "connector.yaml", change)
    assert _matching(errors, "StatefulSet/mediamon-connector", "exactly once"), errors


@pytest.mark.parametrize("field", ["patches", "configMapGenerator", "components"])
def test_kustomize_fields_the_renderer_lacks_are_refused(tmp_path: Path, field: str) -> None:
    def change(docs: Docs) -> None:
        docs[0][field] = []

    errors = _mutated(tmp_path, "kustomization.yaml", change)
    assert _matching(errors, "kustomization.yaml", field, "not supported"), errors


def test_render_applies_namespace_and_image() -> None:
    objects = {(o.kind, o.name): o.data for o in k8s_check.render(K8S)}
    worker = objects[("Deployment", "mediamon-worker")]
    assert worker["metadata"]["namespace"] == "mediamon"
    assert worker["spec"]["template"]["spec"]["containers"][0]["image"] == "mediamon:latest"
    assert "namespace" not in objects[("Namespace", "mediamon")]["metadata"]


def test_image_names_as_kustomize_reads_them() -> None:
    image = {"name": "mediamon", "newName": "registry.example:5000/mediamon", "newTag": "0.2"}
    assert k8s_check._image_name("registry.example:5000/mediamon") == (
        "registry.example:5000/mediamon"
    )
    assert k8s_check._image_name("mediamon:1.0@sha256:ab") == "mediamon"
    assert k8s_check._new_image("mediamon", image) == "registry.example:5000/mediamon:0.2"


def test_external_secrets_are_documented() -> None:
    docs = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    section = docs.split("## Kubernetes", 1)[1].split("\n## ", 1)[0]
    for _, name in k8s_crossref.EXTERNAL:
        assert name in section
