"""``SimulatorSource``: one simulated runner behind the same Source protocol as BLE pods.

Items come out in the order a live host would receive them (see
:mod:`sensorkit.sources.simulator.feed`): sample blocks of every pod interleaved by arrival,
a :class:`~sensorkit.model.Gap` for lost packets, a :class:`~sensorkit.model.SensorHealth`
per pod every ``health_period_s`` and, if enabled, RSC-like speed readings.

Pacing: an item is released at ``t0 + arrival / speed`` on the monotonic clock, computed from
the start rather than accumulated, so pacing never drifts. With ``speed=math.inf`` items are
released as fast as they are made, still handing control to the event loop every
``yield_every`` items.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Self

from sensorkit.errors import ConfigError, SourceError
from sensorkit.model import SensorInfo, SourceItem
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.simulator.feed import ItemFeed, PodCounters, speed_sensor_id
from sensorkit.sources.simulator.profile import SimulationConfig
from sensorkit.sources.simulator.run import SimulatedRun


class SimulatorSource:
    """A simulated runner as a :class:`~sensorkit.sources.Source`.

    ``speed`` is a multiple of real time (``math.inf``: as fast as possible). ``clock`` aligns
    real-time pacing with the session's host timeline (its ``start_monotonic_s`` is time 0);
    without it, time 0 is when iteration starts.
    """

    def __init__(self, run: SimulatedRun | SimulationConfig, *, speed: float = 1.0,
                 block_duration_s: float = 0.04, health_period_s: float = 1.0,
                 clock: HostClock | None = None, yield_every: int = 32) -> None:
        if not speed > 0:
            raise ConfigError(f"simulator: speed = {speed!r}: must be > 0 (math.inf for as fast as possible)")
        if not 0.001 <= block_duration_s <= 1.0:
            raise ConfigError(f"simulator: block_duration_s = {block_duration_s!r}: expected 0.001..1")
        if not health_period_s > 0:
            raise ConfigError(f"simulator: health_period_s = {health_period_s!r}: must be > 0")
        self.run = run if isinstance(run, SimulatedRun) else SimulatedRun(run)
        self.speed = speed
        self._feed = ItemFeed(self.run, block_duration_s, health_period_s)
        self._clock = clock
        self._yield_every = max(1, yield_every)
        self._entered = False
        self._started = False

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self.run.sensors

    @property
    def counters(self) -> dict[str, PodCounters]:
        """Per sensor id: packets, samples, losses and gaps produced so far."""
        return self._feed.counters

    def packet_samples(self, pod: int) -> int:
        return self._feed.packet_samples(pod)

    def speed_sensor_id(self) -> str:
        return speed_sensor_id(self.run.sensors)

    async def __aenter__(self) -> Self:
        if self._entered:
            raise SourceError("SimulatorSource is not reentrant")
        self._entered = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._entered = False

    async def items(self) -> AsyncIterator[SourceItem]:
        if not self._entered:
            raise SourceError("use 'async with SimulatorSource(...)' before iterating items()")
        if self._started:
            raise SourceError("items() can be iterated once per SimulatorSource")
        self._started = True
        t0 = self._clock.start_monotonic_s if self._clock is not None else time.monotonic()
        flat_out = math.isinf(self.speed)
        n = 0
        for window in self._feed.windows():
            for arrival_s, item in window:
                if flat_out:
                    n += 1
                    if n >= self._yield_every:
                        n = 0
                        await asyncio.sleep(0)
                else:
                    delay = t0 + arrival_s / self.speed - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                yield item
