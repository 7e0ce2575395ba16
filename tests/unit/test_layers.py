"""The layer contracts cover the whole of pipeline/: a new module must take a place in them."""

from __future__ import annotations

import tomllib

from tests.support.paths import REPO


def test_every_pipeline_module_has_a_layer() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    inner = next(c for c in contracts if c.get("containers") == ["pipeline"])
    placed = {name.strip() for layer in inner["layers"] for name in layer.split("|")}
    modules = {
        p.stem if p.is_file() else p.name
        for p in (REPO / "pipeline").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert modules - placed == set(), "add these to a layer in pyproject.toml"
    assert placed - modules == set(), "these layers name modules that no longer exist"
