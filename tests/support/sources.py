"""Small in-memory sources and sinks for pipeline tests (they implement the real protocols)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Any, Self

import numpy as np

from sensorkit.model import BusItem, Placement, SampleBlock, SensorInfo, SourceItem
from sensorkit.pipeline.channel import OverflowPolicy


def sensor(runner: str, placement: Placement = Placement.LOWER_BACK, rate: float = 100.0) -> SensorInfo:
    return SensorInfo(f"{runner}/{placement.value}", runner, placement, rate, device="test")


def ramp_blocks(info: SensorInfo, n_blocks: int, block_len: int) -> list[SampleBlock]:
    """Blocks whose acc x channel counts samples 0, 1, 2, ... so losses are visible."""
    out = []
    for b in range(n_blocks):
        idx = np.arange(b * block_len, (b + 1) * block_len, dtype=float)
        acc = np.zeros((block_len, 3))
        acc[:, 0] = idx
        out.append(SampleBlock(info.sensor_id, idx / info.sampling_rate_hz, acc))
    return out


async def observed(items: AsyncIterator[SourceItem], see: Callable[[SourceItem], None]) -> AsyncIterator[SourceItem]:
    """``items`` passed on with ``see(item)`` called on each, keeping the hand-over contract of
    :class:`sensorkit.sources.base.Source`: the session's stop, thrown in at a yield here, is
    thrown on into ``items``, and what it still hands over is passed on too."""
    handed: SourceItem | None = None
    while True:
        try:
            item = handed if handed is not None else await anext(items)
        except StopAsyncIteration:
            return
        handed = None
        see(item)
        try:
            yield item
        except asyncio.CancelledError:
            try:
                handed = await items.athrow(asyncio.CancelledError())  # type: ignore[attr-defined]
            except StopAsyncIteration:
                return


class ListSource:
    """Yields prepared items, optionally pausing between them; endless if ``repeat``."""

    def __init__(self, infos: Sequence[SensorInfo], items: Sequence[SourceItem],
                 delay_s: float = 0.0, endless: bool = False) -> None:
        self._infos = list(infos)
        self._items = list(items)
        self._delay_s = delay_s
        self._endless = endless
        self.entered = self.exited = False

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self._infos

    async def __aenter__(self) -> Self:
        self.entered = True
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.exited = True

    async def items(self) -> AsyncIterator[SourceItem]:
        while True:
            for item in self._items:
                yield item
                await asyncio.sleep(self._delay_s)
            if not self._endless:
                return


class CollectSink:
    """Keeps everything it receives; ``delay_s`` makes it slow to exercise backpressure."""

    def __init__(self, name: str = "collect", accepts: tuple[type, ...] = (object,),
                 policy: OverflowPolicy = OverflowPolicy.BLOCK, queue_size: int = 16,
                 delay_s: float = 0.0) -> None:
        self.name = name
        self.accepts = accepts
        self.policy = policy
        self.queue_size = queue_size
        self.delay_s = delay_s
        self.items: list[BusItem] = []
        self.flushed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.flushed = True

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        async for item in items:
            self.items.append(item)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
