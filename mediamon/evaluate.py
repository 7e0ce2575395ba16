"""`mediamon eval FILE`: precision, recall and F1 per topic and language accuracy on a
labeled JSONL file, for mediamon and its peers."""

from __future__ import annotations

from pathlib import Path

import typer

from mediamon.output import console, print_json, print_table
from pipeline.evaluation import (
    LangScore,
    Report,
    keyword_peer,
    load_labeled,
    mediamon_predictor,
    py3langid_peer,
    score,
)
from pipeline.stages.enrich import Enricher


def eval_command(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Labeled JSON Lines."),
    peers: bool = typer.Option(True, help="Also score the keyword list and py3langid."),
    as_json: bool = typer.Option(False, "--json"),
    show_errors: int = typer.Option(0, "--errors", help="List up to N wrong decisions."),
    headlines: bool = typer.Option(
        False, "--headlines", help="Score each item on its title alone (labels unchanged)."
    ),
    by_lang: bool = typer.Option(False, "--by-lang", help="Also a table per language."),
) -> None:
    """Score topic tagging and language detection against the labels `topics` and `lang`."""
    items = load_labeled(path, headlines=headlines)
    enricher = Enricher.from_path()
    topic_ids = enricher.tagger.topic_ids

    reports = [score("mediamon", items, mediamon_predictor(enricher), topic_ids)]
    if peers:
        reports.append(score("keyword list", items, keyword_peer, topic_ids))
        reports.append(score("py3langid", items, py3langid_peer, topic_ids))
    if as_json:
        print_json([r.as_dict() for r in reports])
        return
    rows = []
    for report in reports:
        for topic_id, s in report.topics.items():
            if s.tp + s.fp + s.fn:
                rows.append(
                    [
                        report.system,
                        topic_id,
                        f"{s.precision:.3f}",
                        f"{s.recall:.3f}",
                        f"{s.f1:.3f}",
                        s.tp,
                        s.fp,
                        s.fn,
                    ]
                )
    print_table(
        f"topics ({len(items)} items)", ["system", "topic", "P", "R", "F1", "tp", "fp", "fn"], rows
    )

    def accuracy(s: LangScore) -> str:
        return f"{s.accuracy:.4f} ({s.total})" if s.total else "- (0)"  # not a perfect score

    lang_rows = [
        [r.system, accuracy(r.lang_long), accuracy(r.lang_short)]
        for r in reports
        if r.lang_long.total or r.lang_short.total
    ]
    print_table("language accuracy", ["system", "100+ chars", "shorter"], lang_rows)
    if by_lang:
        print_by_lang(reports, topic_ids)
    if show_errors:
        for report in reports[:1]:
            for line in (report.errors + report.lang_long.misses + report.lang_short.misses)[
                :show_errors
            ]:
                console.print(f"  {line}", highlight=False)


def print_by_lang(reports: list[Report], topic_ids: list[str]) -> None:
    """One row per language: each system's F1 per topic, and mediamon's language accuracy."""
    langs = sorted({lang for r in reports for lang in r.by_lang})
    rows = []
    for lang in langs:
        row: list[str] = [lang]
        for report in reports[:2]:  # mediamon and the keyword list (py3langid tags no topics)
            scores = report.by_lang.get(lang, {})
            row += [f"{scores[t].f1:.2f}" if t in scores else "-" for t in topic_ids]
        accuracy = reports[0].lang_by_lang.get(lang)
        row.append(f"{accuracy.accuracy:.2f}" if accuracy else "-")
        rows.append(row)
    # short headers so the table fits a terminal: mm = mediamon, kw = the keyword list
    short = {"mediamon": "mm", "keyword list": "kw"}
    systems = [short.get(r.system, r.system[:4]) for r in reports[:2]]
    columns = ["lang", *(f"{s} {t[:6]}" for s in systems for t in topic_ids), "lang acc"]
    print_table("per language (F1)", columns, rows)
