"""The async pipeline: every item reaches every sink, shutdown flushes, backpressure holds."""

import asyncio
import collections

import numpy as np

from sensorkit.model import (
    BusItem,
    EventKind,
    MarkerKind,
    Placement,
    RunnerInfo,
    SampleBlock,
    SessionInfo,
    SessionMarker,
    Side,
    StepEvent,
)
from sensorkit.pipeline.channel import OverflowPolicy
from sensorkit.pipeline.session import Session
from tests.support.sources import CollectSink, ListSource, ramp_blocks, sensor


def _info(*runners: str, sensors=()) -> SessionInfo:
    return SessionInfo("s1", 0.0, tuple(RunnerInfo(r) for r in runners), tuple(sensors), "test")


def _acc_x(items: list[BusItem], sensor_id: str) -> np.ndarray:
    blocks = [b for b in items if isinstance(b, SampleBlock) and b.sensor_id == sensor_id]
    return np.concatenate([b.acc_g[:, 0] for b in blocks])


class CountSteps:
    """A stage that emits one event per block, and one more at the end of the stream."""

    def __init__(self, runner: str) -> None:
        self.runner = runner
        self.blocks = 0

    def update(self, item: BusItem) -> list:
        if isinstance(item, SampleBlock):
            self.blocks += 1
            return [StepEvent(self.runner, item.end_s, EventKind.INITIAL_CONTACT, Side.UNKNOWN,
                              item.sensor_id, Placement.LOWER_BACK)]
        return []

    def finish(self) -> list:
        return [StepEvent(self.runner, -1.0, EventKind.TERMINAL_CONTACT, Side.UNKNOWN, "end",
                          Placement.LOWER_BACK)]


async def test_every_sample_reaches_the_sinks_in_order_with_start_and_stop_markers() -> None:
    s = sensor("ann")
    blocks = ramp_blocks(s, 40, 25)
    sink = CollectSink()
    session = Session(_info("ann", sensors=[s]), [ListSource([s], blocks)],
                      {"ann": [CountSteps("ann")]}, [sink])
    await session.run()
    assert np.array_equal(_acc_x(sink.items, s.sensor_id), np.arange(1000.0))
    markers = [m for m in sink.items if isinstance(m, SessionMarker)]
    assert [m.kind for m in markers] == [MarkerKind.START, MarkerKind.STOP]
    assert markers[1].time_s == blocks[-1].end_s
    events = [e for e in sink.items if isinstance(e, StepEvent)]
    assert len(events) == 41 and events[-1].kind is EventKind.TERMINAL_CONTACT
    assert sink.flushed


async def test_stop_drains_what_was_accepted_and_flushes_every_sink() -> None:
    s = sensor("ann")
    source = ListSource([s], ramp_blocks(s, 10, 10), delay_s=0.001, endless=True)
    fast, slow = CollectSink("fast"), CollectSink("slow", delay_s=0.002, queue_size=4)
    stop = asyncio.Event()
    session = Session(_info("ann", sensors=[s]), [source], {}, [fast, slow])
    task = asyncio.create_task(session.run(stop))
    await asyncio.sleep(0.2)
    stop.set()
    stats = await asyncio.wait_for(task, 10)
    assert fast.flushed and slow.flushed and source.exited
    # Both sinks saw exactly the same, complete stream: nothing accepted was dropped.
    assert [id(x) for x in fast.items] == [id(x) for x in slow.items]
    assert isinstance(fast.items[-1], SessionMarker) and fast.items[-1].kind is MarkerKind.STOP
    assert all(c.dropped == 0 for c in stats.channels)


async def test_a_slow_block_sink_applies_backpressure_while_drop_sinks_count_drops() -> None:
    s = sensor("ann")
    slow = CollectSink("recording", delay_s=0.001, queue_size=2)
    view = CollectSink("view", policy=OverflowPolicy.DROP_OLDEST, queue_size=1, delay_s=0.005)
    session = Session(_info("ann", sensors=[s]), [ListSource([s], ramp_blocks(s, 100, 5))],
                      {}, [slow, view], input_queue_size=2)
    stats = await session.run()
    assert np.array_equal(_acc_x(slow.items, s.sensor_id), np.arange(500.0))
    by_name = {c.name: c for c in stats.channels}
    assert by_name["sink:recording"].dropped == 0 and by_name["sink:recording"].max_fill <= 2
    assert by_name["sink:view"].dropped > 0
    assert len(view.items) + by_name["sink:view"].dropped == len(slow.items)


async def test_several_runners_stay_separate() -> None:
    sa, sb = sensor("ann"), sensor("bob", Placement.LEFT_FOOT)
    sink = CollectSink()
    stages = {"ann": [CountSteps("ann")], "bob": [CountSteps("bob")]}
    session = Session(_info("ann", "bob", sensors=[sa, sb]),
                      [ListSource([sa], ramp_blocks(sa, 7, 10)), ListSource([sb], ramp_blocks(sb, 3, 10))],
                      stages, [sink])
    await session.run()
    ev = [e for e in sink.items if isinstance(e, StepEvent) and e.kind is EventKind.INITIAL_CONTACT]
    assert sorted((e.runner, e.sensor_id) for e in ev).count(("ann", sa.sensor_id)) == 7
    assert [e.runner for e in ev].count("bob") == 3
    assert stages["ann"][0].blocks == 7 and stages["bob"][0].blocks == 3


async def test_a_failing_stage_or_sink_does_not_end_the_session() -> None:
    class Broken:
        def update(self, item):
            raise RuntimeError("bug")

        def finish(self):
            return []

    class BrokenSink(CollectSink):
        async def consume(self, items):
            async for _ in items:
                raise OSError("disk gone")

    s = sensor("ann")
    good, bad = CollectSink("good"), BrokenSink("bad", queue_size=1)
    session = Session(_info("ann", sensors=[s]), [ListSource([s], ramp_blocks(s, 20, 5))],
                      {"ann": [Broken()]}, [good, bad])
    stats = await session.run()
    assert np.array_equal(_acc_x(good.items, s.sensor_id), np.arange(100.0))
    assert stats.errors["stage_failed:ann"] == 20
    assert stats.errors["sink_failed:bad"] == 1


class HoldingSource(ListSource):
    """Like a phone's reorder window: holds the last items and hands them over on stop."""

    def __init__(self, infos, blocks) -> None:
        super().__init__(infos, blocks)
        self.held = blocks
        self.handed_over = 0

    async def items(self):
        try:
            await asyncio.Event().wait()  # holds everything until stopped
            yield  # pragma: no cover
        except asyncio.CancelledError:
            for block in self.held:
                self.handed_over += 1
                yield block
            raise


async def test_stop_lets_a_source_hand_over_what_it_already_accepted() -> None:
    s = sensor("ann")
    blocks = ramp_blocks(s, 30, 10)
    source = HoldingSource([s], blocks)
    sink = CollectSink(delay_s=0.001, queue_size=1)  # slow: the pump is often blocked on send
    stop = asyncio.Event()
    session = Session(_info("ann", sensors=[s]), [source], {}, [sink], input_queue_size=1)
    task = asyncio.create_task(session.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert np.array_equal(_acc_x(sink.items, s.sensor_id), np.arange(300.0))


class ListSourceWithBacklog(ListSource):
    """A queue of received blocks (like a BLE notification queue) drained on stop, then a held tail."""

    def __init__(self, infos, blocks, tail) -> None:
        super().__init__(infos, blocks)
        self.queue = collections.deque(blocks)
        self.tail = tail

    async def items(self):
        try:
            while self.queue:
                yield self.queue.popleft()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            while self.queue:
                yield self.queue.popleft()
            for b in self.tail:
                yield b
            raise


async def test_stop_while_the_pipeline_is_backed_up_still_takes_the_sources_tail() -> None:
    s = sensor("ann")
    blocks = ramp_blocks(s, 60, 5)
    source = ListSourceWithBacklog([s], blocks[:50], blocks[50:])
    sink = CollectSink(delay_s=0.002, queue_size=1)
    stop = asyncio.Event()
    session = Session(_info("ann", sensors=[s]), [source], {}, [sink], input_queue_size=1)
    task = asyncio.create_task(session.run(stop))
    await asyncio.sleep(0.02)  # the pump is now blocked sending into the full runner queue
    stop.set()
    await asyncio.wait_for(task, 10)
    assert np.array_equal(_acc_x(sink.items, s.sensor_id), np.arange(300.0))


async def test_a_session_without_sinks_still_runs_its_stages() -> None:
    s = sensor("ann")
    stage = CountSteps("ann")
    stats = await Session(_info("ann", sensors=[s]), [ListSource([s], ramp_blocks(s, 3, 4))],
                          {"ann": [stage]}, []).run()
    assert stage.blocks == 3 and stats.items["SampleBlock"] == 3
