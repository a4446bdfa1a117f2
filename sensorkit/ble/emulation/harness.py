"""Run a BLE source for a while and keep what it yielded (tests, benches, demos)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorkit.model import Gap, SampleBlock, SensorHealth, SourceItem, SpeedSample
from sensorkit.sources.base import Source


@dataclass(slots=True)
class Collected:
    items: list[SourceItem] = field(default_factory=list)

    def blocks(self, sensor_id: str) -> list[SampleBlock]:
        return [i for i in self.items if isinstance(i, SampleBlock) and i.sensor_id == sensor_id]

    def samples(self, sensor_id: str) -> SampleBlock | None:
        blocks = self.blocks(sensor_id)
        return SampleBlock.concat(blocks) if blocks else None

    def gaps(self, sensor_id: str) -> list[Gap]:
        return [i for i in self.items if isinstance(i, Gap) and i.sensor_id == sensor_id]

    def health(self, sensor_id: str) -> list[SensorHealth]:
        return [i for i in self.items if isinstance(i, SensorHealth) and i.sensor_id == sensor_id]

    def speed(self, sensor_id: str) -> list[SpeedSample]:
        return [i for i in self.items if isinstance(i, SpeedSample) and i.sensor_id == sensor_id]

    def time_ordered(self, sensor_id: str) -> bool:
        """Blocks and gaps of one sensor never run backwards."""
        last = -np.inf
        for i in self.items:
            if isinstance(i, SampleBlock) and i.sensor_id == sensor_id and len(i):
                if i.start_s <= last or np.any(np.diff(i.time_s) <= 0):
                    return False
                last = i.end_s
        return True


async def collect(
    source: Source,
    seconds: float,
    *,
    during: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> Collected:
    """Enter ``source``, gather its items for ``seconds`` (running ``during`` alongside), exit."""
    got = Collected()

    async def gather() -> None:
        async for item in source.items():
            got.items.append(item)

    async with source, asyncio.TaskGroup() as tg:
        reader = tg.create_task(gather())
        if during is not None:
            tg.create_task(during())
        await asyncio.sleep(seconds)
        reader.cancel()
    return got
