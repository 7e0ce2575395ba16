"""The one failure model of every agent: a message ends processed, retried later through its
stage's retry topic (transient failures, capped exponential backoff), or dead-lettered
(permanent failures, or retries exhausted) with the stage, error and attempt count.

Attempts travel in the message's headers, so a retried message carries its history to the
stage (and, in the end, to the dead-letter topic) and `mediamon dlq show` can tell it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import httpx
from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

from pipeline.errors import PermanentError, ShutdownRequested, TransientError

ATTEMPT = "mediamon-attempt"  # this delivery of the message to its stage: 1, 2, ...
RETRY_AT = "mediamon-retry-at"  # epoch seconds before which the retry waits
ORIGIN = "mediamon-origin"  # the topic a retried message goes back to
Headers = Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None
Verdict = Literal["retry", "dead-letter"]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # deliveries to the stage before dead-lettering a transient failure
    base_seconds: float = 2.0
    max_seconds: float = 120.0

    def delay(self, attempt: int) -> float:
        """Wait before delivery `attempt + 1`, after delivery `attempt` failed."""
        return float(min(self.max_seconds, self.base_seconds * 2.0 ** max(attempt - 1, 0)))

    def verdict(self, error: BaseException, attempt: int) -> Verdict:
        if is_transient(error) and attempt < self.attempts:
            return "retry"
        return "dead-letter"


def never() -> bool:
    return False


async def pause(seconds: float, stopping: Callable[[], bool] = never) -> None:
    """Sleep between retries, but give up at once when the worker is stopping or
    rebalancing: a retry loop waiting for a server that is away must not hold the shutdown
    or the rebalance (its batch stays unacknowledged, so the next owner of the partition
    takes it up)."""
    deadline = time.monotonic() + seconds
    while not stopping():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(left, 0.25))
    raise ShutdownRequested("the worker is stopping or rebalancing while a server is away")


def is_transient(error: BaseException) -> bool:
    """Whether the same message may succeed later: a server away, a timeout, a 429 or 5xx.
    Anything else (a bad record, a refused mapping, a bug) fails the same way again."""
    if isinstance(error, TransientError):
        return True
    if isinstance(error, PermanentError):
        return False
    if isinstance(error, ESConnectionError | ConnectionTimeout | httpx.TransportError):
        return True
    if isinstance(error, ApiError):
        return error.meta.status == 429 or error.meta.status >= 500
    return isinstance(error, ConnectionError | TimeoutError)


def _pairs(headers: Headers) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def header(headers: Headers, name: str) -> bytes | None:
    return next((v for k, v in _pairs(headers) if k == name), None)


def attempt_of(headers: Headers) -> int:
    raw = header(headers, ATTEMPT)
    try:
        return max(int(raw or b"1"), 1)
    except ValueError:
        return 1


def retry_headers(
    headers: Headers, origin: str, attempt: int, delay: float, now: float | None = None
) -> list[tuple[str, bytes]]:
    """The message's own headers with the next attempt, when it is due and where it goes."""
    due = (time.time() if now is None else now) + delay
    kept = [(k, v) for k, v in _pairs(headers) if k not in (ATTEMPT, RETRY_AT, ORIGIN)]
    return [
        *kept,
        (ATTEMPT, str(attempt + 1).encode()),
        (RETRY_AT, f"{due:.3f}".encode()),
        (ORIGIN, origin.encode()),
    ]


def due_in(headers: Headers, now: float | None = None) -> float:
    """Seconds until a retried message is due (0 when due, or when it carries no time)."""
    raw = header(headers, RETRY_AT)
    try:
        due = float(raw) if raw else 0.0
    except ValueError:
        return 0.0
    return max(0.0, due - (time.time() if now is None else now))
