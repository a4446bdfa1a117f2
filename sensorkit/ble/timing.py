"""From decoded packets to host-timeline samples: unwrap, reorder, detect loss, align clocks.

Per stream of a pod, in arrival order:

1. :class:`Unwrapper` turns wrapping counters (u16 sequence, u32 ms/µs clocks) into
   monotonic ones;
2. :class:`Resequencer` holds back ``depth`` packets so a packet overtaken by its successor
   is put back in place (later stragglers are dropped and counted);
3. :class:`StreamTimer` gives every sample a device time (the device's stamp, or a sample
   count when the device sends none), counts the samples that never arrived, and maps
   device time onto the host timeline with the shared per-stream clock fit
   (:class:`sensorkit.sources.clock_sync.ClockSync`);
4. :class:`StreamMerger` pairs a second stream (Polar's gyroscope frames, MetaWear's gyro
   notifications) with the primary one by host time; a partner sample that never came is NaN.

Pure and synchronous (no asyncio); the pod's consumer task drives it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sensorkit.ble.profiles.base import ImuPacket, StreamSpec, Timing
from sensorkit.sources.clock_sync import ClockSync, ClockSyncSettings, SyncStatus

log = logging.getLogger(__name__)

ARRIVAL_SYNC = ClockSyncSettings(min_drift_span_s=5.0, early_threshold_s=0.25, max_drift_ppm=50_000.0)
"""Streams timed by a sample counter: the "clock" is the sensor's ODR, which can be off by a
percent, so drift is fitted early and allowed to be large."""

F64 = NDArray[np.float64]


class Unwrapper:
    """Unwraps a counter of the given modulus to the value nearest the largest seen so far."""

    def __init__(self, modulus: float | None) -> None:
        self.modulus = modulus
        self.top: float | None = None

    def __call__(self, raw: float) -> float:
        m = self.modulus
        value = raw if m is None or self.top is None else raw + m * round((self.top - raw) / m)
        if self.top is None or value > self.top:
            self.top = value
        return value

    def reset(self) -> None:
        self.top = None

    def rebase(self, raw: float) -> float:
        """Forget the history: ``raw`` starts a new epoch (the device clock was reset)."""
        self.top = raw
        return raw


@dataclass(slots=True)
class HeldPacket:
    key: float
    packet: ImuPacket
    arrival_s: float
    device_ref_s: float | None
    sequence: float | None


class Resequencer:
    """Releases packets in key order, holding back ``depth`` of them; returns stragglers apart."""

    def __init__(self, depth: int) -> None:
        self.depth = max(0, depth)
        self._held: list[HeldPacket] = []
        self._released: float | None = None
        self.late = 0

    def push(self, item: HeldPacket) -> list[HeldPacket]:
        if self._released is not None and item.key <= self._released:
            self.late += 1  # overtaken by more than the window: its samples were already declared lost
            return []
        self._held.append(item)
        self._held.sort(key=lambda h: h.key)
        out = []
        while len(self._held) > self.depth:
            out.append(self._held.pop(0))
        if out:
            self._released = out[-1].key
        return out

    def flush(self) -> list[HeldPacket]:
        out, self._held = self._held, []
        if out:
            self._released = out[-1].key
        return out

    def reset(self) -> None:
        self._held = []
        self._released = None


@dataclass(frozen=True, slots=True, eq=False)
class TimedPacket:
    """A packet's samples on the host timeline, and what went missing just before it."""

    packet: ImuPacket
    host_s: F64
    lost_before: int
    gap_start_s: float | None
    """Host time of the last sample before the loss (None when nothing was lost)."""
    clock_jump: bool = False
    """The device clock jumped (reboot, reset) right before this packet: the mapping stepped."""


class StreamTimer:
    """Device time, loss and host time for one stream of one pod (see the module doc)."""

    ARRIVAL_SLACK_S = 0.05
    JUMP_SLACK_S = 1.0
    """Device time may not run ahead of host time (or back) by more than this: beyond it the
    device clock was reset (a reboot), which is neither loss nor a duplicate."""

    def __init__(
        self,
        spec: StreamSpec,
        *,
        name: str = "",
        reorder_depth: int = 1,
        sync_settings: ClockSyncSettings | None = None,
    ) -> None:
        self.spec = spec
        self.name = name
        if sync_settings is None and spec.timing is Timing.ARRIVAL:
            sync_settings = ARRIVAL_SYNC
        self.sync = ClockSync(sync_settings, name=name)
        self._time = Unwrapper(spec.clock_wrap_s)
        self._seq = Unwrapper(spec.sequence_wrap)
        keyed = spec.timing is not Timing.ARRIVAL
        self._reseq = Resequencer(reorder_depth if keyed else 0)
        self.period_s = 1.0 / spec.rate_hz
        self._last_dev_s: float | None = None  # device time of the last released sample
        self._last_seq: float | None = None
        self._last_host_s: float | None = None
        self._last_arrival_s: float | None = None
        self._count = 0  # ARRIVAL: synthetic device time = count / rate
        self._abs = 0  # samples released or declared lost (keyed streams)
        self._last_ref: tuple[float, int] | None = None
        self._seen: tuple[float, float] | None = None  # (largest device time, its arrival)
        self._jumped = False
        self.lost_samples = 0
        self.late_packets = 0
        self.clock_resets = 0

    def new_connection(self) -> None:
        """A reconnect: sequence numbers restart; device clocks usually do not (the fit copes).

        Streams timed by arrival have no device clock to carry over, so their fit restarts.
        """
        self._seq.reset()
        self._last_seq = None
        self._reseq.reset()
        self._last_ref = None
        if self.spec.timing is Timing.ARRIVAL:
            self.sync.reset()
            self._last_arrival_s = None

    def push(self, packet: ImuPacket, arrival_s: float) -> list[TimedPacket]:
        n = len(packet)
        if n == 0:
            return []
        if self.spec.timing is Timing.ARRIVAL:
            return [self._arrival(packet, arrival_s, n)]
        out = []
        dev = None
        if packet.device_time_s is not None:
            dev = self._time(packet.device_time_s)
            if self._clock_reset(dev, arrival_s):
                out += self.flush()
                self._restart_clock()
                dev = self._time.rebase(packet.device_time_s)
            if self._seen is None or dev >= self._seen[0]:
                self._seen = (dev, arrival_s)
        seq = None if packet.sequence is None else self._seq(packet.sequence)
        key = seq if self.spec.timing is Timing.SEQUENCE and seq is not None else dev
        if key is None:
            return [*out, self._arrival(packet, arrival_s, n)]
        for held in self._reseq.push(HeldPacket(key, packet, arrival_s, dev, seq)):
            timed = self._keyed(held)
            if timed is not None:
                out.append(timed)
        self.late_packets = self._reseq.late
        return out

    def _clock_reset(self, dev: float, arrival_s: float) -> bool:
        if self._seen is None:
            return False
        last_dev, last_arrival = self._seen
        elapsed = arrival_s - last_arrival
        ahead = (dev - last_dev) - max(elapsed, 0.0)
        return ahead > self.JUMP_SLACK_S + 0.05 * abs(elapsed) or dev - last_dev < -self.JUMP_SLACK_S

    def _restart_clock(self) -> None:
        """The device clock was reset: a new epoch for device time and for the clock fit."""
        self.clock_resets += 1
        log.warning("%s: device clock jumped (reboot or reset); clock fit restarted, no samples counted "
                    "as lost", self.name)
        self._seen = None
        self._last_dev_s = None
        self._last_ref = None
        self._last_seq = None
        self._seq.reset()
        self._reseq.reset()
        self.sync.reset()
        self._jumped = True

    def flush(self) -> list[TimedPacket]:
        out = []
        for held in self._reseq.flush():
            timed = self._keyed(held)
            if timed is not None:
                out.append(timed)
        return out

    def _keyed(self, h: HeldPacket) -> TimedPacket | None:
        p = h.packet
        n = len(p)
        ref = p.ref_index % n
        assert h.device_ref_s is not None
        first = h.device_ref_s - ref * self.period_s
        lost = 0
        if self._last_dev_s is not None:
            gap = first - (self._last_dev_s + self.period_s)
            if gap < -0.5 * self.period_s:
                self.late_packets += 1  # overlaps what was already released: a duplicate
                return None
            if gap > 0.5 * self.period_s:
                lost = round(gap / self.period_s)
        ref_abs = self._abs + lost + ref
        if lost == 0 and self._last_ref is not None:
            # Contiguous: learn the real sample period in device time (a sensor's ODR runs on
            # its own oscillator, not on the clock that stamps the packets).
            last_dev, last_abs = self._last_ref
            if ref_abs > last_abs:
                self._learn_period((h.device_ref_s - last_dev) / (ref_abs - last_abs))
        self._last_ref = (h.device_ref_s, ref_abs)
        self._abs += lost + n
        dev_s = first + np.arange(n, dtype=np.float64) * self.period_s
        self._last_dev_s = float(dev_s[-1])
        self._last_seq = h.sequence
        return self._finish(p, dev_s, h.arrival_s, lost)

    def _learn_period(self, measured: float) -> None:
        nominal = 1.0 / self.spec.rate_hz
        if abs(measured - nominal) < 0.01 * nominal:
            self.period_s += 0.05 * (measured - self.period_s)

    def _arrival(self, p: ImuPacket, arrival_s: float, n: int) -> TimedPacket:
        lost = 0
        if self._last_arrival_s is not None:
            expected = n * self.period_s
            elapsed = arrival_s - self._last_arrival_s
            if elapsed > 2 * expected + self.ARRIVAL_SLACK_S:
                lost = max(0, round(elapsed / self.period_s) - n)
        self._count += lost
        dev_s = (self._count + np.arange(n, dtype=np.float64)) * self.period_s
        self._count += n
        self._last_arrival_s = arrival_s
        return self._finish(p, dev_s, arrival_s, lost)

    def _finish(self, p: ImuPacket, dev_s: F64, arrival_s: float, lost: int) -> TimedPacket:
        aligned = self.sync.align(dev_s, arrival_s)
        host = aligned.host_s
        if self._last_host_s is not None and host[0] <= self._last_host_s:
            # keep the stream strictly increasing whatever the fit did at a jump
            host = host + (self._last_host_s - host[0] + 1e-6)
        gap_start = self._last_host_s if lost else None
        self.lost_samples += lost
        self._last_host_s = float(host[-1])
        jumped, self._jumped = self._jumped or aligned.status is SyncStatus.JUMP, False
        return TimedPacket(p, host, lost, gap_start, jumped)

    @property
    def last_host_s(self) -> float | None:
        return self._last_host_s


@dataclass(frozen=True, slots=True, eq=False)
class MergedSamples:
    host_s: F64
    acc_g: F64
    gyr_dps: F64 | None
    mag_ut: F64 | None


class StreamMerger:
    """Pairs secondary samples (gyro) with primary ones (acc) by nearest host time.

    A primary sample is released once the secondary stream has passed it, or after
    ``hold_s`` without a partner (then its gyro is NaN: unknown, never invented).
    """

    def __init__(self, period_s: float, hold_s: float = 0.5) -> None:
        self.tolerance_s = 0.5 * period_s
        self.hold_s = hold_s
        self._pt: list[F64] = []
        self._pa: list[F64] = []
        self._st: list[F64] = []
        self._sv: list[F64] = []
        self.unmatched = 0

    def add_primary(self, host_s: F64, acc_g: F64) -> None:
        self._pt.append(host_s)
        self._pa.append(acc_g)

    def add_secondary(self, host_s: F64, gyr: F64) -> None:
        self._st.append(host_s)
        self._sv.append(gyr)

    def release(self, now_s: float, *, everything: bool = False) -> MergedSamples | None:
        if not self._pt:
            return None
        pt = np.concatenate(self._pt)
        pa = np.concatenate(self._pa)
        st = np.concatenate(self._st) if self._st else np.empty(0)
        sv = np.concatenate(self._sv) if self._sv else np.empty((0, 3))
        horizon = now_s - self.hold_s
        if st.size:
            horizon = max(horizon, float(st[-1]) - self.tolerance_s)
        cut = pt.size if everything else int(np.searchsorted(pt, horizon, side="right"))
        if cut == 0:
            return None
        t, a = pt[:cut], pa[:cut]
        gyr = np.full((cut, 3), np.nan)
        if st.size:
            j = np.clip(np.searchsorted(st, t), 1, st.size - 1) if st.size > 1 else np.zeros(cut, dtype=int)
            if st.size > 1:
                left = j - 1
                j = np.where(np.abs(st[left] - t) <= np.abs(st[j] - t), left, j)
            ok = np.abs(st[j] - t) <= self.tolerance_s
            gyr[ok] = sv[j[ok]]
        self.unmatched += int(np.count_nonzero(np.isnan(gyr[:, 0])))
        self._pt, self._pa = ([pt[cut:]], [pa[cut:]]) if cut < pt.size else ([], [])
        keep = st > (float(t[-1]) - self.tolerance_s) if st.size else np.zeros(0, dtype=bool)
        self._st, self._sv = ([st[keep]], [sv[keep]]) if keep.any() else ([], [])
        return MergedSamples(t, a, gyr, None)


def samples_between(start_s: float, end_s: float, rate_hz: float) -> int:
    """Samples a gap of this length swallowed (for gaps across a reconnect)."""
    return max(0, math.floor((end_s - start_s) * rate_hz + 0.5) - 1)
