"""`mediamon rules add|list|show|delete|validate|test`: the alert rules file, from the shell."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import typer
from elastic_transport import TransportError
from elasticsearch import ApiError
from ruamel.yaml import YAML

from mediamon.output import console, err_console, print_json, print_table
from mediamon.search import parse_since
from pipeline.adapters.elastic import make_client
from pipeline.alerts.backtest import rule_matches
from pipeline.alerts.presearch import every_batch_reason
from pipeline.alerts.rules import load_rules, parse_rules
from pipeline.query import article_query
from pipeline.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Alert rules (rules.yaml) and what they match.")


def _path(rules_file: Path | None) -> Path:
    return rules_file or get_settings().rules_file


def _load(path: Path) -> Any:
    ruleset = load_rules(path)
    for problem in ruleset.problems:
        err_console.print(f"[yellow]{problem}[/yellow]")
    return ruleset


def _roundtrip() -> Any:
    yaml = YAML()  # round-trip mode: keeps comments, order and quoting
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    return yaml


FILE_OPT = typer.Option(None, "--rules-file", help="Default: MEDIAMON_RULES_FILE.")


@app.command("list")
def list_rules(
    rules_file: Path | None = FILE_OPT, as_json: bool = typer.Option(False, "--json")
) -> None:
    """Every rule that loads, with its filters and channels (problems go to stderr), and
    which rules are searched on every batch: those with no term a matching article must
    contain (only negations, a leading wildcard, fuzzy terms, ranges), which the
    pre-selection cannot skip."""
    ruleset = _load(_path(rules_file))
    every = {r.id: every_batch_reason(r.query) for r in ruleset.rules}
    if as_json:
        for rule in ruleset.rules:
            print_json(rule.model_dump() | {"every_batch": every[rule.id]})
        return
    always = sum(1 for r in ruleset.enabled() if every[r.id])
    print_table(
        f"{len(ruleset.rules)} rules ({len(ruleset.enabled())} enabled, "
        f"{always} searched on every batch)",
        ["id", "type", "on", "query", "filters", "channels", "throttle", "every batch"],
        [
            [
                r.id,
                r.type,
                "yes" if r.enabled else "no",
                r.query[:50],
                " ".join(
                    f"{k}={','.join(v)}"
                    for k, v in (("topics", r.topics), ("lang", r.languages), ("feeds", r.feeds))
                    if v
                ),
                ",".join(r.channels) or "(alerts topic)",
                f"{r.throttle.max}/{r.throttle.window}",
                every[r.id] or "",
            ]
            for r in ruleset.rules
        ],
    )
    if ruleset.problems:
        raise typer.Exit(1)


@app.command("show")
def show(rule_id: str, rules_file: Path | None = FILE_OPT) -> None:
    """One rule, as loaded (defaults filled in)."""
    ruleset = _load(_path(rules_file))
    rule = ruleset.get(rule_id)
    if rule is None:
        err_console.print(f"no rule {rule_id!r} in {_path(rules_file)}")
        raise typer.Exit(1)
    console.print_json(json.dumps(rule.model_dump()))


@app.command("validate")
def validate(
    rules_file: Path | None = FILE_OPT,
    offline: bool = typer.Option(False, "--offline", help="Do not ask Elasticsearch."),
) -> None:
    """Check every channel and rule; queries also through Elasticsearch's validate API when
    it is reachable. Exit 1 when anything is wrong."""
    path = _path(rules_file)
    if not path.exists():
        err_console.print(f"{path}: no such file")
        raise typer.Exit(1)
    ruleset = _load(path)
    problems = list(ruleset.problems)
    if not offline:
        problems += asyncio.run(_server_checks(ruleset))
    for problem in problems[len(ruleset.problems) :]:
        err_console.print(f"[yellow]{path}: {problem}[/yellow]")
    console.print(f"{len(ruleset.rules)} rules loaded, {len(problems)} problems")
    if problems:
        raise typer.Exit(1)


async def _server_checks(ruleset: Any) -> list[str]:
    settings = get_settings()
    es = make_client(settings)
    problems: list[str] = []
    try:
        for rule in ruleset.rules:
            resp = await es.indices.validate_query(
                index=settings.articles_alias, query=article_query(rule.query), explain=True
            )
            if not resp.get("valid"):
                why = "; ".join(e.get("error", "") for e in resp.get("explanations", []))
                problems.append(f"rule {rule.id}: Elasticsearch refuses the query: {why}")
    except (ApiError, TransportError) as exc:
        err_console.print(f"Elasticsearch not asked ({type(exc).__name__}): offline checks only")
    finally:
        await es.close()
    return problems


@app.command("add")
def add(
    rule_id: str = typer.Option(..., "--id"),
    query: str = typer.Option(
        ..., "--query", help="Query-string syntax, e.g. 'Astana AND \"cease fire\"'."
    ),
    name: str = typer.Option("", "--name"),
    topic: list[str] = typer.Option([], "--topic"),
    lang: list[str] = typer.Option([], "--lang"),
    feed: list[str] = typer.Option([], "--feed"),
    channel: list[str] = typer.Option([], "--channel"),
    throttle: str = typer.Option("10/1h", "--throttle", help="MAX/WINDOW, e.g. 10/1h."),
    disabled: bool = typer.Option(False, "--disabled"),
    rules_file: Path | None = FILE_OPT,
) -> None:
    """Append a keyword rule, validated first; the file's comments and layout are kept."""
    path = _path(rules_file)
    maximum, _, window = throttle.partition("/")
    spec: dict[str, Any] = {"id": rule_id, "name": name or rule_id, "query": query}
    spec |= {k: v for k, v in (("topics", topic), ("languages", lang), ("feeds", feed)) if v}
    spec |= {"channels": channel} if channel else {}
    spec |= {
        "throttle": {
            "max": int(maximum) if maximum.isdigit() else maximum,
            "window": window or "1h",
        }
    }
    spec |= {"enabled": False} if disabled else {}
    yaml = _roundtrip()
    doc = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    if doc is None:
        doc = {"channels": {}, "rules": []}
    if any(r.get("id") == rule_id for r in doc.get("rules") or []):
        err_console.print(f"{path}: a rule {rule_id!r} exists already")
        raise typer.Exit(1)
    doc.setdefault("rules", [])
    if doc["rules"] is None:
        doc["rules"] = []
    doc["rules"].append(spec)
    out = io.StringIO()
    yaml.dump(doc, out)
    checked = parse_rules(path, out.getvalue())
    new = [p for p in checked.problems if f"rule {rule_id}" in p]
    if new or checked.get(rule_id) is None:
        for problem in new:
            err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(1)
    path.write_text(out.getvalue(), encoding="utf-8")
    console.print(f"added {rule_id} to {path}")


@app.command("delete")
def delete(rule_id: str, rules_file: Path | None = FILE_OPT) -> None:
    """Remove a rule (its sent-alert history stays in the alerts index)."""
    path = _path(rules_file)
    yaml = _roundtrip()
    doc = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    rules = (doc or {}).get("rules") or []
    index = next((n for n, r in enumerate(rules) if r.get("id") == rule_id), None)
    if index is None:
        err_console.print(f"no rule {rule_id!r} in {path}")
        raise typer.Exit(1)
    del rules[index]
    out = io.StringIO()
    yaml.dump(doc, out)
    path.write_text(out.getvalue(), encoding="utf-8")
    console.print(f"deleted {rule_id} from {path}")


@app.command("test")
def test(
    target: str = typer.Argument(..., help="A rule id from the rules file, or a rules file."),
    since: str = typer.Option("7d", "--since", help="How far back, e.g. 24h, 7d."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Per rule."),
    rules_file: Path | None = FILE_OPT,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Which already-indexed articles a rule (or every rule of a file) would have matched:
    one line per match, newest first. Nothing is sent."""
    candidate = Path(target)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        ruleset = load_rules(candidate)
        if not candidate.exists():
            err_console.print(f"{candidate}: no such file")
            raise typer.Exit(1)
        rules = ruleset.rules
    else:
        ruleset = _load(_path(rules_file))
        rule = ruleset.get(target)
        if rule is None:
            err_console.print(f"no rule {target!r} in {_path(rules_file)}")
            raise typer.Exit(1)
        rules = [rule]
    for problem in ruleset.problems:
        err_console.print(f"[yellow]{problem}[/yellow]")
    matches = asyncio.run(_matches(rules, parse_since(since), limit))
    if as_json:
        for row in matches:
            print_json(row)
    else:
        print_table(
            f"{len(matches)} matches since {since}",
            ["rule", "published", "title", "url"],
            [
                [m["rule"], (m["published"] or "")[:16], (m["title"] or "")[:70], m["url"]]
                for m in matches
            ],
        )
    if ruleset.problems:
        err_console.print(f"[red]{len(ruleset.problems)} rule(s) could not be tested[/red]")
        raise typer.Exit(1)


async def _matches(rules: list[Any], since: Any, limit: int) -> list[dict[str, Any]]:
    settings = get_settings()
    es = make_client(settings)
    try:
        return await rule_matches(es, settings.articles_alias, rules, since, limit)
    finally:
        await es.close()
