"""Device clock -> host timeline: a per-stream fit of offset and drift, robust to late packets.

A packet stamped ``device_s`` by the sensor arrives at host time ``arrival_s``; transport can
only delay it, so ``arrival_s - device_s`` (the *offset*) is the true clock offset plus a
non-negative latency. The best estimate of the clock is therefore the *lower envelope* of
those offsets, not their mean: we keep the minimum offset per short bucket of device time
over a sliding window and fit the lower convex-hull edge that is closest to all of them
(the linear-programming skew estimator of Moon, Skelly & Towsley 1999, as a hull:
Zhang, Liu & Xia 2002). The hull is refit only when a bucket minimum changes, on a few
hundred points at most, so the cost is per packet, not per sample.

Clock jumps (a device reboot, an NTP step on a phone) are told apart from late bursts:
a point far *below* the line is impossible for a late packet, and a run of points far
*above* it that agree on one new offset and keep arriving at the device's pace (not in a
burst) is a jump. On a jump the fit restarts from those points and the mapping steps.

Mapping is continuous: when the fit moves, the applied offset slews towards it at a bounded
rate (``max_slew``, 2 %: rates measured during a slew are off by at most that) so consecutive
blocks never run backwards; it steps only after a jump or when the fit moved more than
``step_threshold_s``.

Use one :class:`ClockSync` per stream (per pod, per phone)::

    sync = ClockSync(ClockSyncSettings(), name="alice/lower_back")
    aligned = sync.align(device_times_s, arrival_s)   # once per packet, in arrival order
    aligned.host_s      # sample times on the host timeline
    aligned.status      # ACCEPTED / LATE / EARLY / JUMP / RESET
    sync.stats().residual_ms  # for SensorHealth.clock_residual_ms
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

log = logging.getLogger(__name__)

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ClockSyncSettings:
    """Tuning of the fit; defaults suit BLE pods (7.5-50 ms intervals) and phones on Wi-Fi."""

    window_s: float = 60.0
    """Device-time span of the fit window: long enough to see drift, short enough to track it."""
    bucket_s: float = 0.5
    """One lower-envelope point per bucket of device time (bounds the fit cost)."""
    min_drift_span_s: float = 20.0
    """Below this device-time span only the offset is fitted (drift kept at its last value)."""
    max_drift_ppm: float = 1000.0
    """Physically plausible |drift|; a steeper hull edge is clamped to this."""
    late_threshold_s: float = 0.25
    """Offset this far above the line marks a packet late: kept out of the fit."""
    early_threshold_s: float = 0.05
    """Offset this far below the line (after warm-up) cannot be latency: a jump candidate."""
    warmup_s: float = 2.0
    """Device-time span before points below the line count as EARLY: until then they are the
    envelope being found (the first packets may all have been late)."""
    jump_confirm_packets: int = 3
    """Consecutive out-of-line packets that must agree on a new offset to declare a jump."""
    jump_confirm_s: float = 2.0
    """Late packets must also span this much device time before a backward jump is declared,
    so a long Wi-Fi stall is not mistaken for a clock reset."""
    max_slew: float = 0.02
    """Fastest change of the applied offset, seconds per second of device time (keeps blocks
    monotonic: 20 ms/s)."""
    step_threshold_s: float = 0.5
    """A fit this far from the applied offset is stepped to, not slewed (a late first packet)."""
    min_latency_s: float = 0.0
    """Known fixed transport latency subtracted from the envelope (0 if unknown)."""

    def __post_init__(self) -> None:
        if self.bucket_s <= 0 or self.window_s < 2 * self.bucket_s:
            raise ValueError("need bucket_s > 0 and window_s >= 2 * bucket_s")
        if not 0 < self.max_slew < 1:
            raise ValueError("max_slew must be in (0, 1)")
        if self.jump_confirm_packets < 1:
            raise ValueError("jump_confirm_packets must be >= 1")


class SyncStatus(StrEnum):
    """What one packet did to the fit."""

    RESET = "reset"
    """First packet (or first after :meth:`ClockSync.reset`): the fit starts here."""
    ACCEPTED = "accepted"
    """Consistent with the fit; used for it."""
    LATE = "late"
    """Far above the line: a late packet (or the start of a backward jump); not fitted."""
    EARLY = "early"
    """Far below the line: impossible for latency; a forward-jump candidate; not fitted."""
    JUMP = "jump"
    """A clock jump was confirmed: the fit restarted and the mapping stepped."""


@dataclass(frozen=True, slots=True)
class ClockStats:
    """The fit's state, for health reporting and tests."""

    packets: int
    offset_s: float
    """host - device at the most recent device time (includes any fixed latency)."""
    drift_ppm: float
    """Device clock rate error: host advances (1 + drift_ppm*1e-6) s per device second."""
    residual_ms: float | None
    """Median height of the window's bucket minima above the fitted line: the alignment
    uncertainty; None until two buckets exist."""
    late_packets: int
    early_packets: int
    jumps: int
    drift_known: bool


@dataclass(frozen=True, slots=True)
class Alignment:
    """Host times of one packet's samples and what the packet did to the fit."""

    host_s: F64
    status: SyncStatus
    jump_s: float = 0.0
    """On JUMP: how far the offset stepped (positive: device clock went backwards)."""


class ClockSync:
    """Online fit of one stream's device clock to host arrival time; see the module doc."""

    def __init__(self, settings: ClockSyncSettings | None = None, name: str = "") -> None:
        self.settings = settings or ClockSyncSettings()
        self.name = name
        self._packets = self._late = self._early = self._jumps = 0
        self.reset()

    # -- state ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the fit (a new connection to a device that may have rebooted)."""
        self._x0: float | None = None  # device-time origin of the fit (seconds)
        self._buckets: dict[int, tuple[float, float]] = {}  # bucket -> (x, y) of its minimum
        self._max_bucket = -(2**62)
        # line y = a + b * x with x = device - x0 and y = arrival - x: both stay the size of
        # the session, so unix-epoch device clocks keep sub-microsecond precision.
        self._a = 0.0
        self._b = 0.0
        self._drift_known = False
        self._residual_s: float | None = None
        # the fit the residual is of, until stats() asks: (bucket xs, ys, a, b) of the last refit
        self._residual_of: tuple[F64, F64, float, float] | None = None
        self._hull_base: list[tuple[float, float]] | None = None
        """Lower hull of every bucket point but the newest (see :meth:`_hull`); None: rebuild."""
        self._hull_tail: tuple[float, float] = (math.nan, math.nan)  # the newest point then
        self._hull_base_len = 0
        self._pending: list[tuple[float, float, float]] = []  # (x, y, arrival) of out-of-line
        self._pending_sign = 0
        self._anchor: tuple[float, float] | None = None  # (x, applied offset) last mapped
        self._step = True
        self._last_jump_s = 0.0

    def stats(self) -> ClockStats:
        self._settle_residual()
        x_last = self._x_last()
        res = None if self._residual_s is None else self._residual_s * 1e3
        offset = float(self._fit(x_last)) - (self._x0 or 0.0) - self.settings.min_latency_s
        return ClockStats(self._packets, offset,
                          self._b * 1e6, res, self._late, self._early, self._jumps, self._drift_known)

    @property
    def last_jump_s(self) -> float:
        """Offset step of the most recent JUMP (positive: the device clock went backwards)."""
        return self._last_jump_s

    @property
    def ready(self) -> bool:
        """True once at least one packet was observed."""
        return self._x0 is not None

    # -- fitting --------------------------------------------------------------------------

    def _span_s(self) -> float:
        if not self._buckets:
            return 0.0
        return self._buckets[self._max_bucket][0] - min(p[0] for p in self._buckets.values())

    def _x_last(self) -> float:
        if not self._buckets:
            return 0.0
        return self._buckets[self._max_bucket][0]

    def _fit(self, x: float | F64) -> float | F64:
        return self._a + self._b * x

    def observe(self, device_s: float, arrival_s: float) -> SyncStatus:
        """Feed one packet: the device time of its last sample and its host arrival time."""
        if not (math.isfinite(device_s) and math.isfinite(arrival_s)):
            raise ValueError(f"{self.name}: non-finite clock sample {device_s!r}, {arrival_s!r}")
        self._packets += 1
        if self._x0 is None:
            self._start(device_s, arrival_s)
            return SyncStatus.RESET
        s = self.settings
        x = device_s - self._x0
        y = arrival_s - x
        dev = y - float(self._fit(x))
        if dev > s.late_threshold_s:
            return self._out_of_line(+1, x, y, arrival_s)
        if dev < -s.early_threshold_s and self._span_s() >= s.warmup_s:
            return self._out_of_line(-1, x, y, arrival_s)
        self._pending.clear()
        self._add(x, y)
        return SyncStatus.ACCEPTED

    def _start(self, device_s: float, arrival_s: float,
               points: list[tuple[float, float]] | None = None) -> None:
        self._x0 = device_s
        self._buckets.clear()
        self._max_bucket = -(2**62)
        self._b = 0.0
        self._drift_known = False
        self._residual_s = None
        self._residual_of = None
        self._hull_base = None
        self._a = arrival_s
        for dx, y in points or [(0.0, arrival_s)]:
            self._add(dx, y, refit=False)
        self._refit()
        self._step = True

    def _out_of_line(self, sign: int, x: float, y: float, arrival_s: float) -> SyncStatus:
        s = self.settings
        if sign > 0:
            self._late += 1
        else:
            self._early += 1
        if self._pending_sign != sign:
            self._pending.clear()
            self._pending_sign = sign
        self._pending.append((x, y, arrival_s))
        if len(self._pending) > 4 * s.jump_confirm_packets + 64:
            del self._pending[0]
        if self._jump_confirmed(sign):
            return self._jump()
        return SyncStatus.LATE if sign > 0 else SyncStatus.EARLY

    def _jump_confirmed(self, sign: int) -> bool:
        s = self.settings
        p = self._pending
        if len(p) < s.jump_confirm_packets:
            return False
        xs = np.array([q[0] for q in p])
        ys = np.array([q[1] for q in p])
        ts = np.array([q[2] for q in p])
        # Late packets must agree on one new offset (a late burst's offsets fall as it drains);
        # early ones cannot be latency at all, so being early together is enough.
        if sign > 0 and float(ys.max() - ys.min()) > s.late_threshold_s:
            return False
        span_dev = float(xs.max() - xs.min())
        span_arr = float(ts.max() - ts.min())
        # ... arrive at the device's pace, not bunched up behind a stall ...
        if span_dev > 0 and span_arr < 0.5 * span_dev:
            return False
        # ... and, for late packets, last long enough not to be a latency episode.
        return sign < 0 or span_dev >= s.jump_confirm_s

    def _jump(self) -> SyncStatus:
        p = self._pending
        old = float(self._fit(self._x_last()))
        x0 = self._x0 or 0.0
        dev0 = x0 + p[0][0]
        pts = [(x + x0 - dev0, t - (x + x0 - dev0)) for x, _, t in p]
        old_offset = old - x0
        new_offset = min(t - (x + x0) for x, _, t in p)
        self._jumps += 1
        self._start(dev0, p[0][2], pts)
        jump = new_offset - old_offset
        log.warning("%s: device clock jumped by %+.3f s; clock fit restarted", self.name or "stream", jump)
        self._pending.clear()
        self._pending_sign = 0
        self._last_jump_s = jump
        return SyncStatus.JUMP

    def _add(self, x: float, y: float, refit: bool = True) -> None:
        s = self.settings
        k = math.floor(x / s.bucket_s)
        window_buckets = math.ceil(s.window_s / s.bucket_s)
        if k <= self._max_bucket - window_buckets:
            return  # older than the window (a very late reordered packet)
        changed = False
        cur = self._buckets.get(k)
        if cur is None or y < cur[1]:
            self._buckets[k] = (x, y)
            changed = True
            if k < self._max_bucket:
                self._hull_base = None  # a reordered packet changed an older point
        if k > self._max_bucket:
            self._max_bucket = k
            old = [b for b in self._buckets if b <= k - window_buckets]
            for b in old:
                del self._buckets[b]
            if old:
                self._hull_base = None  # the window's start moved
            changed = changed or bool(old)
        if changed and refit:
            self._refit()

    def _refit(self) -> None:
        s = self.settings
        pts = sorted(self._buckets.values())
        xt, yt = zip(*pts, strict=True)
        xs, ys = np.array(xt), np.array(yt)
        span = float(xs[-1] - xs[0])
        b = self._b
        if span >= s.min_drift_span_s:
            hull = self._hull(pts)
            xm = float(np.add.reduce(xs) / len(pts))  # xs.mean() without its Python wrapper
            for (xa, ya), (xb, yb) in itertools.pairwise(hull):
                if xa <= xm <= xb:
                    b = (yb - ya) / (xb - xa)
                    break
            lim = s.max_drift_ppm * 1e-6
            b = min(max(b, -lim), lim)
            self._drift_known = True
        else:
            self._hull_base = None
        self._b = b
        self._a = float(np.minimum.reduce(ys - b * xs))  # the line touches the envelope from below
        if len(pts) >= 2:
            self._residual_of = (xs, ys, self._a, b)

    def _hull(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """The lower hull of ``pts``, continuing the monotone chain of all points but the newest.

        Most refits change only the newest bucket's point or add a bucket after it; the chain
        over the older points is then the same, so only the newest point is pushed on a copy
        of it. The result is the same list as ``_lower_hull(pts)``.
        """
        base, n = self._hull_base, len(pts)
        if base is not None and n == self._hull_base_len + 2 and pts[-2] == self._hull_tail:
            base = _lower_hull([pts[-2]], base)  # a bucket after the old newest point: it joins
        elif base is None or n != self._hull_base_len + 1:
            base = _lower_hull(pts[:-1])
        # else only the newest point moved: the chain of the others stands
        self._hull_base, self._hull_tail, self._hull_base_len = base, pts[-1], n - 1
        return _lower_hull(pts[-1:], list(base))

    def _settle_residual(self) -> None:
        """Median height of the bucket minima above the line of the last refit (health only)."""
        if self._residual_of is not None:
            xs, ys, a, b = self._residual_of
            self._residual_of = None
            self._residual_s = float(np.median(ys - (a + b * xs)))

    # -- mapping --------------------------------------------------------------------------

    def to_host(self, device_s: ArrayLike) -> F64:
        """Host times of device times of this stream, continuous across calls.

        Call in device-time order for a monotonic result; older times are mapped on the line
        through the last mapping point. Steps (no slew) after the first packet and a jump.
        """
        if self._x0 is None:
            raise RuntimeError(f"{self.name}: to_host before any packet was observed")
        d = np.asarray(device_s, dtype=np.float64)
        x = d - self._x0
        fit = self._fit(x) - self.settings.min_latency_s
        if self._anchor is None or self._step:
            applied = np.asarray(fit, dtype=np.float64)
        else:
            ax, aoff = self._anchor
            cont = aoff + self._b * (x - ax)
            err = fit - cont
            if float(np.maximum.reduce(np.abs(err), initial=0.0)) > self.settings.step_threshold_s:
                applied = np.asarray(fit, dtype=np.float64)  # too far to slew: step
            else:
                allowed = self.settings.max_slew * np.maximum(x - ax, 0.0)
                applied = cont + np.clip(err, -allowed, allowed)
        if x.size:
            self._step = False
            i = int(np.argmax(x))
            if self._anchor is None or x[i] >= self._anchor[0]:
                self._anchor = (float(x[i]), float(applied.flat[i]))
        return np.asarray(x + applied, dtype=np.float64)

    def line_host(self, device_s: ArrayLike) -> F64:
        """Host times on the fitted line itself, stateless (no slew).

        For one-off lookups such as a GPS fix, or samples of the clock epoch before a jump.
        """
        if self._x0 is None:
            raise RuntimeError(f"{self.name}: line_host before any packet was observed")
        x = np.asarray(device_s, dtype=np.float64) - self._x0
        return np.asarray(x + self._fit(x) - self.settings.min_latency_s, dtype=np.float64)

    def align(self, device_s: ArrayLike, arrival_s: float) -> Alignment:
        """Observe one packet (its latest device time) and map all its samples.

        A packet far below the line (EARLY: a forward-jump candidate) is clamped so its last
        sample is not later than its arrival. Otherwise a mapped time can exceed the arrival by
        at most ``step_threshold_s + early_threshold_s`` (while the offset slews down).

        Sources with a reorder buffer may instead call :meth:`observe` on arrival and
        :meth:`to_host` on release (in device-time order): the fit then has seen every packet
        that arrived during the hold before mapping.
        """
        d = np.asarray(device_s, dtype=np.float64)
        if d.size == 0:
            return Alignment(d.copy(), SyncStatus.ACCEPTED)
        self._last_jump_s = 0.0
        status = self.observe(float(d.max()), arrival_s)
        if status is SyncStatus.JUMP:
            self._anchor = None
            self._step = True
        host = self.to_host(d)
        if status is SyncStatus.EARLY:
            # Mapped with the old fit, a forward-jump candidate would land in the future.
            excess = float(host.max()) - (arrival_s - self.settings.min_latency_s)
            if excess > 0:
                host = host - excess
        return Alignment(host, status, self._last_jump_s)


def _lower_hull(pts: list[tuple[float, float]],
                hull: list[tuple[float, float]] | None = None) -> list[tuple[float, float]]:
    """Lower convex hull of points sorted by x (Andrew's monotone chain), continuing ``hull``."""
    hull = [] if hull is None else hull
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull
