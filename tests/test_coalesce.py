"""A runner that fell behind takes its backlog in fewer, larger blocks, with the same records.

Per-call cost dominates a live block, so joining each pod's queued blocks lets an overloaded
host catch up instead of falling further behind; the metrics stage is block-invariant, so the
records are the ones the blocks would have given one by one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Self

import numpy as np
import pytest
from rich.console import Console

from sensorkit.dashboard.sink import session_status
from sensorkit.dashboard.terminal import TerminalView
from sensorkit.metrics import MetricsSettings, RunnerMetrics, analyze_items
from sensorkit.model import Gap, Record, SampleBlock, SensorInfo, SessionMarker, SourceItem, SpeedSample
from sensorkit.pipeline.coalesce import coalesce
from sensorkit.pipeline.session import Session
from tests.support.sources import CollectSink
from tests.test_metrics_block_invariance import _live, _tables


def _block(sid: str, start: int, n: int = 8, gyro: bool = True) -> SampleBlock:
    t = (start + np.arange(n)) / 200.0
    acc = np.column_stack([t, t + 1, t + 2])
    return SampleBlock(sid, t, acc, acc * 10 if gyro else None)


def test_each_sensors_queued_blocks_join_in_the_place_of_their_last() -> None:
    a1, b1, a2, b2, a3 = _block("a", 0), _block("b", 0), _block("a", 8), _block("b", 8), _block("a", 16)
    out, absorbed = coalesce([a1, b1, a2, b2, a3], max_span_s=1.0)
    assert absorbed == 3 and len(out) == 2
    b, a = out
    assert isinstance(a, SampleBlock) and isinstance(b, SampleBlock)
    assert (b.sensor_id, a.sensor_id) == ("b", "a")
    for joined, parts in ((a, (a1, a2, a3)), (b, (b1, b2))):
        assert joined.gyr_dps is not None
        assert np.array_equal(joined.time_s, np.concatenate([p.time_s for p in parts]))
        assert np.array_equal(joined.acc_g, np.concatenate([p.acc_g for p in parts]))
        assert np.array_equal(joined.gyr_dps, np.concatenate([p.gyr_dps for p in parts]))  # type: ignore[misc]


def test_a_gap_or_reading_of_the_same_sensor_ends_a_run_but_other_sensors_do_not() -> None:
    a1, a2, a3, a4 = (_block("a", 8 * k) for k in range(4))
    gap = Gap("a", a2.end_s, a3.start_s, "lost")
    speed = SpeedSample("b", a1.end_s, 3.0)
    out, absorbed = coalesce([a1, speed, a2, gap, a3, a4], max_span_s=1.0)
    assert absorbed == 2
    assert [type(x).__name__ for x in out] == ["SpeedSample", "SampleBlock", "Gap", "SampleBlock"]
    assert len(out[1]) == 16 and len(out[3]) == 16  # type: ignore[arg-type]


@pytest.mark.parametrize("why", ["span", "time goes back", "channels change", "empty block"])
def test_blocks_that_cannot_join_pass_alone(why: str) -> None:
    first = _block("a", 0)
    second = {
        "span": _block("a", 200),  # would make the joined block longer than max_span_s
        "time goes back": _block("a", 4),
        "channels change": _block("a", 8, gyro=False),
        "empty block": SampleBlock("a", np.empty(0), np.empty((0, 3)), np.empty((0, 3))),
    }[why]
    out, absorbed = coalesce([first, second], max_span_s=0.5)
    assert absorbed == 0 and out == [first, second]


class BurstSource:
    """Yields every item without pausing, as a source that fell behind hands over its backlog."""

    def __init__(self, sensors: Sequence[SensorInfo], items: Sequence[SourceItem]) -> None:
        self._sensors, self._items = sensors, items

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self._sensors

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def items(self) -> AsyncIterator[SourceItem]:
        for item in self._items:
            yield item


@pytest.mark.parametrize("name", ["fatiguing", "lossy all", "acc-only shoes, re-clip", "back pod disconnected"])
async def test_a_backlogged_session_gives_the_records_of_the_blocks_one_by_one(name: str) -> None:
    info, items = _live(name)
    settings = MetricsSettings()
    runner = info.runners[0]
    sink = CollectSink()
    session = Session(info, [BurstSource(info.sensors, items)],
                      {runner.name: [RunnerMetrics(runner, info.sensors_of(runner.name), settings)]}, [sink],
                      coalesce_s=settings.invariant_block_s)
    stats = await session.run()
    blocks = [x for x in sink.items if isinstance(x, SampleBlock)]
    assert stats.coalesced > len(items) / 2  # the backlog was taken in far fewer blocks
    assert len(blocks) + stats.coalesced == sum(isinstance(x, SampleBlock) for x in items)
    for s in info.sensors:  # and no sample was lost or reordered on the way to the sinks
        sent = [x.time_s for x in items if isinstance(x, SampleBlock) and x.sensor_id == s.sensor_id]
        got = [x.time_s for x in blocks if x.sensor_id == s.sensor_id]
        assert np.array_equal(np.concatenate(got), np.concatenate(sent))
        assert max(b.end_s - b.start_s for b in blocks if b.sensor_id == s.sensor_id) <= settings.invariant_block_s
    passed_on = {id(x) for x in items}
    records: list[Record] = [x for x in sink.items
                             if isinstance(x, Record) and not isinstance(x, SessionMarker) and id(x) not in passed_on]
    assert _tables(records) == _tables(analyze_items(info, items, settings))


async def test_the_status_a_coach_sees_says_a_backlog_was_joined() -> None:
    info, items = _live("steady")
    runner = info.runners[0]
    session = Session(info, [BurstSource(info.sensors, items[:600])],
                      {runner.name: [RunnerMetrics(runner, info.sensors_of(runner.name))]}, [CollectSink()],
                      coalesce_s=MetricsSettings().invariant_block_s)
    stats = await session.run()
    assert stats.coalesced > 0
    assert session_status(stats)["blocks_joined"] == stats.coalesced
    console = Console(record=True, width=200)
    console.print(TerminalView(console=console, stats=session.stats).render())
    assert f"backlog taken in larger blocks: {stats.coalesced} joined" in console.export_text()
