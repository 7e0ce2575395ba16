"""The topic taxonomy: its YAML model and the default taxonomy shipped with mediamon."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.yamlfile import load_yaml_model

DEFAULT_PATH = Path(__file__).with_name("default.yaml")
ANY_LANGUAGE = "*"


def _terms(values: list[str]) -> list[str]:
    for value in values:
        if not value.strip() or value.strip() == "*":
            raise ValueError(f"empty term {value!r}")
        if "*" in value.rstrip("*"):
            raise ValueError(f"{value!r}: '*' is only allowed at the end of a word")
    return values


class ContextRule(BaseModel):
    """`terms` count only with one of `with_` in the title or within `window` words."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    terms: list[str] = Field(min_length=1)
    with_: list[str] = Field(alias="with", min_length=1)
    window: int = Field(default=40, ge=1, le=1000)

    _check = field_validator("terms", "with_")(_terms)


class LanguageRules(BaseModel):
    """How a topic shows in one language. Terms are words or phrases matched on normalized
    forms (lemmas for Russian and Ukrainian, stems elsewhere), case-insensitively; a trailing
    `*` matches any word starting so. `exact` terms match case-sensitively as written (UN,
    ООН: never the French article "un"). `exclude` phrases are masked first (FC Astana);
    `none` terms anywhere in the article rule the topic out in this language (hamster)."""

    model_config = ConfigDict(extra="forbid")

    terms: list[str] = Field(default_factory=list)
    exact: list[str] = Field(default_factory=list)
    context: list[ContextRule] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    none: list[str] = Field(default_factory=list)

    _check = field_validator("terms", "exact", "exclude", "none")(_terms)


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    description: str = ""
    min_score: float = Field(default=1.0, gt=0)
    title_weight: float = Field(default=2.0, ge=0)
    rules: dict[str, LanguageRules]


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 2
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
