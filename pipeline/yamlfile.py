"""Load user-editable YAML into pydantic models with errors that name the file and line."""

from __future__ import annotations

import hashlib
import io
import json
import math
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.cache import cache_path, write_atomically
from pipeline.errors import ConfigError

if TYPE_CHECKING:
    import yaml

# PyYAML is imported where a file is parsed, not with this module: importing it cost ~90 M
# instructions (its regular expressions) of every `mediamon enrich` process, which reads
# the taxonomy's data from the cache below.

M = TypeVar("M", bound=BaseModel)


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at the pydantic error location `loc`."""
    import yaml

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
    import yaml

    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc


def load_yaml_model(path: Path, model: type[M], cache: bool = False) -> M:
    """Parse `path` as YAML and validate it as `model`; every problem listed with its line.
    With `cache`, the data parsed is kept between processes (`_data_cache`); only for files
    that hold no secret, as the copy lands in the user's cache directory."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    where = _data_cache(text) if cache else None
    cached = _read_data(where)
    if cached is not None:
        try:
            return model.model_validate(cached[0] if cached[0] is not None else {})
        except ValidationError:
            pass  # told below as without the cache, with the lines of the problems
    import yaml

    try:
        # libyaml when present, and the node tree only for an error's line numbers: the
        # taxonomy in 4 ms instead of 44 (every `mediamon enrich` process reads it)
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        data, _ = parse_yaml(path, text)  # the error with file and line (or pure Python's data)
    if where is not None and _plain(data):
        write_atomically(where, io.BytesIO(json.dumps([data]).encode("utf-8")))
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


def _data_cache(text: str) -> Path | None:
    """Where the data parsed from `text` is kept, keyed by the text itself and by PyYAML's
    files (an upgrade may parse otherwise); None when PyYAML cannot be found."""
    spec = find_spec("yaml")
    if spec is None or spec.origin is None:
        return None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return cache_path(f"yaml-data-{digest[:16]}", Path(spec.origin), ".json")


def _read_data(path: Path | None) -> tuple[Any] | None:
    """The data kept at `path`, as a 1-tuple (the data may be None: an empty file); None
    when there is none or it cannot be read."""
    if path is None:
        return None
    try:
        loaded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return (loaded[0],) if isinstance(loaded, list) and len(loaded) == 1 else None


def _plain(data: object) -> bool:
    """Whether JSON gives `data` back equal and of the same types: YAML also makes dates,
    sets, bytes, non-string keys and NaN, which are then parsed from the file each time."""
    if data is None or type(data) in (str, int, bool):
        return True
    if type(data) is float:
        return math.isfinite(data)
    if type(data) is list:
        return all(_plain(item) for item in data)
    if type(data) is dict:
        return all(type(k) is str and _plain(v) for k, v in data.items())
    return False
