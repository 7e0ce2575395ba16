"""`mediamon dlq list|show|replay`: inspect dead letters and send them back after a fix."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import typer

from mediamon.output import console, err_console, print_json, print_table
from mediamon.search import parse_since
from pipeline import topics
from pipeline.adapters.kafka import make_producer
from pipeline.deadletters import commit_positions, read_topic
from pipeline.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Dead-letter topics: inspect and replay.")

TOPIC_OPT = typer.Option(
    [], "--topic", help="articles.raw.dlq, articles.enriched.dlq or alerts.dlq (default: all)."
)
SINCE_OPT = typer.Option(None, "--since", help="Only newer than e.g. 1h, 7d.")


def _topics(names: list[str]) -> list[str]:
    settings = get_settings()
    dlqs = topics.DEAD_LETTERS
    unknown = [n for n in names if n not in dlqs]
    if unknown:
        raise typer.BadParameter(f"not a dead-letter topic: {', '.join(unknown)}; one of {dlqs}")
    return [settings.topic(n) for n in names or dlqs]


def _since_ms(since: str | None) -> int | None:
    return int(parse_since(since).timestamp() * 1000) if since else None


def _read(names: list[str], since: str | None, group: str | None = None) -> list[Any]:
    settings = get_settings()

    async def run() -> list[Any]:
        out: list[Any] = []
        for topic in _topics(names):
            out += await read_topic(settings, topic, since_ms=_since_ms(since), group=group)
        return out

    return asyncio.run(run())


def _row(d: Any) -> dict[str, Any]:
    return {
        "ref": d.ref,
        "time": datetime.fromtimestamp(d.timestamp_ms / 1000, UTC).isoformat(),
        "key": (d.key or b"").decode("utf-8", "replace"),
        "stage": d.headers.get("mediamon-stage"),
        "error_class": d.headers.get("mediamon-error-class"),
        "error": d.headers.get("mediamon-error"),
        "source": d.headers.get("mediamon-source"),
        "attempts": int(d.headers.get("mediamon-attempt") or 1),
        "bytes": len(d.value or b""),
    }


@app.command("list")
def list_letters(
    topic: list[str] = TOPIC_OPT,
    since: str | None = SINCE_OPT,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every dead letter: where it came from, the stage, the error class and message, and
    how many times its stage tried it."""
    letters = _read(topic, since)
    if as_json:
        for d in letters:
            print_json(_row(d))
        return
    print_table(
        f"{len(letters)} dead letters",
        ["ref", "time", "stage", "error", "attempts", "source", "bytes"],
        [
            [
                r["ref"],
                r["time"][:19],
                r["stage"],
                f"{r['error_class']}: {r['error']}"[:80],
                r["attempts"],
                r["source"],
                r["bytes"],
            ]
            for r in map(_row, letters)
        ],
    )


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="TOPIC/PARTITION/OFFSET as `dlq list` prints."),
) -> None:
    """One dead letter in full: headers and the original payload."""
    letters = [d for d in _read([], None) if d.ref == ref]
    if not letters:
        err_console.print(f"no dead letter {ref}")
        raise typer.Exit(1)
    letter = letters[0]
    row = _row(letter)
    try:
        row["payload"] = json.loads(letter.value or b"")
    except ValueError:
        row["payload"] = (letter.value or b"").decode("utf-8", "replace")
    row["headers"] = letter.headers
    console.print_json(json.dumps(row, ensure_ascii=False, default=str))


@app.command("replay")
def replay(
    topic: list[str] = TOPIC_OPT,
    since: str | None = SINCE_OPT,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be sent."),
    again: bool = typer.Option(
        False, "--again", help="Also what an earlier replay sent (default: only new ones)."
    ),
) -> None:
    """Send dead letters back to the topic they came from, unchanged (key and payload), to be
    processed again after a fix. Ids are idempotent downstream, so a replayed article is
    indexed once and an alert is delivered once. Each replay remembers how far it got."""
    settings = get_settings()
    group = f"{settings.app_id}-dlq-replay"
    letters = _read(topic, since, group=None if (again or since) else group)
    sendable = [d for d in letters if d.source_topic]
    for d in letters:
        if not d.source_topic:
            err_console.print(f"{d.ref}: no mediamon-source header, left where it is")
    if dry_run:
        for d in sendable:
            console.print(f"would send {d.ref} -> {d.source_topic}")
        return

    async def run() -> None:
        producer = make_producer(settings)
        await producer.start()
        try:
            for d in sendable:
                await producer.send_and_wait(
                    d.source_topic,
                    d.value,
                    key=d.key,
                    headers=[("mediamon-replayed-from", d.ref.encode())],
                )
        finally:
            await producer.stop()
        await commit_positions(settings, group, letters)

    asyncio.run(run())
    console.print(f"replayed {len(sendable)} of {len(letters)} dead letters")
