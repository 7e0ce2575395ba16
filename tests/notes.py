"""A sample alert notification for the channel tests."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.alerts.channels.base import Notification, NotifiedArticle


def sample_note(
    note_id: str = "5f0c3a9e",
    title: str = "Astana talks",
    rule: tuple[str, str] = ("r1", "Astana"),
    kind: str = "alert",
) -> Notification:
    article = NotifiedArticle(
        id="a1",
        title=title,
        url="https://news.example/a1",
        source_name="News",
        domain="news.example",
        lang="en",
        story_id="a1",
    )
    return Notification(
        id=note_id,
        kind="digest" if kind == "digest" else "alert",
        rule_id=rule[0],
        rule_name=rule[1],
        articles=(article,),
        sent_at=datetime(2026, 11, 28, 12, tzinfo=UTC),
    )
