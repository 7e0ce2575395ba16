"""The forms of configured terms' words (`tokens.term_forms`) remembered between processes
(pipeline/cache.py): compiling the rules of 24 languages spent ~0.2 s of CPU in every
`mediamon enrich` on the same few thousand names' lemmas and stems (pymorphy3, Snowball).
The file's key covers the code that makes the forms and the morphology packages, so a
change of either makes a new one. A cache that cannot be read or written is only slower."""

from __future__ import annotations

from pathlib import Path

from pipeline.cache import JsonStore, modules_cache_path

# What term_forms depends on besides the word: tokens.py and the analysers' packages.
_SOURCES = ("pipeline.stages.tokens", "pymorphy3", "pymorphy3_dicts_ru", "pymorphy3_dicts_uk")


def _path() -> Path | None:
    return modules_cache_path("term-forms", ".json", (*_SOURCES, "Stemmer"))


_store = JsonStore(_path)  # "lang\x00word" -> forms


def get(word: str, lang: str) -> frozenset[str] | None:
    found = _store.get(f"{lang}\x00{word}")
    return frozenset(found) if found is not None else None


def put(word: str, lang: str, forms: frozenset[str]) -> None:
    _store.put(f"{lang}\x00{word}", sorted(forms))


def save() -> None:
    _store.save()  # a read-only home: the next process computes the forms again
