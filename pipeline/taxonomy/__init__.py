"""The topic taxonomy: its YAML model and the default taxonomy shipped with mediamon."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.yamlfile import load_yaml_model

DEFAULT_PATH = Path(__file__).with_name("default.yaml")
ANY_LANGUAGE = "*"
_QUOTES = str.maketrans({"«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "‘": "'"})


def fold(text: str) -> str:
    """Spelling variants that should never decide a match: ё/е, typographic quotes."""
    return (
        text.translate(_QUOTES)
        .replace("ё", "е")
        .replace("Ё", "Е")
        .replace("’", "'")
        .replace("ʼ", "'")
        .replace("ي", "ی")  # Arabic yeh and Persian yeh, which Persian text mixes freely
        .replace("ك", "ک")
    )


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad pattern {pattern!r}: {exc}") from exc
    return patterns


class LanguageRules(BaseModel):
    """How one topic shows in one language. Patterns are regexes, case-insensitive unless
    they say otherwise (`(?-i:UN)`).

    - `any`: the topic is present when one of these matches;
    - `all`: a list of groups; the topic is present when every pattern of a group matches;
    - `ignore`: text masked out first (e.g. "FC Astana" must not count as Astana).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    any_: list[str] = Field(default_factory=list, alias="any")
    all_: list[list[str]] = Field(default_factory=list, alias="all")
    ignore: list[str] = Field(default_factory=list)

    @field_validator("any_", "ignore")
    @classmethod
    def _valid(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)

    @field_validator("all_")
    @classmethod
    def _valid_groups(cls, value: list[list[str]]) -> list[list[str]]:
        for group in value:
            _check_patterns(group)
        return value


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    description: str = ""
    rules: dict[str, LanguageRules]


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    topics: list[Topic]

    @field_validator("topics")
    @classmethod
    def _unique(cls, topics: list[Topic]) -> list[Topic]:
        seen: set[str] = set()
        for topic in topics:
            if topic.id in seen:
                raise ValueError(f"duplicate topic id {topic.id!r}")
            seen.add(topic.id)
        return topics


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    return load_yaml_model(path or DEFAULT_PATH, Taxonomy)


@lru_cache(maxsize=8)
def cached_taxonomy(path: Path | None = None) -> Taxonomy:
    return load_taxonomy(path)
