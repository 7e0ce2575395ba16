"""A language's compiled topic rules kept between processes (pipeline/cache.py): compiling
the 24 languages of the benchmark corpus cost ~0.41 G instructions of every `mediamon
enrich` process (8,400 phrases made through `_Vocabulary.phrase`), rebuilding them from
this file ~0.1 G. The file is written with marshal, whose loader makes the strings, lists
and dicts in C; pickling the compiled objects themselves loaded as slowly as compiling.

A file's name carries two keys: one of the rules compiled (their words, in order, with the
language they are compiled for), one of the code and packages a compile reads (this
package's tagging and tokens code, the native module, the morphology packages: what
`term_forms` and `split` answer). A changed taxonomy, upgrade or edit makes a new file; a
file that cannot be read or written only makes the next start slower."""

from __future__ import annotations

import hashlib
import io
import json
import marshal
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cache import modules_cache_path, write_atomically

if TYPE_CHECKING:
    from pipeline.taxonomy import LanguageRules

# What a compiled vocabulary depends on besides its rules (term_cache's sources, and the
# code that cuts, folds and compiles the terms).
_SOURCES = (
    "pipeline.stages.tagging",
    "pipeline.stages.tokens",
    "pipeline.stages.mapped_dawgs",
    "pipeline.stages.rules_cache",
    "pipeline.native",
    "pymorphy3",
    "pymorphy3_dicts_ru",
    "pymorphy3_dicts_uk",
    "Stemmer",
)
_OPTIONAL = ("pipeline._native",)  # absent where no Rust toolchain built it


@lru_cache(maxsize=1)
def _code_file() -> Path | None:
    """The file name's code part, told once per process (stat of every source)."""
    return modules_cache_path("rules", ".marshal", _SOURCES, _OPTIONAL)


def _content(lang: str, codes: Sequence[str], rules: Sequence[LanguageRules]) -> str:
    """A key of what a compile reads of the rules: every list of words, in order. The words
    joined by NUL, with every list's length and the rules' shape beside them, tell the
    lists apart when no word holds a NUL (counted); else the lists' JSON does. Joining
    cost ~3 M instructions for the benchmark's 24 languages, their JSON ~21 M."""
    words: list[str] = [lang, sys.version, *codes]  # Python's: marshal's format, hashing
    shape: list[int] = [len(codes)]
    for r in rules:
        lists = [r.terms, r.exact, r.exclude, r.none]
        shape.append(len(r.context))
        for c in r.context:
            lists += (c.terms, c.with_, *c.all_of)
            shape += (c.window, len(c.all_of))
        shape += map(len, lists)
        for found in lists:
            words += found
    text = "\x00".join(words)
    if text.count("\x00") != len(words) - 1:  # a word with a NUL in it
        text = json.dumps(words, ensure_ascii=False)
    key = hashlib.sha256(",".join(map(str, shape)).encode("ascii"))
    key.update(b"\x01" + text.encode("utf-8", "surrogatepass"))
    return key.hexdigest()[:16]


def path(lang: str, codes: Sequence[str], rules: Sequence[LanguageRules]) -> Path | None:
    """Where the vocabulary of `lang` compiled from `rules` (of `codes`, in order) is kept;
    None when a source cannot be found."""
    code = _code_file()
    if code is None:
        return None
    return code.with_name(f"rules-{lang}-{_content(lang, codes, rules)}-{code.name[6:]}")


def load(where: Path | None) -> Any:
    """What `save` wrote at `where`, or None."""
    if where is None:
        return None
    try:
        return marshal.loads(where.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def save(where: Path | None, data: Any) -> None:
    """Write `data` (strings, numbers, lists, tuples, dicts) so no reader sees half a file;
    a read-only home leaves nothing."""
    if where is not None:
        write_atomically(where, io.BytesIO(marshal.dumps(data)))
