"""Helpers for agents that take events in batches (`take_events`)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from faust.streams import _current_event

T = TypeVar("T")
R = TypeVar("R")


def as_current(event: Any) -> None:
    """Make `event` Faust's current event in this task. take_events buffers in the background,
    so the current event is not the one being handled; a table write needs it to pick the
    changelog partition (the event's own)."""
    _current_event.set(weakref.ref(event))


async def by_key_concurrently(
    items: Iterable[T],
    key: Callable[[T], Hashable],
    handle: Callable[[T], Awaitable[R]],
    limit: int,
) -> list[R]:
    """Handle items of one key in order, items of different keys concurrently (at most `limit`
    keys at a time). Results come back in the order the items were given. Each key runs in
    its own task, so `as_current` in one never affects another."""
    groups: dict[Hashable, list[tuple[int, T]]] = {}
    for n, item in enumerate(items):
        groups.setdefault(key(item), []).append((n, item))
    gate = asyncio.Semaphore(limit)

    async def run(group: list[tuple[int, T]]) -> list[tuple[int, R]]:
        async with gate:
            return [(n, await handle(item)) for n, item in group]

    done = await asyncio.gather(*(run(g) for g in groups.values()))
    return [result for _, result in sorted((p for g in done for p in g), key=lambda p: p[0])]


@contextmanager
def unacked_unless_done(events: Sequence[Any]) -> Iterator[None]:
    """Leave a batch unacknowledged when its handling is interrupted (the agent cancelled at
    shutdown or a rebalance, e.g. while Elasticsearch is down and the batch waits for it).

    take_events acknowledges its batch in a `finally` after the `yield`, which also runs
    when the generator is closed after the agent was cancelled mid-batch: the offsets of
    articles never indexed would be committed. Marking the messages acked *without* telling
    the consumer makes that late acknowledgement a no-op, so their offsets are never marked
    safe to commit and the next owner of the partition reads them again."""
    try:
        yield
    except BaseException:
        for event in events:
            event.message.acked = True
        raise
