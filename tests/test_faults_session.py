"""Faults at the session's seams: stopping while sources are in every state.

A source's ``items()`` may be suspended at a ``yield`` or deep inside an ``await`` when the stop
comes; it may catch the cancellation to hand over what it holds, or just die with it. Either
way the stop must drain and flush without counting an error that did not happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np

from sensorkit.model import Placement, RunnerInfo, SampleBlock, SensorInfo, SessionInfo, SourceItem
from sensorkit.pipeline.session import Session
from tests.support.sources import CollectSink

SENSOR = SensorInfo("ann/lower_back", "ann", Placement.LOWER_BACK, 100.0)
INFO = SessionInfo("s", 0.0, (RunnerInfo("ann"),), (SENSOR,), "test")


class SlowSource:
    """Yields a block, then waits a long time inside ``items()`` (never catching the cancel)."""

    sensors: Sequence[SensorInfo] = (SENSOR,)

    async def __aenter__(self) -> SlowSource:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def items(self) -> AsyncIterator[SourceItem]:
        t = np.arange(10) / 100.0
        yield SampleBlock(SENSOR.sensor_id, t, np.zeros((10, 3)))
        await asyncio.sleep(3600)  # a sensor that went quiet
        yield SampleBlock(SENSOR.sensor_id, t + 1, np.zeros((10, 3)))


async def test_stopping_while_a_source_waits_inside_items_counts_no_error() -> None:
    """Found by the BLE storm bench: a source whose generator died with the stop was handed a
    second cancellation; Python 3.11 answers that with None, counted as an 'unknown sensor'."""
    sink = CollectSink(queue_size=16)
    session = Session(INFO, [SlowSource()], {}, [sink])
    stop = asyncio.Event()

    async def stopper() -> None:
        await asyncio.sleep(0.3)
        stop.set()

    async with asyncio.timeout(30), asyncio.TaskGroup() as tg:
        tg.create_task(stopper())
        stats = await session.run(stop)
    assert not stats.errors, stats.errors
    assert sum(len(i) for i in sink.items if isinstance(i, SampleBlock)) == 10 and sink.flushed
