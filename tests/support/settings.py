"""Settings from a MEDIAMON_* variable mapping, as a process started with them would read it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.settings import Settings

PREFIX = "MEDIAMON_"


def settings_from_env(variables: Mapping[str, str]) -> Settings:
    """`Settings` for the MEDIAMON_* entries of `variables` (others are ignored, as a
    process ignores them); the real environment still fills whatever they leave unset."""
    values: dict[str, Any] = {
        k.removeprefix(PREFIX).lower(): v for k, v in variables.items() if k.startswith(PREFIX)
    }
    # keyword arguments, not model_validate: pydantic-settings reads the environment only in
    # __init__, and the suites have always built their Settings this way
    return Settings(**values)
