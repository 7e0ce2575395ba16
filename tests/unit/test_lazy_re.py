"""LazyPattern (pipeline/lazy_re.py): the pattern `re.compile` gives, compiled on first use."""

from __future__ import annotations

import re

import pytest

from pipeline.lazy_re import LazyPattern
from pipeline.stages import clean, language_evidence, tokens
from pipeline.stages import language_scripts as scripts
from pipeline.taxonomy import expand


def _lazy_patterns() -> list[LazyPattern]:
    found = []
    for module in (clean, scripts, tokens, language_evidence, expand):
        for value in vars(module).values():
            if isinstance(value, LazyPattern):
                found.append(value)
            elif isinstance(value, scripts._Letters):
                found.append(value.pattern)
            elif isinstance(value, dict):
                found += [v for v in value.values() if isinstance(v, LazyPattern)]
    return found


def test_not_compiled_until_used() -> None:
    pattern = LazyPattern(r"\bab+c\b", re.IGNORECASE)
    assert pattern._compiled is None
    assert pattern.pattern == r"\bab+c\b"  # read without compiling
    assert pattern._compiled is None
    assert pattern.search("x ABBC y") is not None
    assert pattern.compiled() is pattern.compiled()


@pytest.mark.parametrize(
    "source, flags", [(r"\bab+c\b", re.IGNORECASE), (r"(a)(b)?", 0), ("[ѐ-ӿ]", re.I)]
)
def test_same_as_re_compile(source: str, flags: int) -> None:
    lazy, eager = LazyPattern(source, flags), re.compile(source, flags)
    text = "abc ABBC xab ѐ a ab"
    assert lazy.search(text) == eager.search(text) or (
        lazy.search(text).span() == eager.search(text).span()  # type: ignore[union-attr]
    )
    assert lazy.findall(text) == eager.findall(text)
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in eager.finditer(text)]
    assert lazy.sub("-", text) == eager.sub("-", text)
    assert lazy.split(text) == eager.split(text)
    assert lazy.flags == eager.flags and lazy.groups == eager.groups
    assert lazy.compiled() == eager  # re's patterns compare by source and flags


def test_modules_patterns_compile_as_before() -> None:
    patterns = _lazy_patterns()
    assert len(patterns) > 60
    for lazy in patterns:
        assert lazy.compiled() == re.compile(lazy.pattern, lazy._flags)


def test_native_spec_flags_are_the_compiled_ones() -> None:
    """_NATIVE_SPEC names the flags without compiling; they must be those `re` reports (the
    native cleaner is used only while the spec equals its own)."""
    assert re.compile(clean._CHROME.pattern, re.IGNORECASE).flags == clean._CHROME_FLAGS
    assert (
        re.compile(clean._BOILERPLATE_LINE.pattern, re.IGNORECASE).flags
        == clean._BOILERPLATE_LINE_FLAGS
    )
    assert clean._CHROME.compiled().flags == clean._CHROME_FLAGS
    assert clean._BOILERPLATE_LINE.compiled().flags == clean._BOILERPLATE_LINE_FLAGS
