"""One session: sources -> per-runner stages -> bus -> sinks, owned by one task group.

Shutdown is data-driven: ``stop`` cancels only the source pumps; the runners then drain their
input, flush their stages, the bus closes, and every sink drains and flushes before
``run`` returns. Nothing already accepted from a source is thrown away on the way out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from sensorkit.model import BusItem, MarkerKind, SampleBlock, SessionInfo, SessionMarker, SourceItem
from sensorkit.pipeline.bus import Bus
from sensorkit.pipeline.channel import Channel, ChannelStats, OverflowPolicy
from sensorkit.pipeline.coalesce import coalesce
from sensorkit.pipeline.contracts import RecordStage, Sink
from sensorkit.sources.base import Source

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SessionStats:
    """Counters a status page needs: queue fills and drops, and errors that were survived."""

    channels: list[ChannelStats] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)
    coalesced: int = 0
    """Queued sample blocks joined to the block before them because a runner had fallen behind."""


def run_stages(stages: Sequence[RecordStage], item: BusItem | None) -> list[BusItem]:
    """Pass ``item`` (or, if None, the end of stream) through the stages in order.

    Each stage sees the item and every record the earlier stages made from it.
    """
    out: list[BusItem] = [] if item is None else [item]
    for stage in stages:
        if len(out) == 1 and item is not None:  # most items: nothing made yet, no list to collect into
            out.extend(stage.update(item))
            continue
        made: list[BusItem] = []
        for x in out:
            made.extend(stage.update(x))
        if item is None:
            made.extend(stage.finish())
        out.extend(made)
    return out


class Session:
    """Runs sources, per-runner stages and sinks until the sources end or ``stop`` is set."""

    def __init__(
        self,
        info: SessionInfo,
        sources: Sequence[Source],
        stages: Mapping[str, Sequence[RecordStage]],
        sinks: Sequence[Sink],
        *,
        input_queue_size: int = 256,
        hand_over_s: float = 10.0,
        coalesce_s: float = 0.0,
    ) -> None:
        """Sources, per-runner stages and sinks of ``info``'s runners.

        ``coalesce_s`` > 0 lets a runner that fell behind join each sensor's queued blocks, up
        to that span (:mod:`sensorkit.pipeline.coalesce`): only for stages whose records do not
        depend on where blocks end, as the metrics' do not up to half their ``stale_s``.
        """
        self.info = info
        self._coalesce_s = coalesce_s
        self._coalesced = 0
        self._hand_over_s = hand_over_s
        self._sources = list(sources)
        self._stages = {r.name: list(stages.get(r.name, ())) for r in info.runners}
        self._sinks = list(sinks)
        self._bus = Bus()
        self._inputs: dict[str, Channel[SourceItem]] = {}
        for r in info.runners:
            # Backpressure here; sources with a live edge (BLE callbacks, ingest endpoints)
            # keep their own bounded queue that drops, counts and records the gap.
            self._inputs[r.name] = Channel(f"runner:{r.name}", input_queue_size, OverflowPolicy.BLOCK)
        self._input_of = {s.sensor_id: self._inputs[s.runner] for s in info.sensors if s.runner in self._inputs}
        """Each sensor's runner channel: one look-up per source item."""
        self._errors: Counter[str] = Counter()
        self._counts: Counter[str] = Counter()
        self._sink_channels: list[tuple[Sink, Channel[BusItem]]] = []
        self._last_time: dict[str, float] = {}

    def stats(self) -> SessionStats:
        chans = [c.stats() for c in self._inputs.values()] + self._bus.stats()
        return SessionStats(chans, Counter(self._errors), Counter(self._counts), self._coalesced)

    async def run(self, stop: asyncio.Event | None = None) -> SessionStats:
        stop = stop or asyncio.Event()
        async with AsyncExitStack() as stack:
            # Sources first: a sensor that cannot be reached fails the start before any sink
            # (a recording, a spool) has created anything. Nothing flows until the pumps start.
            for source in self._sources:
                await stack.enter_async_context(source)
            for sink in self._sinks:
                await stack.enter_async_context(sink)
                self._sink_channels.append(
                    (sink, self._bus.subscribe(sink.name, sink.accepts, sink.queue_size, sink.policy)))
            async with asyncio.TaskGroup() as tg:
                sink_tasks = [tg.create_task(self._run_sink(s, ch), name=f"sink:{s.name}")
                              for s, ch in self._sink_channels]
                runner_tasks = [tg.create_task(self._run_runner(name), name=f"runner:{name}")
                                for name in self._inputs]
                pumps = [tg.create_task(self._pump(src), name=f"source:{i}")
                         for i, src in enumerate(self._sources)]
                watcher = tg.create_task(self._watch(stop, pumps), name="stop-watcher")
                await _all_done(pumps)
                for ch in self._inputs.values():
                    ch.close()
                await _all_done(runner_tasks)
                watcher.cancel()
                self._bus.close()
                await _all_done(sink_tasks)
        return self.stats()

    async def _watch(self, stop: asyncio.Event, pumps: list[asyncio.Task[None]]) -> None:
        await stop.wait()
        log.info("stopping: closing sources, draining and flushing sinks")
        for p in pumps:
            p.cancel()

    async def _pump(self, source: Source) -> None:
        items = source.items()
        input_of = self._input_of
        in_hand: SourceItem | None = None
        try:
            try:
                async for item in items:
                    channel = input_of.get(getattr(item, "sensor_id", ""))
                    if channel is not None and channel.offer(item):
                        continue  # the common case, without a coroutine per item
                    in_hand = item
                    await self._route(item)
                    in_hand = None
            except asyncio.CancelledError:
                if in_hand is not None:  # the stop came while waiting for room: it was accepted
                    await self._route(in_hand)
                await self._hand_over(items)
        except Exception:
            self._errors["source_failed"] += 1
            log.exception("a source failed; the session goes on without it")

    async def _hand_over(self, items: AsyncIterator[SourceItem]) -> None:
        """After a stop, take what the source already accepted (reorder windows, queues).

        A source may catch the cancellation inside ``items()``, yield what it holds, then
        re-raise. If the pump (not the source) was suspended when the stop came, the
        cancellation is thrown into the source here so it gets the same chance.
        """
        athrow = getattr(items, "athrow", None)
        if athrow is None or getattr(items, "ag_frame", True) is None:
            return  # not a generator, or one that already ended with the stop (athrow would return None)
        try:
            async with asyncio.timeout(self._hand_over_s):
                item = await athrow(asyncio.CancelledError())
                while True:
                    await self._route(item)
                    item = await anext(items)
        except (asyncio.CancelledError, StopAsyncIteration, RuntimeError):
            pass  # the source re-raised, ended, or had already finished its hand-over
        except TimeoutError:
            self._errors["source_handover_timeout"] += 1
            log.warning("a source kept yielding after stop for %.0f s; the rest is dropped", self._hand_over_s)

    async def _route(self, item: SourceItem) -> None:
        channel = self._input_of.get(getattr(item, "sensor_id", ""))
        if channel is None:
            self._errors["unknown_sensor"] += 1
            log.warning("dropping item from unknown sensor %r", getattr(item, "sensor_id", None))
            return
        if not channel.offer(item):
            await channel.send(item)

    async def _run_runner(self, runner: str) -> None:
        stages = self._stages[runner]
        sid = self.info.session_id
        await self._bus.publish(SessionMarker(runner, 0.0, MarkerKind.START, sid))
        last_s = 0.0
        channel = self._inputs[runner]
        bus, counts = self._bus, self._counts
        # With coalescing, each wake-up takes the whole backlog; without, one item at a time (what
        # stays queued while a publish waits keeps counting against the channel's bound).
        async for items in channel.batches(None if self._coalesce_s > 0 else 1):
            if len(items) > 1:  # behind: take the backlog in fewer, larger blocks
                items, absorbed = coalesce(items, self._coalesce_s)
                self._coalesced += absorbed
            for item in items:
                if isinstance(item, SampleBlock):
                    end_s = item.end_s  # NaN for an empty block: never later
                    if end_s > last_s:
                        last_s = self._last_time[runner] = end_s
                try:
                    out = run_stages(stages, item)
                except Exception:
                    out = self._stage_failed(runner, item)
                for x in out:  # _publish_all without its coroutine
                    counts[type(x).__name__] += 1
                    if not bus.offer(x):
                        await bus.publish(x)
        try:
            out = run_stages(stages, None)
        except Exception:
            out = self._stage_failed(runner, None)
        await self._publish_all(out)
        await self._bus.publish(
            SessionMarker(runner, self._last_time.get(runner, 0.0), MarkerKind.STOP, sid))

    def _stage_failed(self, runner: str, item: BusItem | None) -> list[BusItem]:
        """Count and log a stage's exception (call it in the ``except`` block); what to publish instead.

        A stage bug must not end the run: the raw item still reaches the recording.
        """
        self._errors[f"stage_failed:{runner}"] += 1
        log.exception("processing failed for runner %s; item passed on unprocessed", runner)
        return [] if item is None else [item]

    async def _publish_all(self, out: list[BusItem]) -> None:
        for x in out:
            self._counts[type(x).__name__] += 1
            if not self._bus.offer(x):
                await self._bus.publish(x)

    async def _run_sink(self, sink: Sink, channel: Channel[BusItem]) -> None:
        try:
            await sink.consume(channel)
        except Exception:
            self._errors[f"sink_failed:{sink.name}"] += 1
            log.exception("sink %s failed; its items are discarded from now on", sink.name)
            async for _ in channel:  # keep draining so a BLOCK sink cannot stall the pipeline
                self._errors[f"sink_discarded:{sink.name}"] += 1


async def _all_done(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Wait for every task (none is fine: a session may have no sinks or no sources)."""
    if tasks:
        await asyncio.wait(tasks)
