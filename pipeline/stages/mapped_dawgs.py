"""pymorphy3's dictionary files (DAWGs) read in place, through a read-only memory map, by
the native module, instead of read whole into fresh memory by the `dawg` package.

`dawg`'s `load` zero-fills a vector as large as the file and reads the file into it: the
Russian and Ukrainian dictionaries' words, prediction suffixes and tag probabilities are
~28 MB, ~6,000 of the ~34,000 minor page faults of `mediamon enrich` over the benchmark
corpus (and twice that memory written). Mapped, the files' pages are the page cache's,
faulted in 16 at a time as lookups read them, and only those read count towards the
process's memory.

Only the lookups pymorphy3 2.0.6 makes in parsing are native (`similar_items`,
`similar_item_values`, the probabilities' `get`); anything else asked of a DAWG loads it
with `dawg` as before, once. Without the native module nothing changes."""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from pipeline.native import native


def _map(path: str) -> mmap.mmap:
    with open(path, "rb") as file:
        return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


class _Fallback:
    """The DAWG `dawg` loads from the same file, made when first needed."""

    def __init__(self, path: str, dawg_class: Any) -> None:
        self._path = path
        self._class = dawg_class
        self._loaded: Any = None

    def dawg(self) -> Any:
        if self._loaded is None:
            self._loaded = self._class().load(self._path)
        return self._loaded


class MappedRecords:
    """A pymorphy3 RecordDAWG (words, prediction suffixes) read in place: its lookups are
    the native object's bound methods (no Python frame per call)."""

    def __init__(self, path: str, dawg_class: Any) -> None:
        assert native is not None
        mapped = native.MappedDawg(_map(path), dawg_class.DATA_FORMAT)
        self.similar_items = mapped.similar_items
        self.similar_item_values = mapped.similar_item_values
        self._class = dawg_class
        self._fallback = _Fallback(path, dawg_class)

    def compile_replaces(self, replaces: dict[str, Any]) -> Any:
        return self._class.compile_replaces(replaces)  # a classmethod: nothing loaded

    def __contains__(self, key: object) -> bool:
        return key in self._fallback.dawg()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback.dawg(), name)


class MappedProbabilities:
    """pymorphy3's ConditionalProbDistDAWG (P(tag | word)) read in place."""

    def __init__(self, path: str, dawg_class: Any) -> None:
        assert native is not None
        self._value = native.MappedDawg(_map(path), "").int_value
        self.MULTIPLIER: int = dawg_class.MULTIPLIER
        self._fallback = _Fallback(path, dawg_class)

    def get(self, key: object, default: Any = None) -> Any:
        if not isinstance(key, str):
            return self._fallback.dawg().get(key, default)
        found = self._value(key)
        return default if found is None else found

    def prob(self, word: str, tag: object) -> float:
        # ConditionalProbDistDAWG.prob
        found = self._value(f"{word}:{tag}")
        return (0 if found is None else found) / self.MULTIPLIER

    def __contains__(self, key: object) -> bool:
        return key in self._fallback.dawg()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback.dawg(), name)


class _Loader:
    """What pymorphy3 calls to load a DAWG, `Class().load(path)`, making a mapped one
    (or, where the file cannot be mapped or read so, `dawg`'s)."""

    def __init__(self, mapped: Callable[[str, Any], Any], dawg_class: Any) -> None:
        self._mapped = mapped
        self._class = dawg_class

    def __call__(self) -> _Loader:
        return self

    def load(self, path: str) -> Any:
        try:
            return self._mapped(path, self._class)
        except (OSError, ValueError):  # an empty or malformed file: `dawg` says why
            return self._class().load(path)


@contextmanager
def mapped_loading() -> Iterator[None]:
    """While open, a MorphAnalyzer made in this thread maps its DAWGs (the caller holds a
    lock against other threads: the swap is of module attributes)."""
    if native is None:
        yield
        return
    import pymorphy3.analyzer
    from pymorphy3 import dawg
    from pymorphy3.opencorpora_dict import storage

    storage_dawg = storage.dawg
    probabilities = pymorphy3.analyzer.ConditionalProbDistDAWG
    storage.dawg = SimpleNamespace(
        WordsDawg=_Loader(MappedRecords, dawg.WordsDawg),
        PredictionSuffixesDAWG=_Loader(MappedRecords, dawg.PredictionSuffixesDAWG),
    )
    pymorphy3.analyzer.ConditionalProbDistDAWG = _Loader(MappedProbabilities, probabilities)
    try:
        yield
    finally:
        storage.dawg = storage_dawg
        pymorphy3.analyzer.ConditionalProbDistDAWG = probabilities
