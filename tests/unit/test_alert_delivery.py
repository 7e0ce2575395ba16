"""Alert delivery without servers: once per article, once per story, throttle and digest,
retries, a dead channel, signatures, and secrets kept out of payloads and errors."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.alerts.channels.base import ID_HEADER
from pipeline.alerts.channels.webhook import SIGNATURE_HEADER, sign
from pipeline.alerts.delivery import AlertDeliverer, rule_of_window_key, window_key
from pipeline.alerts.matching import RulesFile
from pipeline.schema import AlertEvent
from pipeline.settings import Settings

RULES = """\
channels:
  hook:
    type: webhook
    url: https://hooks.example/in
    secret_env: MM_TEST_HOOK_SECRET
  chat:
    type: slack
    url_env: MM_TEST_SLACK_URL
rules:
  - id: astana
    name: Astana talks
    query: Astana
    channels: [hook]
    throttle: {max: 2, window: 10m}
  - id: both
    query: Syria
    channels: [hook, chat]
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Receiver:
    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.fail = fail or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if self.fail.get(host, 0) > 0:
            self.fail[host] -= 1
            return httpx.Response(503)
        self.requests.append(request)
        return httpx.Response(200)

    def bodies(self, host: str = "hooks.example") -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.host == host]


def make(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, attempts: int = 3
) -> tuple[AlertDeliverer, dict[str, Any], Clock]:
    monkeypatch.setenv("MM_TEST_HOOK_SECRET", "s3cret-key")
    monkeypatch.setenv("MM_TEST_SLACK_URL", "https://slack.example/services/T0/B0/tok3n")
    (tmp_path / "rules.yaml").write_text(RULES)
    state: dict[str, Any] = {}
    clock = Clock()

    async def no_sleep(_: float) -> None:
        return None

    deliverer = AlertDeliverer(
        Settings(alert_delivery_attempts=attempts),
        RulesFile(tmp_path / "rules.yaml"),
        state,
        httpx.AsyncClient(transport=httpx.MockTransport(receiver)),
        clock=clock,
        sleep=no_sleep,
    )
    return deliverer, state, clock


def event(rule: str, article: str, story: str | None = None, source: str = "Vestnik") -> AlertEvent:
    return AlertEvent(
        id=f"{rule}:{article}",
        rule_id=rule,
        rule_name=rule,
        article_id=article,
        story_id=story or article,
        title=f"Title {article}",
        url=f"https://news.example/{article}",
        source_name=source,
        lang="ru",
        channels=["hook"] if rule == "astana" else ["hook", "chat"],
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_once_per_article_signed_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    deliverer, _, _ = make(tmp_path, receiver, monkeypatch)
    first = run(deliverer.handle(event("astana", "a1")))
    again = run(deliverer.handle(event("astana", "a1")))  # re-delivered after a restart
    assert (first.status, again.status) == ("sent", "duplicate")
    (request,) = receiver.requests
    assert request.headers[SIGNATURE_HEADER] == sign("s3cret-key", request.content)
    body = json.loads(request.content)
    assert body["kind"] == "alert" and body["articles"][0]["url"] == "https://news.example/a1"
    assert "s3cret" not in request.content.decode()
    assert first.documents[0]["_id"] == "astana:a1" and first.documents[0]["status"] == "sent"
    # a stable id in body and header: a receiver can drop a notification it already has
    assert request.headers[ID_HEADER] == body["id"] and len(body["id"]) == 32
    fresh, _, _ = make(tmp_path, receiver, monkeypatch)  # memory lost: sent again, same id
    run(fresh.handle(event("astana", "a1")))
    assert receiver.requests[-1].headers[ID_HEADER] == body["id"]


def test_story_copies_notify_once_and_are_listed_in_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    deliverer, _, clock = make(tmp_path, receiver, monkeypatch)
    assert run(deliverer.handle(event("astana", "a1", story="s1"))).status == "sent"
    copy = run(deliverer.handle(event("astana", "a2", story="s1", source="Wire")))
    assert copy.status == "story_copy" and len(receiver.requests) == 1
    clock.now += timedelta(minutes=11)
    assert deliverer.due("astana")
    digest = run(deliverer.flush("astana"))
    assert digest is not None and digest.status == "sent"
    body = receiver.bodies()[-1]
    assert body["kind"] == "digest"
    assert body["articles"][0]["also_reported_by"] == ["Wire"]


def test_throttle_folds_the_rest_into_one_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    deliverer, _, clock = make(tmp_path, receiver, monkeypatch)
    statuses = [run(deliverer.handle(event("astana", f"a{n}"))).status for n in range(6)]
    assert statuses == ["sent", "sent", "throttled", "throttled", "throttled", "throttled"]
    assert not deliverer.due("astana")  # the window is still open
    clock.now += timedelta(minutes=10)
    # the next event closes the window: digest of the four first, then it opens a new one
    outcome = run(deliverer.handle(event("astana", "a9")))
    assert outcome.status == "sent"
    kinds = [b["kind"] for b in receiver.bodies()]
    assert kinds == ["alert", "alert", "digest", "alert"]
    assert [a["id"] for a in receiver.bodies()[2]["articles"]] == ["a2", "a3", "a4", "a5"]
    assert {d["status"] for d in outcome.documents} == {"digest", "sent"}


def test_retries_then_a_dead_channel_keeps_the_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Receiver(fail={"hooks.example": 2})
    deliverer, _, _ = make(tmp_path, flaky, monkeypatch, attempts=3)
    assert run(deliverer.handle(event("astana", "a1"))).status == "sent"  # third attempt

    dead = Receiver(fail={"hooks.example": 99})
    deliverer, _, _ = make(tmp_path, dead, monkeypatch, attempts=3)
    outcome = run(deliverer.handle(event("astana", "a1")))
    assert outcome.status == "failed" and "503" in (outcome.error or "")
    assert outcome.documents[0]["status"] == "failed"
    # not marked sent: a replay from the dead-letter topic will deliver it
    assert deliverer._memory("astana", "a", "a1") == "failed"
    dead.fail = {}
    assert run(deliverer.handle(event("astana", "a1"))).status == "sent"


def test_a_channel_that_worked_is_not_repeated_when_another_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(fail={"slack.example": 99})
    deliverer, _, _ = make(tmp_path, receiver, monkeypatch, attempts=2)
    failed = run(deliverer.handle(event("both", "x1")))
    assert failed.status == "failed"
    assert "tok3n" not in (failed.error or "") and "slack.example" in (failed.error or "")
    receiver.fail = {}
    assert run(deliverer.handle(event("both", "x1"))).status == "sent"
    hosts = [r.url.host for r in receiver.requests]
    assert hosts == ["hooks.example", "slack.example"]  # the webhook got it once


def test_missing_secret_fails_without_retrying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    deliverer, _, _ = make(tmp_path, receiver, monkeypatch)
    monkeypatch.delenv("MM_TEST_HOOK_SECRET")
    outcome = run(deliverer.handle(event("astana", "a1")))
    assert outcome.status == "failed" and "MM_TEST_HOOK_SECRET is not set" in (outcome.error or "")
    assert receiver.requests == []


def test_the_memory_of_sent_alerts_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    deliverer, state, clock = make(tmp_path, receiver, monkeypatch)
    assert run(deliverer.handle(event("astana", "a1"))).status == "sent"
    clock.now += timedelta(days=1)
    assert run(deliverer.handle(event("astana", "a1"))).status == "duplicate"  # still known
    for day in range(9):  # one alert a day for nine days
        clock.now += timedelta(days=1, minutes=20)
        run(deliverer.handle(event("astana", f"d{day}")))
    days = [k for k in state if k.startswith("seen:astana:")]
    assert len(days) <= 8, days  # a day older than the memory is dropped


def test_a_transient_failure_asks_for_a_retry_until_the_last_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = Receiver(fail={"hooks.example": 99})
    deliverer, _, _ = make(tmp_path, dead, monkeypatch, attempts=1)
    early = run(deliverer.handle(event("astana", "a1"), last_attempt=False))
    assert early.status == "retry" and early.documents[0]["status"] == "retrying"
    last = run(deliverer.handle(event("astana", "a1"), last_attempt=True))
    assert last.status == "failed" and last.documents[0]["status"] == "failed"
    dead.fail = {}
    assert run(deliverer.handle(event("astana", "a1"), last_attempt=False)).status == "sent"
    assert len(dead.requests) == 1  # delivered once, when the endpoint came back


def test_a_misconfigured_channel_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    deliverer, _, _ = make(tmp_path, receiver, monkeypatch)
    monkeypatch.delenv("MM_TEST_HOOK_SECRET")
    outcome = run(deliverer.handle(event("astana", "a1"), last_attempt=False))
    assert outcome.status == "failed"  # retrying cannot set the variable


def test_the_rules_due_for_a_digest_come_from_the_window_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    deliverer, state, clock = make(tmp_path, receiver, monkeypatch)
    assert window_key("astana") == "window:astana"
    assert rule_of_window_key("window:astana") == "astana"
    assert rule_of_window_key("seen:astana:2026-11-28") is None
    assert rule_of_window_key(b"window:astana") is None
    statuses = [run(deliverer.handle(event("astana", f"a{n}"))).status for n in range(3)]
    assert statuses == ["sent", "sent", "throttled"]
    run(deliverer.handle(event("both", "x1")))  # a window with nothing pending
    assert list(deliverer.due_rules()) == []  # windows still open
    clock.now += timedelta(minutes=11)
    assert list(deliverer.due_rules()) == ["astana"]
    assert "window:both" in state
