"""Load user-editable YAML into pydantic models with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at the pydantic error location `loc`."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if found is None:
                break
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse_yaml(path: Path, text: str) -> tuple[Any, yaml.Node | None]:
    """The data and the node tree (for line numbers); a syntax error names file and line."""
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Parse `path` as YAML and validate it as `model`; every problem listed with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        # libyaml when present, and the node tree only for an error's line numbers: the
        # taxonomy in 4 ms instead of 44 (every `mediamon enrich` process reads it)
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        data, _ = parse_yaml(path, text)  # the error with file and line (or pure Python's data)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:  # libyaml read what Python's parser cannot: no line numbers
            root = None
        problems = []
        for err in exc.errors():
            line = line_of(root, tuple(err["loc"]))
            field = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{path}:{line or '?'}: {field}: {err['msg']}")
        raise ConfigError("\n".join(problems)) from exc
