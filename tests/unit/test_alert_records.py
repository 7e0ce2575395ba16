"""Alert records reach the alerts index whatever the bulk answer: a broken answer without the
records' results, or busy records (429), are written again; a mapping refusal is logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pipeline.alerts.store import index_alert_documents
from pipeline.errors import ShutdownRequested


class FakeBulk:
    """Answers bulk requests in turn from `answers` (a callable of the records' ids)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[list[str]] = []

    async def bulk(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        ids = [op["index"]["_id"] for op in operations[::2]]
        self.requests.append(ids)
        answer = self.answers.pop(0) if self.answers else ok
        result: dict[str, Any] = answer(ids)
        return result


def ok(ids: list[str]) -> dict[str, Any]:
    return {"errors": False, "items": [{"index": {"_id": i, "status": 201}} for i in ids]}


def garbled(ids: list[str]) -> dict[str, Any]:
    return {"took": 1, "errors": False}  # says nothing went wrong, yet holds no results


def first_busy(ids: list[str]) -> dict[str, Any]:
    items = [{"index": {"_id": i, "status": 201}} for i in ids]
    items[0] = {"index": {"_id": ids[0], "status": 429, "error": {"type": "es_rejected"}}}
    return {"errors": True, "items": items}


def first_refused(ids: list[str]) -> dict[str, Any]:
    items = [{"index": {"_id": i, "status": 201}} for i in ids]
    items[0] = {"index": {"_id": ids[0], "status": 400, "error": {"type": "mapper_parsing"}}}
    return {"errors": True, "items": items}


DOCS = [{"_id": "r:a1", "status": "sent"}, {"_id": "r:a2", "status": "sent"}]


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_wait(seconds: float, stopping: Any = None) -> None:
        if stopping is not None and stopping():
            raise ShutdownRequested("stopping")

    monkeypatch.setattr("pipeline.alerts.store.pause", no_wait)


async def test_an_answer_without_results_is_sent_again() -> None:
    es = FakeBulk(garbled)
    await index_alert_documents(es, "alerts", DOCS)  # type: ignore[arg-type]
    assert es.requests == [["r:a1", "r:a2"], ["r:a1", "r:a2"]]


async def test_a_busy_record_is_sent_again_alone() -> None:
    es = FakeBulk(first_busy)
    await index_alert_documents(es, "alerts", DOCS)  # type: ignore[arg-type]
    assert es.requests == [["r:a1", "r:a2"], ["r:a1"]]


async def test_a_refused_record_is_logged_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    es = FakeBulk(first_refused)
    with caplog.at_level(logging.WARNING, "pipeline.alerts.store"):
        await index_alert_documents(es, "alerts", DOCS)  # type: ignore[arg-type]
    assert es.requests == [["r:a1", "r:a2"]]
    assert "refused 1 records" in caplog.text and "mapper_parsing" in caplog.text


async def test_a_stopping_worker_gives_up_the_retries() -> None:
    es = FakeBulk(garbled, garbled, garbled)
    with pytest.raises(ShutdownRequested):  # the batch then stays unacknowledged
        await index_alert_documents(es, "alerts", DOCS, stopping=lambda: True)  # type: ignore[arg-type]
    assert len(es.requests) == 1
