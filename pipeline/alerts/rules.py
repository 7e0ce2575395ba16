"""Alert rules and their channels: the rules file (rules.yaml), validated rule by rule.

A rule or channel that does not validate is reported with its file and line and left out;
the others load. Each channel entry is validated by the model its `type` names in the
registry (pipeline.alerts.channels). Secrets (webhook signing keys, Slack URLs, bot tokens,
SMTP passwords) never live in this file: a channel names the environment variable that
holds them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from pipeline.alerts.channels import ChannelConfig, UnknownChannelTypeError, parse_channel
from pipeline.errors import ConfigError
from pipeline.query import check_query_syntax
from pipeline.yamlfile import line_of, parse_yaml

RULE_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_SPAN = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_span(value: str) -> timedelta:
    match = _SPAN.match(value.strip())
    if not match:
        raise ValueError(f"a span like 30s, 10m, 1h or 7d, not {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Throttle(BaseModel):
    """At most `max` notifications per `window` and rule; the rest go into one digest."""

    model_config = ConfigDict(extra="forbid")

    max: int = Field(default=10, ge=1)
    window: str = "1h"

    @field_validator("window")
    @classmethod
    def _span(cls, value: str) -> str:
        parse_span(value)
        return value

    @property
    def seconds(self) -> float:
        return parse_span(self.window).total_seconds()


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID)
    name: str = ""
    enabled: bool = True
    topics: list[str] = Field(default_factory=list)
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = Field(default_factory=list)
    feeds: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    throttle: Throttle = Field(default_factory=Throttle)
    owner: str = ""  # who to ask about the rule (shown in the alert-rules index)


class KeywordRule(_RuleBase):
    """Fires for each article that the query (Kibana's query-string syntax) and the filters
    find: once per article, once per story of near-duplicate copies."""

    type: Literal["keyword"] = "keyword"
    query: str

    @field_validator("query")
    @classmethod
    def _syntax(cls, value: str) -> str:
        return check_query_syntax(value)


class VolumeRule(_RuleBase):
    """Fires when the articles matching `query` and the filters in the last `window` exceed
    `factor` times their average per window over the preceding `baseline`."""

    type: Literal["volume"]
    query: str = "*"
    window: str = "1h"
    baseline: str = "24h"
    factor: float = Field(default=3.0, gt=1)
    min_count: int = Field(default=5, ge=1)  # quiet topics: 0 -> 2 articles is not a surge

    @field_validator("query")
    @classmethod
    def _syntax(cls, value: str) -> str:
        return value if value.strip() == "*" else check_query_syntax(value)

    @field_validator("window", "baseline")
    @classmethod
    def _span(cls, value: str) -> str:
        parse_span(value)
        return value


Rule = Annotated[KeywordRule | VolumeRule, Field(discriminator="type")]
_RULE = TypeAdapter(Rule)
RULE_ADAPTER = _RULE  # validates one rule given as a mapping (the alert-rules index's)


class RuleSet(BaseModel):
    """What loaded, and what did not (each problem as 'file:line: rule id: message')."""

    rules: list[KeywordRule | VolumeRule] = Field(default_factory=list)
    # each value is its type's model (pipeline.alerts.channels); dumped with all its fields
    channels: dict[str, SerializeAsAny[ChannelConfig]] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)

    def enabled(self) -> list[KeywordRule | VolumeRule]:
        return [r for r in self.rules if r.enabled]

    def get(self, rule_id: str) -> KeywordRule | VolumeRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


# pydantic puts the discriminator's value into an error's location; the file has no such key
_UNION_TAGS = frozenset({"keyword", "volume"})


def _problems(
    path: Path, root: yaml.Node | None, prefix: tuple[Any, ...], what: str, exc: ValidationError
) -> list[str]:
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in _UNION_TAGS)
        line = line_of(root, prefix + loc)
        field = ".".join(str(p) for p in loc) or "(rule)"
        out.append(f"{path}:{line or '?'}: {what}: {field}: {err['msg']}")
    return out


def parse_rules(path: Path, text: str) -> RuleSet:
    """Validate each channel and rule on its own: a bad one is reported, not fatal."""
    data, root = parse_yaml(path, text)
    data = data or {}
    if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
        raise ConfigError(f"{path}: a mapping whose key 'rules' holds a list of rules")
    unknown = set(data) - {"rules", "channels"}
    result = RuleSet()
    if unknown:
        result.problems.append(f"{path}: unknown top-level keys ignored: {sorted(unknown)}")
    for name, spec in (data.get("channels") or {}).items():
        try:
            result.channels[str(name)] = parse_channel(spec)
        except ValidationError as exc:
            result.problems += _problems(path, root, ("channels", name), f"channel {name}", exc)
        except UnknownChannelTypeError as exc:
            has_type = isinstance(spec, dict) and "type" in spec
            line = line_of(root, ("channels", name, "type") if has_type else ("channels", name))
            result.problems.append(f"{path}:{line or '?'}: channel {name}: type: {exc}")
    seen: set[str] = set()
    for n, spec in enumerate(data.get("rules") or []):
        rule_id = spec.get("id", f"#{n + 1}") if isinstance(spec, dict) else f"#{n + 1}"
        try:
            rule = _RULE.validate_python(
                {"type": "keyword", **spec} if isinstance(spec, dict) else spec
            )
        except ValidationError as exc:
            result.problems += _problems(path, root, ("rules", n), f"rule {rule_id}", exc)
            continue
        where = f"{path}:{line_of(root, ('rules', n)) or '?'}: rule {rule.id}"
        if rule.id in seen:
            result.problems.append(f"{where}: a second rule with this id is ignored")
            continue
        missing = [c for c in rule.channels if c not in result.channels]
        if missing:
            result.problems.append(f"{where}: unknown channel(s) {missing}; rule not loaded")
            continue
        seen.add(rule.id)
        result.rules.append(rule)
    return result


def load_rules(path: Path) -> RuleSet:
    if not path.exists():
        return RuleSet()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_rules(path, text)


def rules_summary(path: Path) -> tuple[bool, str]:
    """(alerts on?, one line saying so): for the worker's start and `mediamon status`.

    A missing or empty rules file is not an error (alerts are optional), but it must never
    be silent: in a container the file is easy to forget to mount."""
    if not path.exists():
        return False, f"alerts: no rules ({path} does not exist; set MEDIAMON_RULES_FILE)"
    try:
        ruleset = load_rules(path)
    except ConfigError as exc:
        return False, f"alerts: no rules ({exc})"
    enabled = len(ruleset.enabled())
    problems = f", {len(ruleset.problems)} problem(s)" if ruleset.problems else ""
    if not enabled:
        return False, f"alerts: no rules ({path} has no enabled rule{problems})"
    return True, f"alerts: {enabled} rule(s) enabled from {path}{problems}"
