"""CLDR names kept between processes: the same names as Babel, and a cache that cannot be
read or written changes nothing but the time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.taxonomy import cldr_cache
from pipeline.taxonomy.expand import cldr_names


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(cldr_cache, "_names", None)
    monkeypatch.setattr(cldr_cache, "_dirty", False)
    cldr_names.cache_clear()
    yield tmp_path
    cldr_names.cache_clear()


def test_names_survive_a_restart_unchanged(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = cldr_names("UA", "it", "uk")
    assert "Ucraina" in first
    cldr_cache.save()
    [written] = (fresh / "mediamon").glob("cldr-names-*.json")
    assert "UA|it|uk" in written.read_text(encoding="utf-8")
    # a new process: nothing in memory, the file answers without Babel
    monkeypatch.setattr(cldr_cache, "_names", None)
    cldr_names.cache_clear()
    assert cldr_cache.get("UA|it|uk") == first
    assert cldr_names("UA", "it", "uk") == first


def test_a_broken_or_unwritable_cache_is_only_slower(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fresh / "mediamon").mkdir()
    path = cldr_cache._path()
    assert path is not None
    path.write_text("{not json", encoding="utf-8")
    assert cldr_names("SY", "de") == ("Syrien",)
    # a cache home that is a file (as root, permissions would not stop the write)
    blocker = fresh / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    cldr_cache.save()  # no error: the next process reads Babel again
    assert cldr_cache._dirty
