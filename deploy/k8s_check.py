"""The Kubernetes manifests checked offline: rendered, schema-validated and cross-checked.

    python -m deploy.k8s_check       # make k8s-check (part of make lint)

Renders deploy/kubernetes/kustomization.yaml and its examples/ itself (the fields
`namespace`, `resources` (files) and `images` only; anything else is refused, so this never
silently differs from `kubectl kustomize`), then:

- every core object (v1, apps/v1, batch/v1, policy/v1, networking.k8s.io/v1, ...) against
  Kubernetes' own OpenAPI schemas in strict mode (unknown fields fail), for the oldest and
  the newest Kubernetes in K8S_VERSIONS, with kubernetes-validate (its bundled schemas);
- the Strimzi and ECK custom resources of examples/ against deploy/k8s_crd_schemas.json:
  hand-written, covering only the fields the examples use, NOT the vendors' CRD schemas
  (those are not reachable offline); the pod and volume templates inside them against
  Kubernetes' own;
- cross-checks with the code: every referenced ConfigMap, Secret and claim exists or is one
  the operator or the user creates (EXTERNAL, listed in docs/operations.md); every MEDIAMON_*
  name is a field of pipeline.settings.Settings and its value parses; commands are
  docker-compose.yml's; probes reach the health ports the settings give; worker replicas fit
  the partitions; the KafkaTopics are the topics pipeline/topics.py and pipeline/app.py use.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deploy import k8s_crossref

ROOT = Path(__file__).resolve().parent.parent
KUSTOMIZATIONS = (ROOT / "deploy/kubernetes", ROOT / "deploy/kubernetes/examples")
CRD_SCHEMAS = Path(__file__).with_name("k8s_crd_schemas.json")
# The oldest Kubernetes still in its upstream support window when this was written (1.31,
# 2024-08) and the newest kubernetes-validate ships; a field must exist in both.
K8S_VERSIONS = ("1.31", "1.37")
SUPPORTED_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images"}
IMAGE_FIELDS = {"name", "newName", "newTag", "digest"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass",
                  "StorageClass", "PersistentVolume", "CustomResourceDefinition"}  # fmt: skip


class CheckError(Exception):
    """The manifests cannot be rendered (a kustomization this renderer refuses)."""


@dataclass
class Obj:
    """One rendered object and the file it came from."""

    data: dict[str, Any]
    source: str

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "?"))

    @property
    def name(self) -> str:
        return str(self.data.get("metadata", {}).get("name", "?"))

    @property
    def ref(self) -> str:
        return f"{self.source}: {self.kind}/{self.name}"


def render(directory: Path) -> list[Obj]:
    """What `kubectl kustomize directory` gives, for the fields this renderer supports."""
    path = directory / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text(encoding="utf-8"))
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    if not isinstance(kustomization, dict):
        raise CheckError(f"{rel}: not a mapping")
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise CheckError(
            f"{rel}: field(s) {', '.join(sorted(unknown))} not supported by deploy/k8s_check.py "
            f"(only {', '.join(sorted(SUPPORTED_FIELDS - {'apiVersion', 'kind'}))}); "
            "extend the renderer before using them"
        )
    if kustomization.get("kind") != "Kustomization":
        raise CheckError(f"{rel}: kind must be Kustomization")
    objects: list[Obj] = []
    for entry in kustomization.get("resources") or []:
        file = directory / str(entry)
        if "://" in str(entry) or not file.is_file():
            raise CheckError(f"{rel}: resource {entry!r} is not a file beside it (only files)")
        for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
            if doc is not None:
                source = str(file.relative_to(ROOT) if file.is_relative_to(ROOT) else file)
                objects.append(Obj(doc, source))
    namespace = kustomization.get("namespace")
    for obj in objects:
        if namespace and isinstance(obj.data.get("metadata"), dict):
            meta = obj.data["metadata"]
            # kustomize renames Namespace objects to `namespace` and sets it on the others
            if obj.kind == "Namespace":
                meta["name"] = namespace
            elif obj.kind not in CLUSTER_SCOPED:
                meta["namespace"] = namespace
        for image in kustomization.get("images") or []:
            if set(image) - IMAGE_FIELDS or "name" not in image:
                raise CheckError(f"{rel}: images entry {image} (fields: {sorted(IMAGE_FIELDS)})")
            _retag(obj.data, image)
    seen: dict[tuple[str, str, str], str] = {}
    for obj in objects:
        key = (obj.kind, str(obj.data.get("metadata", {}).get("namespace", "")), obj.name)
        if key in seen:
            raise CheckError(f"{obj.ref}: also defined in {seen[key]}")
        seen[key] = obj.source
    return objects


def _retag(node: Any, image: dict[str, str]) -> None:
    """kustomize's images transformer: every containers/initContainers image named `name`."""
    if isinstance(node, list):
        for item in node:
            _retag(item, image)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    current = container.get("image") if isinstance(container, dict) else None
                    if isinstance(current, str) and _image_name(current) == image["name"]:
                        container["image"] = _new_image(current, image)
            _retag(value, image)


def _image_name(image: str) -> str:
    image = image.split("@", 1)[0]
    head, _, tail = image.rpartition(":")
    return head if head and "/" not in tail else image


def _new_image(current: str, image: dict[str, str]) -> str:
    name = image.get("newName", image["name"])
    if "digest" in image:
        return f"{name}@{image['digest']}"
    if "newTag" in image:
        return f"{name}:{image['newTag']}"
    return name + current[len(_image_name(current)) :]


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def validate_core(obj: dict[str, Any], ref: str, prefix: str = "", strip: int = 0) -> list[str]:
    """Kubernetes' own schema, strict, for every version in K8S_VERSIONS. Error paths lose
    their first `strip` parts and get `prefix` instead (for templates inside a resource)."""
    import kubernetes_validate  # type: ignore[import-untyped]  # no type information shipped

    errors = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = _path(list(exc.absolute_path)[strip:])
            if prefix:
                where = prefix if where == "(top)" else f"{prefix}.{where}"
            errors.append(f"{ref}: {where}: {exc.message} (Kubernetes {version}, strict)")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{ref}: {exc.message}")
            break
    return errors


def load_crd_schemas() -> dict[str, dict[str, Any]]:
    doc = json.loads(CRD_SCHEMAS.read_text(encoding="utf-8"))
    return {key: {"$defs": doc["$defs"], **schema} for key, schema in doc["kinds"].items()}


def validate_custom(obj: Obj, schemas: dict[str, dict[str, Any]]) -> list[str]:
    """A custom resource against its hand-written schema; its pod and claim templates
    against Kubernetes' PodTemplate and PersistentVolumeClaim."""
    import jsonschema  # type: ignore[import-untyped]  # no type information shipped

    key = f"{obj.data.get('apiVersion')}/{obj.kind}"
    if key not in schemas:
        return [f"{obj.ref}: no schema for {key} (core kinds: Kubernetes'; custom: "
                f"{', '.join(sorted(schemas))} in {CRD_SCHEMAS.name})"]  # fmt: skip
    validator = jsonschema.Draft202012Validator(schemas[key])
    errors = [
        f"{obj.ref}: {_path(e.absolute_path)}: {e.message} (hand-written {CRD_SCHEMAS.name})"
        for e in sorted(validator.iter_errors(obj.data), key=lambda e: list(map(str, e.path)))
    ]
    for where, template in _embedded_templates(obj.data):
        if where.endswith("podTemplate"):
            pod = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}}
            errors += validate_core({**pod, "template": template}, obj.ref, where, strip=1)
        else:
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **template}
            errors += validate_core(claim, obj.ref, where)
    return errors


def _embedded_templates(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else key
            if key == "podTemplate":
                yield here, copy.deepcopy(value)
            elif key == "volumeClaimTemplates" and isinstance(value, list):
                for i, claim in enumerate(value):
                    yield f"{here}[{i}]", copy.deepcopy(claim)
            else:
                yield from _embedded_templates(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _embedded_templates(item, f"{path}[{i}]")


def is_core(obj: Obj) -> bool:
    api = str(obj.data.get("apiVersion", ""))
    group = api.split("/", 1)[0] if "/" in api else ""
    return group == "" or "." not in group or group.endswith(".k8s.io")


def check(directories: tuple[Path, ...] = KUSTOMIZATIONS) -> tuple[list[str], list[str]]:
    """(errors, summary lines) for the kustomizations in `directories`."""
    errors: list[str] = []
    rendered: dict[Path, list[Obj]] = {}
    for directory in directories:
        try:
            rendered[directory] = render(directory)
        except (CheckError, OSError, yaml.YAMLError) as exc:
            errors.append(str(exc))
    schemas = load_crd_schemas()
    core = custom = 0
    for objects in rendered.values():
        for obj in objects:
            if is_core(obj):
                core += 1
                errors += validate_core(obj.data, obj.ref)
            else:
                custom += 1
                errors += validate_custom(obj, schemas)
    everything = [obj for objects in rendered.values() for obj in objects]
    try:
        cross_errors, cross_summary = k8s_crossref.cross_check(everything)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # malformed objects the schema errors above already name; say why the rest is missing
        cross_errors = [f"cross-checks stopped on a malformed object: {exc!r}"]
        cross_summary = []
    errors += cross_errors
    summary = [
        f"{len(rendered)} kustomizations rendered: {core} core objects valid against Kubernetes "
        f"{' and '.join(K8S_VERSIONS)} (strict), {custom} custom resources against the "
        f"hand-written schemas of {CRD_SCHEMAS.name}",
        *cross_summary,
    ]
    return errors, summary


def main() -> int:
    errors, summary = check()
    if errors:
        print(f"k8s-check: {len(errors)} problem(s) in deploy/kubernetes:", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    for line in summary:
        print(f"k8s-check: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
