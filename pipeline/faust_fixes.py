"""A fix for faust-streaming 0.15.3 that at-least-once delivery depends on (applied by
pipeline.app before the app exists).

After every rebalance (a worker's start included) Faust's table recovery ends by resuming
the stream partitions, then seeking them to their committed offsets, then resuming the flow.
That order lost messages (docs/fault-injection.md, "restart loss and stall"):

1. Between the resume and the end of the seek (~0.2 s) the fetcher delivers messages from the
   consumer's old position into the streams' queues (1,500 in one diagnostic run).
2. The seek sets each partition's read offset back to the committed offset, but the fetch
   loop, still inside its batch from before the seek, stores each further message's offset
   as the read offset again.
3. Resuming the flow clears the streams' queues: what step 1 queued is dropped, and when the
   fetcher reads those messages again it discards them as already read. Nothing acknowledges
   them, so the partition's commits stop there for good (the stall: a restarted worker left
   975 of 20,000 articles unindexed), or, when one message is missing, Faust's head-gap check
   (it lets a one-offset gap through) commits past it (the loss: 1 or 2 articles).

The fix keeps the stream partitions paused until the seek has ended, so no message reaches a
stream before it; and a partition with no committed offset (which the seek leaves where the
consumer happened to be) is sought to its beginning, as a fresh consumer would start.

A second race made a restarted worker idle with its partitions unread (3 of ~12 graceful
restarts): the fetch is given the *live* set of active partitions, which the consumer
thread reads while the main thread changes it. Emptied by the pause at the end of
recovery, aiokafka took it as "no filter" and returned every partition's records (its
positions moved to the end), and Faust then dropped them as not active. Nothing was
acknowledged or fetched again: aiokafka's positions were at the end, the committed offsets
at the start. The fetch now asks for a snapshot of the set (never empty: no fetch then).

Filtering the fetched records by that snapshot too (the first version of this fix) let a
third race through: a fetch that a rebalance overlapped (aiokafka waits for the new
assignment) returned records of the new assignment after recovery had resumed the flow,
and the stale snapshot let them through although their partitions were paused. The worker
handled them during the recovery, then the seek to the committed offsets gave them to it
again, and the recovery's restore had meanwhile overwritten what the first pass wrote to
the alert table: alerts sent twice (4 and 20 duplicates in a rebalance, CI of b6448c5). The
records are now filtered by the live set, as Faust does, and a fetch that overlapped a
rebalance (the generation changed) delivers nothing; the recovery seeks those partitions.
"""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import version
from typing import Any, cast

from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)
CHECKED_VERSION = "0.15.3"  # the faust-streaming whose recovery code this replaces


async def _seek_stream_partitions(recovery: Any, stream_tps: set[Any]) -> None:
    consumer = recovery.app.consumer
    # Faust delivers a paused partition whose stream buffer was full ("buffered") anyway
    consumer._buffered_partitions.difference_update(stream_tps)
    await recovery._wait(consumer.perform_seek(), timeout=recovery.app.conf.broker_request_timeout)
    # aiokafka's seek_to_committed leaves a partition without a commit (or at 0) untouched
    fresh = {tp: 0 for tp in stream_tps if not consumer._committed_offset.get(tp)}
    if fresh:
        await recovery._wait(
            consumer.seek_wait(fresh), timeout=recovery.app.conf.broker_request_timeout
        )


async def _resume_streams(self: Any, generation_id: int = 0) -> None:
    """Recovery._resume_streams (no tables), seeking before resuming."""
    app = self.app
    consumer = app.consumer
    await app.on_rebalance_complete.send()
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning("Recovery rebalancing again")
        return
    if assignment:
        stream_tps = {tp for tp in assignment if not self._is_changelog_tp(tp)}
        self.log.info("Seek stream partitions to committed offsets.")
        await _seek_stream_partitions(self, stream_tps)
        consumer.resume_partitions(stream_tps)
    else:
        self.log.info("Resuming streams with empty assignment")
    self.completed.set()
    self.log.info("Resuming flow...")
    app.flow_control.resume()
    consumer.resume_flow()
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


async def on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """Recovery.on_recovery_completed, seeking before resuming."""
    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callback_coros = [
        asyncio.ensure_future(
            table.on_recovery_completed(
                self.actives_for_table[table], self.standbys_for_table[table]
            )
        )
        for table in self.tables.values()
    ]
    if callback_coros:
        await asyncio.wait(callback_coros)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning(
            f"Recovery rebalancing again app id "
            f"{self.app.consumer_generation_id} param {generation_id}"
        )
        return
    stream_tps = {tp for tp in assignment if not self._is_changelog_tp(tp)}
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await _seek_stream_partitions(self, stream_tps)
    consumer.resume_partitions(stream_tps)
    self.completed.set()
    self.app.flow_control.resume()
    consumer.resume_flow()
    await self.app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")


async def _wait_next_records(self: Any, timeout: float) -> tuple[Any, set[Any] | None]:  # noqa: ASYNC109
    """Consumer._wait_next_records: the fetch asks for a snapshot of the active partitions,
    the records are filtered against the live set after it, and a fetch that a rebalance
    overlapped delivers nothing."""
    if not self.flow_active:
        await self.wait(self.can_resume_flow)
    try:
        self.not_waiting_next_records.set()
        if self.app.client_only:
            return await self._getmany(active_partitions=None, timeout=timeout), None
        generation = self.app.consumer_generation_id
        asked = set(self._get_active_partitions())
        records: Any = {}
        if asked:
            records = await self._getmany(active_partitions=asked, timeout=timeout)
        else:
            await self.sleep(1)
        if self.app.consumer_generation_id != generation:
            # Fetched for partitions this worker may no longer own, from positions the
            # recovery seeks back anyway: handling them would process what is processed again.
            return {}, set()
        # getmany drops the records of partitions paused meanwhile (checked per record, live)
        live: set[Any] = self._get_active_partitions()
        return records, live
    finally:
        self.not_waiting_next_records.set()


def check_version(installed: str | None = None) -> None:
    """Refuse a faust-streaming other than the one these replacements were checked against:
    on another version they would silently replace different code (or miss a new race)."""
    installed = installed or version("faust-streaming")
    if installed != CHECKED_VERSION:
        raise ConfigError(
            f"faust-streaming {installed} is installed, but pipeline/faust_fixes.py replaces "
            f"methods of {CHECKED_VERSION} (at-least-once delivery depends on them). Install "
            f"faust-streaming=={CHECKED_VERSION} (requirements.lock), or compare "
            "faust/tables/recovery.py and faust/transport/consumer.py of the new version with "
            "the replaced methods, re-run the fault suite, then raise CHECKED_VERSION"
        )


def apply() -> None:
    """Check the installed faust-streaming, then replace its three racy methods (idempotent)."""
    check_version()
    recovery = cast(Any, Recovery)
    recovery._resume_streams = _resume_streams
    recovery.on_recovery_completed = on_recovery_completed
    cast(Any, Consumer)._wait_next_records = _wait_next_records
