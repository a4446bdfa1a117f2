"""``SimulatorSource``: one simulated runner behind the same Source protocol as BLE pods.

Items come out in the order a live host would receive them: sample blocks of every pod
interleaved by arrival (the true time of a block's last sample), a :class:`Gap` just before
the first block after lost packets, a :class:`SensorHealth` per pod every
``health_period_s`` and, if enabled, RSC-like :class:`SpeedSample` readings.

Pacing: item ``x`` is released at ``t0 + arrival / speed`` on the monotonic clock, computed
from the start rather than accumulated, so pacing never drifts. With ``speed=math.inf`` items
are released as fast as they are made, still handing control to the event loop every
``yield_every`` items.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import numpy as np

from sensorkit.errors import ConfigError, SourceError
from sensorkit.model import Gap, Placement, SampleBlock, SensorHealth, SensorInfo, SourceItem, SpeedSample
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.simulator.packets import PacketLoss, PodStream
from sensorkit.sources.simulator.profile import SimulationConfig
from sensorkit.sources.simulator.run import SimulatedRun

WINDOW_S = 1.0
"""Items are prepared one window of simulated time ahead."""


@dataclass(slots=True)
class PodCounters:
    """What a pod has delivered so far (also what its SensorHealth reports)."""

    packets: int = 0
    samples: int = 0
    lost_packets: int = 0
    lost_samples: int = 0
    gaps: int = 0


class SimulatorSource:
    """A simulated runner as a :class:`~sensorkit.sources.Source`.

    ``speed`` is a multiple of real time (``math.inf``: as fast as possible). ``clock`` aligns
    real-time pacing with the session's host timeline (its ``start_monotonic_s`` is time 0).
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
        self.block_duration_s = block_duration_s
        self.health_period_s = health_period_s
        self._clock = clock
        self._yield_every = max(1, yield_every)
        self._entered = False
        self._started = False
        self.counters: dict[str, PodCounters] = {s.sensor_id: PodCounters() for s in self.run.sensors}

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self.run.sensors

    async def __aenter__(self) -> Self:
        if self._entered:
            raise SourceError("SimulatorSource is not reentrant")
        self._entered = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._entered = False

    def packet_samples(self, pod: int) -> int:
        rate = self.run.config.pods[pod].sampling_rate_hz
        return max(1, round(self.block_duration_s * rate))

    def speed_sensor_id(self) -> str:
        """Sensor id carried by speed readings, so the session knows whose they are.

        The right-foot pod's (foot pods double as RSC footpods), else the phone's, else the
        first pod's.
        """
        for placement in (Placement.RIGHT_FOOT, Placement.LEFT_FOOT, Placement.PHONE):
            for s in self.run.sensors:
                if s.placement is placement:
                    return s.sensor_id
        return self.run.sensors[0].sensor_id

    async def items(self) -> AsyncIterator[SourceItem]:
        if not self._entered:
            raise SourceError("use 'async with SimulatorSource(...)' before iterating items()")
        if self._started:
            raise SourceError("items() can be iterated once per SimulatorSource")
        self._started = True
        t0 = self._clock.start_monotonic_s if self._clock is not None else time.monotonic()
        n = 0
        for batch in self._windows():
            for arrival_s, item in batch:
                if math.isinf(self.speed):
                    n += 1
                    if n % self._yield_every == 0:
                        await asyncio.sleep(0)
                else:
                    delay = t0 + arrival_s / self.speed - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                yield item
            if math.isinf(self.speed):
                await asyncio.sleep(0)

    # -- item production (synchronous, one window at a time) ---------------------------------
    def _windows(self) -> Iterator[list[tuple[float, SourceItem]]]:
        run = self.run
        cfg = run.config
        pods = range(len(cfg.pods))
        streams = [PodStream(run, k, self.packet_samples(k)) for k in pods]
        losses = [PacketLoss(cfg.seed, k, p.loss_fraction, p.loss_burst_packets)
                  for k, p in enumerate(cfg.pods)]
        pending: list[tuple[int, float] | None] = [None for _ in pods]  # (lost samples, first stamp)
        infos = run.sensors
        end_s = cfg.duration_s
        health_n = 1
        speed_n = 0
        speed_id = self.speed_sensor_id()
        w = 0
        while True:
            w_end = min((w + 1) * WINDOW_S, end_s)
            events: list[tuple[float, int, int, object]] = []
            for k in pods:
                st = streams[k]
                q0, q1 = st.next_packet, st.packets_before(w_end)
                if q1 <= q0:
                    continue
                k0 = q0 * st.n
                k1 = int(min(q1 * st.n, st.total))
                stamp, acc, gyr = st.take(k0, k1)
                lost = losses[k].lost(q0, q1)
                arrivals = st.arrival_s(np.arange(q0, q1, dtype=np.float64))
                for j in range(q1 - q0):
                    a = j * st.n
                    b = min(a + st.n, k1 - k0)
                    events.append((float(arrivals[j]), 0, k, (bool(lost[j]), stamp[a:b], acc[a:b], gyr[a:b])))
                st.next_packet = q1
            while health_n * self.health_period_s <= w_end:
                events.append((health_n * self.health_period_s, 2, -1, None))
                health_n += 1
            if cfg.speed_output_hz is not None:
                while (speed_n + 1) / cfg.speed_output_hz <= w_end:
                    events.append(((speed_n + 1) / cfg.speed_output_hz, 1, speed_n, None))
                    speed_n += 1
            events.sort(key=lambda e: (e[0], e[1], e[2]))
            out: list[tuple[float, SourceItem]] = []
            for arrival, kind, k, payload in events:
                if kind == 0:
                    self._packet(out, arrival, k, payload, pending, infos[k].sensor_id)  # type: ignore[arg-type]
                elif kind == 1:
                    t, v, cad, dist = run.speed_reading(k)
                    out.append((arrival, SpeedSample(speed_id, t, v, cad, v * 120 / cad if cad > 0 else None,
                                                     dist, "rsc")))
                else:
                    out.extend((arrival, self._health(info, arrival)) for info in infos)
            done = all(s.exhausted for s in streams) or w_end >= end_s
            if done:
                for k in pods:
                    if pending[k] is not None:
                        self._flush_gap(out, w_end, k, pending, infos[k].sensor_id)
                if w_end > (health_n - 1) * self.health_period_s:
                    out.extend((w_end, self._health(info, w_end)) for info in infos)
            yield out
            if done:
                return
            w += 1

    def _packet(self, out: list[tuple[float, SourceItem]], arrival: float, k: int,
                payload: tuple[bool, np.ndarray, np.ndarray, np.ndarray],
                pending: list[tuple[int, float] | None], sid: str) -> None:
        lost, stamp, acc, gyr = payload
        c = self.counters[sid]
        if lost:
            c.lost_packets += 1
            c.lost_samples += len(stamp)
            prev = pending[k]
            pending[k] = (len(stamp), float(stamp[0])) if prev is None else (prev[0] + len(stamp), prev[1])
            return
        if pending[k] is not None:
            self._flush_gap(out, arrival, k, pending, sid)
        c.packets += 1
        c.samples += len(stamp)
        out.append((arrival, SampleBlock(sid, stamp, acc, gyr)))

    def _flush_gap(self, out: list[tuple[float, SourceItem]], arrival: float, k: int,
                   pending: list[tuple[int, float] | None], sid: str) -> None:
        p = pending[k]
        assert p is not None
        n, first = p
        rate = self.run.config.pods[k].sampling_rate_hz
        out.append((arrival, Gap(sid, first, first + n / rate, "packet_loss", n)))
        self.counters[sid].gaps += 1
        pending[k] = None

    def _health(self, info: SensorInfo, t: float) -> SensorHealth:
        c = self.counters[info.sensor_id]
        return SensorHealth(self.run.runner.name, info.sensor_id, info.placement, t, True, packets=c.packets,
                            samples=c.samples, lost_samples=c.lost_samples, gaps=c.gaps,
                            battery_pct=round(max(0.0, 100.0 - 4.0 * t / 3600.0), 1))
