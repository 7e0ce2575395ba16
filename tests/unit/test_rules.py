"""Alert rules: loading rule by rule, errors with file and line, the CLI's edits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.alerts.rules import KeywordRule, VolumeRule, parse_rules
from pipeline.query import check_query_syntax

GOOD = """\
# the desk's rules
channels:
  ops:
    type: webhook
    url: https://hooks.example/mediamon
    secret_env: MEDIAMON_OPS_SECRET
  chat:
    type: slack
    url_env: MEDIAMON_SLACK_URL
  desk:
    type: email
    to: [desk@example.org]
rules:
  - id: astana-ceasefire
    name: Ceasefire and Astana
    query: '(перемирие OR ateşkes) AND (Астана OR Astana)'
    languages: [ru, tr]
    channels: [ops, chat]
    throttle: {max: 3, window: 10m}
  - id: surge
    type: volume
    topics: [astana_process]
    window: 1h
    factor: 3
"""


def test_a_good_file_loads_with_defaults() -> None:
    ruleset = parse_rules(Path("rules.yaml"), GOOD)
    assert ruleset.problems == []
    rule, surge = ruleset.rules
    assert isinstance(rule, KeywordRule) and isinstance(surge, VolumeRule)
    assert rule.throttle.seconds == 600 and rule.enabled
    assert surge.baseline == "24h" and surge.query == "*"
    assert set(ruleset.channels) == {"ops", "chat", "desk"}


def test_one_bad_rule_is_reported_with_its_line_and_the_others_load() -> None:
    text = (
        GOOD
        + """\
  - id: Bad Id
    query: Syria
  - id: open-quote
    query: '"Astana talks'
  - id: nowhere
    query: Syria
    channels: [pager]
  - id: astana-ceasefire
    query: duplicate id
  - id: spans
    query: Syria
    throttle: {max: 0, window: soon}
"""
    )
    ruleset = parse_rules(Path("rules.yaml"), text)
    assert [r.id for r in ruleset.rules] == ["astana-ceasefire", "surge"]
    problems = "\n".join(ruleset.problems)
    assert "rules.yaml:25: rule Bad Id: id:" in problems
    assert "rules.yaml:28: rule open-quote: query:" in problems and "double quote" in problems
    assert "unknown channel(s) ['pager']" in problems
    assert "a second rule with this id" in problems
    assert "throttle.max" in problems and "throttle.window" in problems


def test_secrets_are_not_accepted_inline() -> None:
    text = "channels:\n  ops:\n    type: webhook\n    url: https://x.example\n    secret: hunter2\n"
    ruleset = parse_rules(Path("r.yaml"), text)
    assert (
        ruleset.channels == {} and "secret: Extra inputs are not permitted" in ruleset.problems[0]
    )


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        ('Astana AND "peace talks"~3', True),
        ("(Syria OR Сирия) AND NOT football", True),
        ("astan*", True),
        (r"a \"quoted", True),
        ("(Syria", False),
        ("Syria)", False),
        ('"open', False),
        ("Syria AND", False),
        ("() AND Syria", False),  # Elasticsearch refuses it at every batch
        ('"( )" AND Syria', True),
        ("  ", False),
    ],
)
def test_offline_query_checks(query: str, ok: bool) -> None:
    if ok:
        assert check_query_syntax(query) == query
    else:
        with pytest.raises(ValueError):
            check_query_syntax(query)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediamon.main", "rules", *args],
        cwd=cwd,
        env={**os.environ, "MEDIAMON_RULES_FILE": str(cwd / "rules.yaml"), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_add_keeps_comments_refuses_bad_rules_and_delete_removes(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(GOOD)
    added = _cli(
        "add", "--id", "un-syria", "--query", "ООН AND Сирия", "--lang", "ru", cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    text = (tmp_path / "rules.yaml").read_text()
    assert "# the desk's rules" in text and "'(перемирие OR ateşkes) AND" in text
    assert parse_rules(tmp_path / "rules.yaml", text).get("un-syria") is not None

    bad = _cli("add", "--id", "broken", "--query", "(Syria", cwd=tmp_path)
    assert bad.returncode == 1 and "'(' without ')'" in bad.stderr
    again = _cli("add", "--id", "un-syria", "--query", "x", cwd=tmp_path)
    assert again.returncode == 1 and "exists already" in again.stderr
    assert (tmp_path / "rules.yaml").read_text() == text  # refused edits change nothing

    listed = _cli("list", "--json", cwd=tmp_path)
    assert [line.count('"id"') for line in listed.stdout.splitlines()] == [1, 1, 1]
    deleted = _cli("delete", "un-syria", cwd=tmp_path)
    assert deleted.returncode == 0
    assert (
        parse_rules(tmp_path / "rules.yaml", (tmp_path / "rules.yaml").read_text()).get("un-syria")
        is None
    )
    offline = _cli("validate", "--offline", cwd=tmp_path)
    assert offline.returncode == 0 and "2 rules loaded, 0 problems" in offline.stdout


class _Stats:
    def __init__(self, body: dict[str, object]) -> None:
        self.body = body


class _Indices:
    def __init__(self, body: dict[str, object]) -> None:
        self.body = body

    async def stats(self, **_: object) -> _Stats:
        return _Stats(self.body)


class _StatsOnly:
    """An Elasticsearch client that only answers index stats (what the catalog's poll asks
    first)."""

    def __init__(self, body: dict[str, object]) -> None:
        self.indices = _Indices(body)


def test_rules_in_hand_stay_while_no_primary_shard_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A data node killed mid-stream (tests/faults/test_cluster.py): until its shards are
    # reassigned, the alert-rules index's stats have empty primaries. That was a KeyError
    # out of refresh(), which crashed the indexing agent.
    import asyncio
    from typing import Any, cast

    from pipeline.alerts.catalog import RulesCatalog
    from pipeline.alerts.matching import RulesFile
    from pipeline.settings import Settings

    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {id: geneva, query: Geneva}\n", encoding="utf-8")
    catalog = RulesCatalog(Settings(), RulesFile(path), poll_seconds=0, publish=False)
    es = cast(Any, _StatsOnly({"_all": {"primaries": {}, "total": {}}}))
    asyncio.run(catalog.refresh(es))
    assert [r.id for r in catalog.current().rules] == ["geneva"]
    assert catalog._marker is None and catalog._version == 0
    assert "no primary shard answers" in caplog.text
