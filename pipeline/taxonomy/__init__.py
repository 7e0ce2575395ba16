"""The topic taxonomy: its YAML model and the default taxonomy shipped with mediamon."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.yamlfile import load_yaml_model

DEFAULT_PATH = Path(__file__).with_name("default.yaml")
ANY_LANGUAGE = "*"


def _terms(values: list[str]) -> list[str]:
    # The common list, with no '*' at all, can only fail by a blank term: told by two scans
    # in C instead of a Python loop per term. The expanded taxonomy's lists hold ~0.5 MB of
    # terms, validated at every `mediamon enrich` start (read back from its cache), and the
    # loop cost ~16 M instructions there. A list with a '*' is checked term by term, for the
    # same error.
    if "*" not in "\n".join(values) and all(map(str.strip, values)):
        return values
    for value in values:
        if not value.strip() or value.strip() == "*":
            raise ValueError(f"empty term {value!r}")
        if "*" in value.rstrip("*"):
            raise ValueError(f"{value!r}: '*' is only allowed at the end of a word")
    return values


class ContextRule(BaseModel):
    """`terms` count only with one of `with_` in the title or within `window` words. At the
    topic level (every language), `names` and `with_names` name entries of the name tables
    and `with_topics` other topics, whose words in each language stand in for the lists."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    terms: list[str] = Field(default_factory=list)
    with_: list[str] = Field(alias="with", default_factory=list)
    names: list[str] = Field(default_factory=list)
    with_names: list[str] = Field(default_factory=list)
    with_topics: list[str] = Field(default_factory=list)
    # Or: words of every one of these groups within `window` words in one field (Russia,
    # Turkey and Iran together), with one of `with_` anywhere in the article if given;
    # at the topic level `territories` gives one group per CLDR territory and `all_of_names`
    # one group per name-table entry.
    all_of: list[list[str]] = Field(default_factory=list)
    territories: list[str] = Field(default_factory=list)
    all_of_names: list[str] = Field(default_factory=list)
    window: int = Field(default=40, ge=1, le=1000)

    _check = field_validator("terms", "with_")(_terms)

    @model_validator(mode="after")
    def _complete(self) -> ContextRule:
        groups = self.all_of or self.territories or self.all_of_names
        if not (self.terms or self.names or groups):
            raise ValueError(
                "a context rule needs terms (or names, all_of, territories, all_of_names)"
            )
        # groups within `window` words of each other are evidence enough on their own
        if not (groups or self.wants_context):
            raise ValueError("a context rule needs with (or with_names, with_topics)")
        return self

    @property
    def wants_context(self) -> bool:
        """Whether the rule names words that must also occur (`with_`, `with_names`,
        `with_topics`)."""
        return bool(self.with_ or self.with_names or self.with_topics)


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
    """A topic: per-language `rules`, and what applies in every language: the CLDR names of
    a `territory` (SY, UA, or UN for the United Nations), entries of the name tables
    (`names`, `exclude_names`: pipeline/taxonomy/names/<lang>.yaml) and `context` rules."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    description: str = ""
    min_score: float = Field(default=1.0, gt=0)
    title_weight: float = Field(default=2.0, ge=0)
    territory: str | None = Field(default=None, pattern=r"^[A-Z]{2}$|^[0-9]{3}$")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    names: list[str] = Field(default_factory=list)
    exclude_names: list[str] = Field(default_factory=list)
    context: list[ContextRule] = Field(default_factory=list)
    # Narrower topics imply broader ones: an article on the Astana talks is about Syria.
    implies: list[str] = Field(default_factory=list)
    rules: dict[str, LanguageRules] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something(self) -> Topic:
        if not (self.rules or self.territory or self.names or self.context):
            raise ValueError(f"topic {self.id!r} has no rules, territory, names or context")
        return self


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 3
    topics: list[Topic]

    @field_validator("topics")
    @classmethod
    def _unique(cls, topics: list[Topic]) -> list[Topic]:
        seen: set[str] = set()
        for topic in topics:
            if topic.id in seen:
                raise ValueError(f"duplicate topic id {topic.id!r}")
            seen.add(topic.id)
        for topic in topics:
            for other in topic.implies:
                if other not in seen or other == topic.id:
                    raise ValueError(f"{topic.id}: implies unknown topic {other!r}")
            for ctx in topic.context:
                for other in ctx.with_topics:
                    if other not in seen or other == topic.id:
                        raise ValueError(f"{topic.id}: with_topics names unknown topic {other!r}")
        return topics


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    # the data kept between processes: a taxonomy holds no secret, and every `mediamon
    # enrich` reads one
    return load_yaml_model(path or DEFAULT_PATH, Taxonomy, cache=True)


@lru_cache(maxsize=8)
def cached_taxonomy(path: Path | None = None) -> Taxonomy:
    return load_taxonomy(path)
