"""`mediamon status`: services, consumer lag, indices, dead letters and feeds on one screen."""

from __future__ import annotations

import asyncio

import typer

from mediamon.output import console, print_json, print_table
from mediamon.probes import collect
from pipeline.settings import get_settings


def status(as_json: bool = typer.Option(False, "--json", help="One JSON object.")) -> None:
    """Exit status 1 when a service is unreachable (for scripts and health checks)."""
    report = asyncio.run(collect(get_settings()))
    if as_json:
        print_json(report.as_dict())
    else:
        print_table(
            "services",
            ["service", "reachable", "detail"],
            [
                [s["service"], "yes" if s["reachable"] else "NO", s["detail"]]
                for s in report.services
            ],
        )
        print_table(
            f"consumer lag: {sum(r['lag'] for r in report.lag)} messages",
            ["topic", "partition", "end offset", "committed", "lag"],
            [[r["topic"], r["partition"], r["end"], r["committed"], r["lag"]] for r in report.lag],
        )
        print_table(
            f"indices: {sum(i['docs'] for i in report.indices)} documents",
            ["index", "documents", "size (MB)", "health"],
            [
                [i["index"], i["docs"], f"{i['size_bytes'] / 1e6:.1f}", i["health"]]
                for i in report.indices
            ],
        )
        print_table(
            f"dead letters: {sum(report.dead_letters.values())}",
            ["topic", "messages"],
            list(report.dead_letters.items()),
        )
        last = report.last_alert
        console.print(
            f"last alert: {last['handled_at'][:19]} {last['rule_id']} ({last['status']}): "
            f"{last['title'][:60]}"
            if last
            else "last alert: none yet",
            markup=False,
        )
        console.print(report.rules, markup=False)
        if report.alerts_failed:
            console.print(f"alerts not delivered (kept, status failed): {report.alerts_failed}")
        if report.pages is not None:
            pages = report.pages
            problems = ", ".join(f"{k} {v}" for k, v in pages["page_problems"].items())
            console.print(
                f"article pages (indexed in the last {pages['since']}): "
                f"{pages['full_text_from_page']} with full text from the page, "
                f"{pages['feed_text_only']} with the feed's text"
                f"{' (' + problems + ')' if problems else ''}",
                markup=False,
            )
        if report.feeds is None:
            console.print("feeds: no connector state on this machine")
        else:
            f = report.feeds
            console.print(
                f"feeds: {f['feeds']} polled, {f['failing']} failing"
                f"{' (' + ', '.join(f['failing_ids']) + ')' if f['failing'] else ''}, "
                f"{f['items_emitted']} items emitted, last success {f['last_success'] or '-'}"
            )
    if not report.healthy:
        raise typer.Exit(1)
