"""Per-key ordering and cross-key concurrency of batch handling (the alerts agent's)."""

from __future__ import annotations

import asyncio

from pipeline.agents.events import by_key_concurrently


async def test_one_key_in_order_keys_concurrently_within_the_limit() -> None:
    log: list[tuple[str, str, int]] = []
    running = 0
    peak = 0

    async def handle(item: tuple[str, int]) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        log.append(("start", *item))
        await asyncio.sleep(0.02)
        log.append(("end", *item))
        running -= 1
        return f"{item[0]}{item[1]}"

    items = [(k, n) for n in range(3) for k in "abcde"]  # interleaved keys
    results = await by_key_concurrently(items, key=lambda i: i[0], handle=handle, limit=3)

    assert results == [f"{k}{n}" for k, n in items]  # given order, whatever the schedule
    for k in "abcde":  # each key strictly in order: one ends before its next starts
        mine = [(what, n) for what, key, n in log if key == k]
        assert mine == [
            ("start", 0),
            ("end", 0),
            ("start", 1),
            ("end", 1),
            ("start", 2),
            ("end", 2),
        ]
    # never more keys at once than the limit, and as many as it allows: concurrency shown
    # by overlap, not by a wall-clock bound a loaded machine can break (0.21 s once)
    assert peak == 3


async def test_empty_batch() -> None:
    async def handle(item: int) -> int:
        return item

    assert await by_key_concurrently([], key=lambda i: i, handle=handle, limit=4) == []
