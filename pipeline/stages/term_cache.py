"""The forms of configured terms' words (`tokens.term_forms`) remembered between processes
(pipeline/cache.py): compiling the rules of 24 languages spent ~0.2 s of CPU in every
`mediamon enrich` on the same few thousand names' lemmas and stems (pymorphy3, Snowball).
The file's key covers the code that makes the forms and the morphology packages, so a
change of either makes a new one. A cache that cannot be read or written is only slower."""

from __future__ import annotations

import io
import json
from importlib.util import find_spec
from pathlib import Path

from pipeline.cache import cache_path, write_atomically

# What term_forms depends on besides the word: tokens.py and the analysers' packages.
_SOURCES = ("pipeline.stages.tokens", "pymorphy3", "pymorphy3_dicts_ru", "pymorphy3_dicts_uk")
_forms: dict[str, list[str]] | None = None  # "lang\x00word" -> forms
_dirty = False


def _path() -> Path | None:
    origins = []
    for name in (*_SOURCES, "Stemmer"):
        spec = find_spec(name)
        if spec is None or spec.origin is None:
            return None
        origins.append(Path(spec.origin))
    return cache_path("term-forms", origins[0], ".json", *origins[1:])


def _load() -> dict[str, list[str]]:
    global _forms
    if _forms is None:
        _forms = {}
        path = _path()
        try:
            loaded = json.loads(path.read_text(encoding="utf-8")) if path else {}
        except (OSError, ValueError):
            loaded = {}
        if isinstance(loaded, dict):
            _forms = {
                k: v
                for k, v in loaded.items()
                if isinstance(v, list) and all(isinstance(x, str) for x in v)
            }
    return _forms


def get(word: str, lang: str) -> frozenset[str] | None:
    found = _load().get(f"{lang}\x00{word}")
    return frozenset(found) if found is not None else None


def put(word: str, lang: str, forms: frozenset[str]) -> None:
    global _dirty
    _load()[f"{lang}\x00{word}"] = sorted(forms)
    _dirty = True


def save() -> None:
    """Write what was learnt (a reader never sees half a file)."""
    global _dirty
    if not _dirty:
        return
    path = _path()
    if path is None:
        return
    data = json.dumps(_load(), ensure_ascii=False, sort_keys=True).encode("utf-8")
    if write_atomically(path, io.BytesIO(data)):
        _dirty = False
    # else: a read-only home; the next process computes the forms again
