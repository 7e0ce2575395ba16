"""The failure model: which errors are retried, the backoff, the attempt headers."""

from __future__ import annotations

import httpx
import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, HttpHeaders, NodeConfig
from elasticsearch import ApiError
from pydantic import ValidationError

from pipeline.errors import BadRecordError, SchemaVersionError, TransientError
from pipeline.failures import (
    ATTEMPT,
    RETRY_AT,
    RetryPolicy,
    attempt_of,
    due_in,
    is_transient,
    retry_headers,
)
from pipeline.schema import RawArticle


def api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.01, NodeConfig("http", "h", 9200))
    return ApiError("error", meta, {})


def validation_error() -> ValidationError:
    with pytest.raises(ValidationError) as info:
        RawArticle.model_validate({"id": ""})
    return info.value


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientError("x"), True),
        (ConnectionError("refused"), True),
        (httpx.ConnectTimeout("slow"), True),
        (api_error(429), True),
        (api_error(503), True),
        (TimeoutError(), True),
        (api_error(400), False),
        (BadRecordError("not json"), False),
        (SchemaVersionError("schema 9"), False),
        (validation_error(), False),
        (KeyError("bug"), False),  # a bug fails the same way again: dead-letter, fix, replay
    ],
)
def test_classification(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_backoff_doubles_up_to_the_cap_and_attempts_run_out() -> None:
    policy = RetryPolicy(attempts=4, base_seconds=2, max_seconds=5)
    assert [policy.delay(a) for a in (1, 2, 3, 4)] == [2, 4, 5, 5]
    assert policy.verdict(TransientError("x"), 1) == "retry"
    assert policy.verdict(TransientError("x"), 3) == "retry"
    assert policy.verdict(TransientError("x"), 4) == "dead-letter"  # the fourth delivery failed
    assert policy.verdict(BadRecordError("x"), 1) == "dead-letter"


def test_attempt_headers_travel_with_the_message() -> None:
    assert attempt_of(None) == 1 and attempt_of([(ATTEMPT, b"junk")]) == 1
    original = [("trace", b"abc")]
    first = retry_headers(original, "articles.enriched", 1, 10.0, now=1000.0)
    assert attempt_of(first) == 2 and ("trace", b"abc") in first
    assert due_in(first, now=1004.0) == pytest.approx(6.0)
    second = retry_headers(first, "articles.enriched", 2, 20.0, now=1010.0)
    assert attempt_of(second) == 3
    assert [k for k, _ in second].count(ATTEMPT) == 1  # replaced, not appended
    assert due_in(dict(second), now=2000.0) == 0.0  # overdue: now
    assert due_in([(RETRY_AT, b"bad")]) == 0.0
