"""`mediamon topics`: the taxonomy as the tagger reads it, and what it makes of text."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import typer

from mediamon.output import console, print_json, print_table
from pipeline.errors import ConfigError, StackError
from pipeline.settings import get_settings
from pipeline.stages.clean import scrub
from pipeline.stages.jsonl import read_objects
from pipeline.stages.language import detect_language
from pipeline.stages.tagging import Tagger
from pipeline.taxonomy import load_taxonomy
from pipeline.taxonomy.expand import expand

app = typer.Typer(help="Topics: list, show, test on JSON Lines, explain a text.")

TAXONOMY = typer.Option(None, "--taxonomy", help="Taxonomy YAML (default: the shipped one).")


@app.command("list")
def list_topics(
    taxonomy: Path | None = TAXONOMY, as_json: bool = typer.Option(False, "--json")
) -> None:
    """Every topic, the languages it has rules in, and where its words come from."""
    source = load_taxonomy(taxonomy)
    expanded = {t.id: t for t in expand(source).topics}
    rows: list[dict[str, Any]] = []
    for topic in source.topics:
        rules = expanded[topic.id].rules
        rows.append(
            {
                "id": topic.id,
                "label": topic.label,
                "languages": len([lang for lang in rules if lang != "*"]),
                "terms": sum(len(r.terms) + len(r.exact) for r in rules.values()),
                "territory": topic.territory,
                "names": topic.names,
                "hand_written": sorted(topic.rules),
            }
        )
    if as_json:
        print_json(rows)
        return
    print_table(
        "topics",
        ["id", "label", "languages", "terms", "territory (CLDR)", "name tables", "hand rules"],
        [
            [
                r["id"],
                r["label"],
                r["languages"],
                r["terms"],
                r["territory"] or "",
                ", ".join(r["names"]),
                ", ".join(r["hand_written"]),
            ]
            for r in rows
        ],
    )


@app.command("show")
def show(
    topic_id: str = typer.Argument(..., metavar="TOPIC"),
    lang: list[str] = typer.Option([], "--lang", help="Only these languages (repeatable)."),
    taxonomy: Path | None = TAXONOMY,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A topic's rules per language, written out as the tagger reads them."""
    expanded = {t.id: t for t in expand(load_taxonomy(taxonomy)).topics}
    if topic_id not in expanded:
        raise ConfigError(f"no topic {topic_id!r}; topics: {', '.join(expanded)}")
    rules = {k: v for k, v in expanded[topic_id].rules.items() if not lang or k in lang}
    if as_json:
        print_json({k: v.model_dump(by_alias=True) for k, v in rules.items()})
        return
    rows = []
    for code, r in sorted(rules.items()):
        context = "; ".join(
            f"{', '.join(c.terms[:4])} with {', '.join(c.with_[:4])}..." for c in r.context
        )
        rows.append([code, ", ".join(r.terms), ", ".join(r.exact), context, ", ".join(r.exclude)])
    print_table(
        f"{topic_id}: rules in {len(rows)} languages",
        ["lang", "terms (with morphology)", "exact", "context", "masked"],
        rows,
    )


def _item_text(item: dict[str, Any]) -> tuple[str, str]:
    """Title and text, scrubbed as `mediamon enrich` scrubs its input: a lone surrogate (a
    JSON escape of invalid UTF-8) would crash the table's write to stdout."""
    title = scrub(str(item.get("title") or ""))
    text = scrub(str(item.get("text") or item.get("summary") or item.get("content") or ""))
    return title, text


@app.command("test")
def test(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines: title, text."),
    taxonomy: Path | None = TAXONOMY,
    as_json: bool = typer.Option(False, "--json", help="One JSON line per item."),
) -> None:
    """Tag every line of FILE and print each match with its evidence. A line's `lang`, if
    present, is the feed's hint; the language is detected as the pipeline does."""
    tagger = Tagger(load_taxonomy(taxonomy))
    rows = []
    counts: dict[str, int] = {}
    for number, item in read_objects(path):
        title, text = _item_text(item)
        lang = detect_language(f"{title}\n{text}", item.get("lang")).lang
        match = tagger.tag(title, text, lang)
        for topic in match.topics:
            counts[topic] = counts.get(topic, 0) + 1
        if as_json:
            print(
                json.dumps(
                    {
                        "line": number,
                        "id": item.get("id"),
                        "lang": lang,
                        "topics": match.topics,
                        "scores": match.scores,
                        "evidence": match.evidence,
                    },
                    ensure_ascii=False,
                )
            )
            continue
        evidence = "; ".join(
            f"{t}: " + ", ".join(f"{e['text']!r} ({e['field']})" for e in ev[:3])
            for t, ev in match.evidence.items()
        )
        rows.append([number, title[:60], lang, ", ".join(match.topics), evidence])
    if not as_json:
        print_table(
            f"{path.name}: {len(rows)} items", ["line", "title", "lang", "topics", "evidence"], rows
        )
        console.print(", ".join(f"{t}: {n}" for t, n in counts.items()) or "no topic matched")


@app.command("explain")
def explain(
    text: str = typer.Argument(..., help="The article's text (or headline)."),
    title: str = typer.Option("", "--title", help="A headline to read with the text."),
    lang: str | None = typer.Option(None, "--lang", help="Skip detection: read as this language."),
    taxonomy: Path | None = TAXONOMY,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Why each topic did or did not match TEXT."""
    tagger = Tagger(load_taxonomy(taxonomy))
    # arguments of invalid UTF-8 arrive as lone surrogates (surrogateescape)
    text, title = scrub(text), scrub(title)
    detected = detect_language(f"{title}\n{text}")
    code = lang or detected.lang
    found = tagger.explain(title, text, code)
    if as_json:
        print_json({"lang": code, "detected": detected.lang, "topics": [asdict(e) for e in found]})
        return
    how = "given" if lang else f"detected, {detected.confidence:.2f}"
    console.print(f"language: [bold]{code}[/] ({how})")
    for e in found:
        mark = "[green]matched[/]" if e.matched else "[red]no[/]"
        read = ", ".join(e.languages[:8]) + ("..." if len(e.languages) > 8 else "")
        console.print(f"[bold]{e.topic}[/]: {mark} (score {e.score:g}; rules read: {read})")
        for ev in e.evidence[:10]:
            console.print(
                f"  + {ev['text']!r} in {ev['field']} [{ev['start']}:{ev['end']}] "
                f"(term {ev['term']!r})",
                markup=False,
            )
        for note in e.notes:
            console.print(f"  - {note}", markup=False)


@app.command("reload")
def reload(
    taxonomy: Path | None = TAXONOMY,
    url: str | None = typer.Option(
        None, "--url", help="The worker's health endpoint (default: from the settings)."
    ),
) -> None:
    """Check the taxonomy file, then ask the running worker to read it at its next batch
    (it also notices a changed file by itself, every taxonomy_check_seconds)."""
    settings = get_settings()
    path = taxonomy or settings.taxonomy_path
    topics = Tagger(load_taxonomy(path)).topic_ids  # a broken file stops here, with its line
    host = "127.0.0.1" if settings.health_bind in ("0.0.0.0", "::") else settings.health_bind
    target = url or f"http://{host}:{settings.worker_metrics_port}"
    try:
        response = httpx.post(f"{target.rstrip('/')}/reload", timeout=5.0)
    except httpx.HTTPError as exc:
        raise StackError(
            f"the taxonomy is valid ({', '.join(topics)}), but no worker answered at "
            f"{target}: {type(exc).__name__}"
        ) from exc
    if response.status_code != 202:
        raise StackError(f"{target}/reload answered {response.status_code}")
    console.print(f"worker at {target} reloads the taxonomy at its next batch: {', '.join(topics)}")
