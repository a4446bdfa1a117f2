"""Phone messages -> sample blocks on the host timeline, whatever app sent them.

Phones batch samples, send them over Wi-Fi, and stamp them with their own clock. This stage
turns a stream of :class:`PhoneBatch` (in arrival order) into ordered, de-duplicated
:class:`SampleBlock`, :class:`Gap` and GPS :class:`SpeedSample` items:

* the phone clock is fitted to arrival time per message (:mod:`sensorkit.sources.clock_sync`);
* samples wait ``hold_s`` of phone time in a reorder buffer, so a message that overtook an
  older one is merged in order; what arrives after its slot was released is dropped and
  counted, never emitted out of order;
* duplicate messages (same session and message id) and duplicate samples (same timestamp)
  are dropped and counted;
* gyroscope, magnetometer and gravity are resampled onto the accelerometer's timestamps
  (phones sample each sensor on its own clock tick); where the other sensor has no sample
  nearby the value is NaN, never invented;
* a pause longer than a few sample periods becomes a :class:`Gap`; a phone clock jump
  (NTP step, new recording) refits the clock and records a gap.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sensorkit.model import Gap, SampleBlock, SensorHealth, SensorInfo, SourceItem, SpeedSample
from sensorkit.sources.clock_sync import ClockStats, ClockSync, ClockSyncSettings, SyncStatus
from sensorkit.sources.phone.batch import F64, Channel, ChannelData, GpsFix, PhoneBatch
from sensorkit.sources.phone.gps import GpsSettings, GpsTrack

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlignerSettings:
    """Timing policy of one phone stream."""

    hold_s: float = 0.5
    """Reorder window in phone time: added latency, and how late a message may be."""
    gap_factor: float = 3.0
    """A pause longer than this many nominal sample periods (and ``min_gap_s``) is a gap."""
    min_gap_s: float = 0.05
    aux_tolerance_s: float = 0.05
    """Gyro/mag/gravity further than this from an accelerometer sample are not used for it."""
    aux_max_gap_s: float = 0.25
    """Never interpolate other sensors across a hole longer than this."""
    max_buffered_samples: int = 50_000
    """Hard bound on samples held per channel (a flood cannot grow memory)."""
    max_pending_messages: int = 512
    """Out-of-line messages held while a clock jump is being confirmed."""
    remembered_message_ids: int = 512
    clock: ClockSyncSettings = field(default_factory=ClockSyncSettings)
    gps: GpsSettings = field(default_factory=GpsSettings)
    trust_device_clock: bool = False
    """Device times already are host-timeline seconds (imports of recorded exports): no fit."""


@dataclass(slots=True)
class AlignerCounters:
    """Everything dropped or repaired, by reason: shown in health and the docs' fault table."""

    messages: int = 0
    samples_out: int = 0
    duplicate_messages: int = 0
    duplicate_samples: int = 0
    late_samples: int = 0
    clock_rejected_samples: int = 0
    overflow_samples: int = 0
    gaps: int = 0
    lost_samples: int = 0
    clock_jumps: int = 0
    gps_fixes: int = 0
    gps_rejected: int = 0


class _Buffer:
    """Sorted samples of one channel on the phone clock (append mostly at the end)."""

    def __init__(self, limit: int) -> None:
        self.t = np.empty(0)
        self.v = np.empty((0, 3))
        self.limit = limit

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def add(self, data: ChannelData) -> tuple[int, int]:
        """Insert samples; returns (duplicates dropped, overflow dropped)."""
        t = np.concatenate([self.t, data.device_s])
        v = np.concatenate([self.v, data.values])
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        keep = np.ones(t.shape[0], dtype=bool)
        keep[1:] = np.diff(t) > 1e-9
        dup = int(t.shape[0] - keep.sum())
        t, v = t[keep], v[keep]
        over = max(0, t.shape[0] - self.limit)
        self.t, self.v = t[over:], v[over:]
        return dup, over

    def take_until(self, horizon: float) -> tuple[F64, F64]:
        i = int(np.searchsorted(self.t, horizon, side="right"))
        out = self.t[:i], self.v[:i]
        self.t, self.v = self.t[i:], self.v[i:]
        return out

    def drop_before(self, t0: float) -> int:
        i = int(np.searchsorted(self.t, t0, side="left"))
        self.t, self.v = self.t[i:], self.v[i:]
        return i

    def sample_at(self, t: F64, tol_s: float, max_gap_s: float) -> F64:
        """Values at ``t``: interpolated, or NaN where no sample is within ``tol_s``.

        Next to a hole longer than ``max_gap_s`` the nearest sample is held, never bridged.
        """
        out = np.full((t.shape[0], 3), np.nan)
        n = len(self)
        if n == 0 or t.shape[0] == 0:
            return out
        if n == 1:
            ok = np.abs(t - self.t[0]) <= tol_s
            out[ok] = self.v[0]
            return out
        j = np.clip(np.searchsorted(self.t, t), 1, n - 1)
        left, right = self.t[j - 1], self.t[j]
        d_left, d_right = np.abs(t - left), np.abs(t - right)
        near_ok = np.minimum(d_left, d_right) <= tol_s
        inside = (t >= left) & (t <= right)
        interp_ok = near_ok & (~inside | (right - left <= max_gap_s))
        for k in range(3):
            out[:, k] = np.interp(t, self.t, self.v[:, k])
        edge = near_ok & ~interp_ok  # next to a hole: hold the nearest sample, do not bridge
        nearest_i = np.where(d_left <= d_right, j - 1, j)
        out[edge] = self.v[nearest_i[edge]]
        out[~near_ok] = np.nan
        return out


class IdentityClock:
    """Stands in for :class:`ClockSync` when device times are already on the host timeline."""

    last_jump_s = 0.0

    def observe(self, device_s: float, arrival_s: float) -> SyncStatus:
        return SyncStatus.ACCEPTED

    def to_host(self, device_s: F64) -> F64:
        return np.asarray(device_s, dtype=np.float64)

    line_host = to_host

    def stats(self) -> ClockStats:
        return ClockStats(0, 0.0, 0.0, None, 0, 0, 0, True)


def _earliest(batch: PhoneBatch) -> float:
    times = [float(c.device_s.min()) for c in batch.channels.values() if len(c)]
    times += [f.device_s for f in batch.fixes]
    return min(times) if times else np.inf


class PhoneAligner:
    """Per-phone timing stage; pure and synchronous (the sources feed it from their loop)."""

    def __init__(self, info: SensorInfo, settings: AlignerSettings | None = None) -> None:
        self.info = info
        self.settings = settings or AlignerSettings()
        self.counters = AlignerCounters()
        self.sync: ClockSync | IdentityClock = (
            IdentityClock() if self.settings.trust_device_clock
            else ClockSync(self.settings.clock, name=info.sensor_id))
        self.gps = GpsTrack(info.sensor_id, self.settings.gps)
        self._period_s = 1.0 / info.sampling_rate_hz
        self._reset_clock_state()
        self._seen: deque[tuple[str | None, int]] = deque()
        self._seen_set: set[tuple[str | None, int]] = set()
        self._last_host = -np.inf  # last emitted sample time (host timeline), across jumps
        self._gap_reason: str | None = None  # forced reason of the next gap (after a jump)
        self._use_total_acc = False

    def _reset_clock_state(self) -> None:
        lim = self.settings.max_buffered_samples
        self._bufs = {c: _Buffer(lim) for c in Channel}
        self._fixes: list[GpsFix] = []
        self._pending: list[PhoneBatch] = []  # out-of-line messages: late, or a clock jump
        self._pending_floor = np.inf  # earliest phone time among the late ones: not released past it
        self._pending_since = -np.inf
        self._released_dev = -np.inf  # phone time up to which everything was released
        self._newest_dev = -np.inf
        self._newest_arrival = -np.inf

    # -- input ---------------------------------------------------------------------------

    def add(self, batch: PhoneBatch, arrival_s: float) -> list[SourceItem]:
        """Take one message (arrival order); returns whatever became due."""
        if self._is_duplicate(batch):
            self.counters.duplicate_messages += 1
            return []
        latest = batch.latest_device_s
        if latest is None:
            return []
        self.counters.messages += 1
        status = self.sync.observe(latest, arrival_s)
        out: list[SourceItem] = []
        if status in (SyncStatus.LATE, SyncStatus.EARLY):
            if not self._pending:
                self._pending_since = arrival_s
            self._pending.append(batch)
            if status is SyncStatus.LATE:
                self._pending_floor = min(self._pending_floor, _earliest(batch))
            if len(self._pending) > self.settings.max_pending_messages:
                self.counters.overflow_samples += self._pending.pop(0).n_samples
            return self.tick(arrival_s)
        batches, self._pending = [*self._pending, batch], []
        self._pending_floor = np.inf
        if status is SyncStatus.JUMP:
            out += self._on_jump()
        for b in batches:
            self._insert(b)
        if latest > self._newest_dev or status is SyncStatus.JUMP:
            self._newest_dev = latest
        self._newest_arrival = arrival_s
        return out + self.tick(arrival_s)

    def _is_duplicate(self, batch: PhoneBatch) -> bool:
        if batch.message_id is None:
            return False
        key = (batch.session_id, batch.message_id)
        if key in self._seen_set:
            return True
        self._seen.append(key)
        self._seen_set.add(key)
        if len(self._seen) > self.settings.remembered_message_ids:
            self._seen_set.discard(self._seen.popleft())
        return False

    def _insert(self, batch: PhoneBatch) -> None:
        c = self.counters
        if Channel.ACC in batch.channels and not self._use_total_acc:
            self._use_total_acc = True
            self._bufs[Channel.LINEAR_ACC] = _Buffer(self.settings.max_buffered_samples)
        for ch, data in batch.channels.items():
            if ch is Channel.LINEAR_ACC and self._use_total_acc:
                continue
            late = data.device_s <= self._released_dev
            if late.any():
                if ch in (Channel.ACC, Channel.LINEAR_ACC):
                    c.late_samples += int(late.sum())
                data = ChannelData(data.device_s[~late], data.values[~late])
            dup, over = self._bufs[ch].add(data)
            if ch in (Channel.ACC, Channel.LINEAR_ACC):
                c.duplicate_samples += dup
                c.overflow_samples += over
        self._fixes.extend(f for f in batch.fixes if f.device_s > self._released_dev)
        if len(self._fixes) > 1000:
            self._fixes = self._fixes[-1000:]

    def _on_jump(self) -> list[SourceItem]:
        """Release the old clock epoch on its old mapping, then start afresh."""
        jump_s = self.sync.last_jump_s
        self.counters.clock_jumps += 1
        log.warning("%s: phone clock jumped by %+.3f s; gap recorded", self.info.sensor_id, jump_s)
        out = self._release(np.inf, shift_s=-jump_s, pure=True)
        self._reset_clock_state()
        self._gap_reason = "phone clock jump"
        return out

    # -- output --------------------------------------------------------------------------

    def tick(self, now_s: float) -> list[SourceItem]:
        """Release what is older than the hold window (call on every message and periodically)."""
        if self._pending and now_s - self._pending_since > self._pending_timeout_s:
            # nothing confirmed a jump: they were just late; merge them
            for b in self._pending:
                self._insert(b)
            self._pending, self._pending_floor = [], np.inf
        if not np.isfinite(self._newest_dev):
            return []
        # While nothing arrives, what is held is released after hold_s, but never past the newest
        # sample received: a stalled link's backlog (later phone times) is still on its way.
        idle_s = min(max(0.0, now_s - self._newest_arrival), self.settings.hold_s)
        horizon = self._newest_dev + idle_s - self.settings.hold_s
        # a late message waiting for the clock verdict keeps its slot open
        return self._release(min(horizon, float(np.nextafter(self._pending_floor, -np.inf))))

    @property
    def _pending_timeout_s(self) -> float:
        return self.settings.clock.jump_confirm_s + 2 * self.settings.hold_s

    def flush(self) -> list[SourceItem]:
        """Release everything still held (end of stream)."""
        for b in self._pending:
            self._insert(b)
        self._pending, self._pending_floor = [], np.inf
        return self._release(np.inf)

    def _release(self, horizon: float, shift_s: float = 0.0, pure: bool = False) -> list[SourceItem]:
        master = Channel.ACC if self._use_total_acc else Channel.LINEAR_ACC
        t_dev, acc = self._bufs[master].take_until(horizon)
        fixes = sorted((f for f in self._fixes if f.device_s <= horizon), key=lambda f: f.device_s)
        self._fixes = [f for f in self._fixes if f.device_s > horizon]
        out: list[SourceItem] = []
        if t_dev.shape[0]:
            self._released_dev = float(t_dev[-1])
            out += self._emit_samples(master, t_dev, acc, shift_s, pure)
        elif np.isfinite(horizon):
            self._released_dev = max(self._released_dev, horizon)
        for f in fixes:
            out += self._emit_fix(f, shift_s)
        keep_from = self._released_dev - 2.0
        for ch in (Channel.GYR, Channel.MAG, Channel.GRAVITY):
            self._bufs[ch].drop_before(keep_from)
        return out

    def _emit_samples(self, master: Channel, t_dev: F64, acc: F64, shift_s: float,
                      pure: bool) -> list[SourceItem]:
        s, c = self.settings, self.counters
        tol, gap = s.aux_tolerance_s, s.aux_max_gap_s
        if master is Channel.LINEAR_ACC:
            acc = acc + self._bufs[Channel.GRAVITY].sample_at(t_dev, tol, gap)
        gyr = self._bufs[Channel.GYR].sample_at(t_dev, tol, gap) if self.info.has_gyro else None
        mag = self._bufs[Channel.MAG].sample_at(t_dev, tol, gap) if self.info.has_mag else None
        host = (self.sync.line_host(t_dev) if pure else self.sync.to_host(t_dev)) + shift_s
        ok = np.isfinite(acc).all(axis=1)  # iOS linear acc without a gravity sample nearby
        ok &= host > np.maximum.accumulate(np.concatenate([[self._last_host], host[:-1]]))
        c.clock_rejected_samples += int((~ok).sum())
        if not ok.any():
            return []
        host, acc = host[ok], acc[ok]
        gyr = None if gyr is None else gyr[ok]
        mag = None if mag is None else mag[ok]
        return self._split_at_gaps(host, acc, gyr, mag)

    def _split_at_gaps(self, host: F64, acc: F64, gyr: F64 | None, mag: F64 | None) -> list[SourceItem]:
        s, c = self.settings, self.counters
        sid = self.info.sensor_id
        limit = max(s.gap_factor * self._period_s, s.min_gap_s)
        prev = np.concatenate([[self._last_host], host[:-1]])
        dt = host - prev
        gap_at = np.isfinite(prev) & (dt > limit)
        reason0 = "phone: no samples"
        if self._gap_reason is not None:
            gap_at[0] = bool(np.isfinite(prev[0]))
            reason0, self._gap_reason = self._gap_reason, None
        cuts = set(np.flatnonzero(gap_at).tolist())
        out: list[SourceItem] = []
        bounds = [0, *sorted(cuts - {0}), host.shape[0]]
        for a, b in itertools.pairwise(bounds):
            if a in cuts:
                lost = max(0, round(float(dt[a]) / self._period_s) - 1)
                c.gaps += 1
                c.lost_samples += lost
                out.append(Gap(sid, float(prev[a]), float(host[a]),
                               reason0 if a == 0 else "phone: no samples", lost))
            if b > a:
                out.append(SampleBlock(sid, host[a:b], acc[a:b],
                                       None if gyr is None else gyr[a:b],
                                       None if mag is None else mag[a:b]))
        c.samples_out += int(host.shape[0])
        self._last_host = float(host[-1])
        return out

    def _emit_fix(self, fix: GpsFix, shift_s: float) -> list[SourceItem]:
        self.counters.gps_fixes += 1
        t = float(self.sync.line_host(np.array([fix.device_s]))[0]) + shift_s
        sample: SpeedSample | None = self.gps.update(fix, t)
        if sample is None:
            self.counters.gps_rejected += 1
            return []
        return [sample]

    # -- health --------------------------------------------------------------------------

    def health(self, time_s: float, connected: bool, *, decode_errors: int = 0, queue_drops: int = 0,
               reconnects: int = 0, battery_pct: float | None = None) -> SensorHealth:
        """A health record from the counters (the source adds what only it knows)."""
        c = self.counters
        drops = queue_drops + c.overflow_samples + c.late_samples + c.clock_rejected_samples
        return SensorHealth(self.info.runner, self.info.sensor_id, self.info.placement, time_s, connected,
                            packets=c.messages, samples=c.samples_out, lost_samples=c.lost_samples,
                            gaps=c.gaps, reconnects=reconnects, decode_errors=decode_errors,
                            queue_drops=drops, battery_pct=battery_pct,
                            clock_residual_ms=self.sync.stats().residual_ms)
