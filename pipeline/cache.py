"""Files derived from installed packages and kept between processes, where deriving them
costs a process's start: CLDR names read through Babel (0.25 s), py3langid's model
unpacked from LZMA (0.31 s). Each file's name carries a key of its source file (path, size,
modification time), so a reinstall or an upgrade makes a new one. They live under
$XDG_CACHE_HOME/mediamon (~/.cache/mediamon); a cache that cannot be read or written only
makes the next start slower."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from importlib.util import find_spec
from itertools import chain, repeat
from pathlib import Path
from typing import Any, BinaryIO


def cache_path(name: str, source: Path, suffix: str, *more: Path) -> Path | None:
    """Where the file derived from `source` (and `more` sources) is kept; None when one of
    them cannot be read."""
    parts = []
    for path in (source, *more):
        try:
            stat = path.stat()
        except OSError:
            return None
        parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "mediamon" / f"{name}-{key[:16]}{suffix}"


def modules_cache_path(
    name: str, suffix: str, modules: Sequence[str], optional: Sequence[str] = ()
) -> Path | None:
    """`cache_path` keyed by the files of these modules (a package's __init__, a module's
    source, an extension), found without importing them; None when one of `modules` is not
    installed. An `optional` module counts where it is installed."""
    origins = []
    for module in (*modules, *optional):
        spec = find_spec(module)
        if spec is None or spec.origin is None:
            if module in optional:
                continue
            return None
        origins.append(Path(spec.origin))
    return cache_path(name, origins[0], suffix, *origins[1:])


def write_atomically(path: Path, source: BinaryIO) -> bool:
    """Copy a stream into `path` so that a reader never sees half a file; False (and no
    file) when it cannot be written."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as out:
            tmp = out.name
            shutil.copyfileobj(source, out, length=1 << 20)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return False


def _lists_of_strings(loaded: dict[str, Any]) -> dict[str, list[str]]:
    """The entries of `loaded` whose value is a list of strings. A file as `save` writes it
    keeps every entry: that is told by two loops in C (isinstance over every value, then
    over every string of every list) instead of a Python generator per entry, which cost
    20-40 M instructions per `mediamon enrich` process (the terms' forms: 7,600-15,000
    entries). Only a file with some other value is filtered entry by entry."""
    values = loaded.values()
    if all(map(isinstance, values, repeat(list))) and all(
        map(isinstance, chain.from_iterable(values), repeat(str))
    ):
        return loaded  # what the filter below keeps of it: every entry, in order
    return {
        k: v
        for k, v in loaded.items()
        if isinstance(v, list) and all(isinstance(x, str) for x in v)
    }


class JsonStore:
    """Lists of strings by key, kept in one JSON file between processes (CLDR names, terms'
    forms): read on first use, written whole by `save`. A file that cannot be read starts an
    empty store; one that cannot be written leaves the store dirty, so a later save retries."""

    def __init__(self, path: Callable[[], Path | None]) -> None:
        self._path = path
        self._data: dict[str, list[str]] | None = None
        self.dirty = False

    def _load(self) -> dict[str, list[str]]:
        if self._data is None:
            self._data = {}
            path = self._path()
            try:
                loaded = json.loads(path.read_text(encoding="utf-8")) if path else {}
            except (OSError, ValueError):
                loaded = {}
            if isinstance(loaded, dict):
                self._data = _lists_of_strings(loaded)
        return self._data

    def get(self, key: str) -> list[str] | None:
        return self._load().get(key)

    def put(self, key: str, values: Iterable[str]) -> None:
        self._load()[key] = list(values)
        self.dirty = True

    def save(self) -> None:
        """Write what was learnt (a reader never sees half a file)."""
        if not self.dirty:  # asked after every tagged article: no file system call
            return
        path = self._path()
        if path is None:
            return
        data = json.dumps(self._load(), ensure_ascii=False, sort_keys=True).encode("utf-8")
        if write_atomically(path, io.BytesIO(data)):
            self.dirty = False
