"""The simulator's items in arrival order, produced synchronously one window at a time.

A host receives a pod's block when its last sample has been taken (true time), so items of
all pods are merged by that arrival time. Lost packets turn into one :class:`Gap` per run of
consecutive losses, emitted just before the next block that does arrive (that is when a
receiver notices), or at the end; like the BLE and phone sources, it spans from the stamp of
the last sample before the loss to the stamp of the first sample after it. Health and speed
readings are stamped in true host time. Counters reflect everything up to the item being
produced.

A pod whose clock drifts stamps its samples on its own clock; like a BLE pod, the feed maps
those stamps onto the host timeline with :class:`~sensorkit.sources.clock_sync.ClockSync`, fed
each packet's arrival time, so pods agree with each other and with the truth within a few ms.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from sensorkit.model import Gap, Placement, SampleBlock, SensorHealth, SensorInfo, SourceItem, SpeedSample
from sensorkit.sources.clock_sync import ClockSync, ClockSyncSettings
from sensorkit.sources.simulator.packets import PacketLoss, PodStream
from sensorkit.sources.simulator.run import SimulatedRun

WINDOW_S = 0.2
"""Items are prepared one window of simulated time ahead (the same items for any window).

Short, so that a paced source spreads its synthesis over time the way real pods spread their
packets: with 1-s windows every simulated runner computed its next second at the same moment,
a burst on the event loop (~16 ms at 35 runners) that real pods never cause. Costs ~10 % more
synthesis CPU than 1-s windows."""
_BLOCK, _SPEED, _HEALTH = 0, 1, 2
_EMPTY = np.zeros((0, 3))
_NO_PACKETS: tuple[np.ndarray, np.ndarray, np.ndarray, list[bool], int, int] = (_EMPTY, _EMPTY, _EMPTY, [], 1, 0)


@dataclass(slots=True)
class PodCounters:
    """What a pod has delivered so far (also what its SensorHealth reports)."""

    packets: int = 0
    samples: int = 0
    lost_packets: int = 0
    lost_samples: int = 0
    gaps: int = 0


def speed_sensor_id(sensors: tuple[SensorInfo, ...]) -> str:
    """Sensor id carried by speed readings, so the session knows whose they are.

    The right-foot pod's (foot pods double as RSC footpods), else the phone's, else the first
    pod's.
    """
    for placement in (Placement.RIGHT_FOOT, Placement.LEFT_FOOT, Placement.PHONE):
        for s in sensors:
            if s.placement is placement:
                return s.sensor_id
    return sensors[0].sensor_id


class ItemFeed:
    """Synchronous producer of ``(arrival_s, item)`` windows for one simulated runner."""

    def __init__(self, run: SimulatedRun, block_duration_s: float = 0.04, health_period_s: float = 1.0) -> None:
        self.run = run
        self.block_duration_s = block_duration_s
        self.health_period_s = health_period_s
        self.counters: dict[str, PodCounters] = {s.sensor_id: PodCounters() for s in run.sensors}
        self._syncs: list[ClockSync | None] = []

    def packet_samples(self, pod: int) -> int:
        rate = self.run.config.pods[pod].sampling_rate_hz
        return max(1, round(self.block_duration_s * rate))

    def windows(self) -> Iterator[list[tuple[float, SourceItem]]]:
        run = self.run
        cfg = run.config
        infos = run.sensors
        pods = range(len(cfg.pods))
        streams = [PodStream(run, k, self.packet_samples(k)) for k in pods]
        losses = [PacketLoss(cfg.seed, k, p.loss_fraction, p.loss_burst_packets)
                  for k, p in enumerate(cfg.pods)]
        pending: list[tuple[int, float] | None] = [None for _ in pods]  # (lost samples, first stamp)
        self._syncs = [ClockSync(ClockSyncSettings(), name=infos[k].sensor_id) if cfg.pods[k].clock_drift_ppm
                       else None for k in pods]
        counters = [self.counters[s.sensor_id] for s in infos]
        rates = [p.sampling_rate_hz for p in cfg.pods]
        speed_id = speed_sensor_id(infos)
        end_s = cfg.duration_s
        health_n = speed_n = w = 0
        # Runners' windows end at different times, so that paced runners do not all prepare
        # their next window on the same tick (the items do not depend on where windows end).
        shift_s = (cfg.seed * 0.6180339887498949) % 1.0 * WINDOW_S
        while True:
            w_end = min((w + 1) * WINDOW_S - shift_s, end_s)
            events: list[tuple[float, int, int, int]] = []
            data = []
            for k in pods:
                st = streams[k]
                q0, q1 = st.next_packet, st.packets_before(w_end)
                if q1 > q0:
                    k0 = q0 * st.n
                    k1 = int(min(q1 * st.n, st.total))
                    stamp, acc, gyr = st.take(k0, k1)
                    data.append((stamp, acc, gyr, losses[k].lost_list(q0, q1), st.n, k1 - k0))
                    events.extend(zip(st.arrivals_s(q0, q1), repeat(_BLOCK), repeat(k), range(q1 - q0), strict=False))
                else:
                    data.append(_NO_PACKETS)
                st.next_packet = q1
            while (health_n + 1) * self.health_period_s <= w_end:
                health_n += 1
                events.append((health_n * self.health_period_s, _HEALTH, 0, 0))
            if cfg.speed_output_hz is not None:
                while (speed_n + 1) / cfg.speed_output_hz <= w_end:
                    events.append(((speed_n + 1) / cfg.speed_output_hz, _SPEED, 0, speed_n))
                    speed_n += 1
            events.sort()
            out: list[tuple[float, SourceItem]] = []
            append = out.append
            for arrival, kind, k, j in events:
                if kind == _BLOCK:
                    stamp, acc, gyr, lost, n, total = data[k]
                    a = j * n
                    b = e if (e := a + n) <= total else total  # min(a + n, total); a builtin call costs more
                    c = counters[k]
                    if lost[j]:
                        c.lost_packets += 1
                        c.lost_samples += b - a
                        p = pending[k]
                        pending[k] = (b - a, float(stamp[a])) if p is None else (p[0] + b - a, p[1])
                        continue
                    if pending[k] is not None:
                        append((arrival, self._gap(k, pending, rates[k])))
                    c.packets += 1
                    c.samples += b - a
                    sync = self._syncs[k]
                    host_t = stamp[a:b] if sync is None else sync.align(stamp[a:b], arrival).host_s
                    append((arrival, SampleBlock.trusted(infos[k].sensor_id, host_t, acc[a:b], gyr[a:b])))
                elif kind == _SPEED:
                    t, v, cad, dist = run.speed_reading(j)
                    append((arrival, SpeedSample(speed_id, t, v, cad, v * 120 / cad if cad > 0 else None,
                                                 dist, "rsc")))
                else:
                    out.extend((arrival, self._health(info, arrival)) for info in infos)
            done = w_end >= end_s or all(s.exhausted for s in streams)
            if done:
                for k in pods:
                    if pending[k] is not None:
                        append((w_end, self._gap(k, pending, rates[k])))
                if w_end > health_n * self.health_period_s:
                    out.extend((w_end, self._health(info, w_end)) for info in infos)
            yield out
            if done:
                return
            w += 1

    def _gap(self, k: int, pending: list[tuple[int, float] | None], rate_hz: float) -> Gap:
        p = pending[k]
        assert p is not None
        pending[k] = None
        n, first = p
        sid = self.run.sensors[k].sensor_id
        self.counters[sid].gaps += 1
        # like the BLE and phone sources: from the last sample before to the first sample after
        start, end = first - 1 / rate_hz, first + n / rate_hz
        sync = self._syncs[k]
        if sync is not None and sync.ready:
            start, end = (float(x) for x in sync.line_host(np.array([start, end])))
        return Gap(sid, start, end, "packet_loss", n)

    def _health(self, info: SensorInfo, t: float) -> SensorHealth:
        c = self.counters[info.sensor_id]
        return SensorHealth(self.run.runner.name, info.sensor_id, info.placement, t, True, packets=c.packets,
                            samples=c.samples, lost_samples=c.lost_samples, gaps=c.gaps,
                            battery_pct=round(max(0.0, 100.0 - 4.0 * t / 3600.0), 1))
