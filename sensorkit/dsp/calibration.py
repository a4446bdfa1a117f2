"""Mounting calibration: find a pod's body frame however it was clipped on.

Body frame (``sensorkit.model.sensors``): x forward, y left, z up.

* **Up (z)** - gravity. From quiet standing when the runner stood still for
  ``standing_s`` (the upright reference trunk lean is measured against); otherwise from
  running itself: over whole strides the mean specific force of the lower back is gravity.
  Shoe pods use the quiet mid-stance samples of running (foot flat) or standing.
* **Forward (x)** - from running. Lower back: the principal horizontal direction of
  acceleration (braking/propulsion dominates sway), signed so that braking (x < 0) coincides
  with the rise of vertical force after touchdown. Shoes: the principal axis of angular rate
  is the pitch axis (y); it is signed so that the big swing rotation (toes up) is negative.
* **Re-clip** - while calibrated, the gravity direction in the sensor frame is watched on a
  few seconds of running or standing; if it stays more than ``reclip_deg`` away for
  ``reclip_s`` the pod was moved and calibration starts again.

Look-ahead: until the first calibration (and after a re-clip) samples are held back, at most
``max_warmup_s``, then released rotated; afterwards zero look-ahead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sensorkit.dsp.base import F64, History, StageHealth, rotate, split_at_gaps
from sensorkit.model import Placement


@dataclass(frozen=True, slots=True)
class CalibrationSettings:
    """Thresholds of the mounting calibration."""

    window_s: float = 2.0
    """Length of the windows (s) that are classified as still / running / other."""
    still_acc_std_g: float = 0.03
    """A window is still when the std of |acc| (g) is below this ..."""
    still_gyr_dps: float = 10.0
    """... and the mean |gyro| (deg/s) is below this (ignored without a gyro)."""
    standing_s: float = 2.0
    """Seconds of consecutive still windows that count as quiet standing."""
    running_acc_std_g: float = 0.25
    """A window is running (or at least striding) when the std of |acc| (g) exceeds this."""
    running_s: float = 4.0
    """Seconds of running windows needed to find the forward direction."""
    max_warmup_s: float = 20.0
    """Longest hold-back (s) before calibration; older uncalibrated samples are dropped."""
    max_standing_vs_running_deg: float = 35.0
    """A standing reference further than this (deg) from running gravity is not upright: unused."""
    midstance_gyr_dps: float = 60.0
    """Shoe pods: samples with |gyro| (deg/s) below this and |acc| near 1 g are foot-flat."""
    reclip_deg: float = 25.0
    """Gravity moved by more than this (deg) in the sensor frame: the pod was re-clipped ..."""
    reclip_s: float = 6.0
    """... if it stays moved for this long (s) while running or standing."""
    reclip_average_s: float = 4.0
    """Seconds over which gravity is averaged when watching for a re-clip."""


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """A (re)calibration: ``sf_to_bf`` rotation (v_bf = R @ v_sf) valid from ``time_s`` on."""

    time_s: float
    sf_to_bf: F64
    method: str
    residual_deg: float | None


@dataclass(slots=True)
class CalibratedBlock:
    """Body-frame samples released by the calibration stage, plus any new calibration.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which cost
    ~7 k instructions per live block for this hand-off between calibration and the chain.
    """

    time_s: F64
    acc_g: F64
    gyr_dps: F64 | None
    calibrations: list[CalibrationResult]
    restarted: bool
    """True after a re-calibration: downstream stages must restart (new frame, time may jump)."""
    both_bf: F64 | None = None
    """``acc_g`` and ``gyr_dps`` are ``both_bf[0]`` and ``[1]`` of this (2, n, 3) array, when so
    (the posture's averaging reads a live block's rows from it in one call)."""


def _unit(v: F64) -> F64 | None:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 and np.isfinite(n) else None


def _any_perpendicular(z: F64) -> F64:
    trial = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    v = trial - z * float(trial @ z)
    return v / np.linalg.norm(v)


def _push_off_sign(pitch_dps: F64, quiet: F64, fs: float) -> float:
    """Sign of the pitch rotation right after foot-flat: the push-off, toes down (> 0 in BF).

    Whatever the strike (a heel slap and a heel drop rotate opposite ways), the first big
    rotation after the quiet mid-stance is always the heel rising: plantarflexion.
    """
    q = quiet.astype(np.int8)
    ends = np.flatnonzero((q[:-1] == 1) & (q[1:] == 0)) + 1
    n = max(int(0.1 * fs), 2)
    total = 0.0
    for e in ends.tolist():
        total += float(pitch_dps[e:e + n].sum())
    return total


def _sequential_means(rows: F64) -> F64:
    """Mean of each row, its samples added first to last.

    Sequential sums, as numpy's reduction gives for rows of samples laid out one sample a row;
    a reduction along a contiguous row would add pairwise, a different rounding of the same mean.
    """
    return np.add.accumulate(rows, axis=1)[:, -1] / rows.shape[1]


def _angle_deg(a: F64 | Sequence[float], b: F64) -> float:
    """Angle between two 3-vectors (plain floats: called once a window, numpy is slower)."""
    ax, ay, az = (float(v) for v in a)
    bx, by, bz = (float(v) for v in b)
    na, nb = math.sqrt(ax * ax + ay * ay + az * az), math.sqrt(bx * bx + by * by + bz * bz)
    if na < 1e-9 or nb < 1e-9:
        return 0.0
    c = (ax * bx + ay * by + az * bz) / (na * nb)
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


class MountingCalibration:
    """Holds samples back until the pod's orientation is known, then releases them in body frame."""

    STILL, RUNNING, OTHER = 0, 1, 2

    def __init__(self, settings: CalibrationSettings, placement: Placement, sampling_rate_hz: float,
                 has_gyro: bool = True, max_dt_s: float | None = None) -> None:
        self.settings = settings
        self.placement = placement
        self._foot = placement in (Placement.LEFT_FOOT, Placement.RIGHT_FOOT)  # read per window: no enum reads
        self.fs = sampling_rate_hz
        self.has_gyro = has_gyro
        self._max_dt = max_dt_s if max_dt_s is not None else 2.5 / sampling_rate_hz
        self._win = max(round(settings.window_s * sampling_rate_hz), 4)
        self._max_hold = max(int(settings.max_warmup_s * sampling_rate_hz), self._win * 2)
        self.reset()

    # -- state ----------------------------------------------------------------------------------
    def reset(self) -> None:
        self.health = StageHealth()
        self.rotation: F64 | None = None
        self.method = ""
        self._standing_g: F64 | None = None  # upright reference in sensor frame
        self._still_run = 0  # consecutive still windows
        self._still_sum = np.zeros(3)
        self._calibrations = 0
        self._clear_window()
        self._start_warmup()

    def _start_warmup(self) -> None:
        self._hold = History(7, self._max_hold + self._win)  # t, acc(3), gyr(3)
        self._hold.clear(0)
        self._classes: list[int] = []  # class of each complete window in the hold
        self._reclip_means: list[F64] = []
        self._reclip_count = 0
        self.health.warming_up = True

    def _clear_window(self) -> None:
        self._wn = 0  # samples in the current window (copied into _wbuf or still pending)
        self._wfill = 0  # of which copied into _wbuf
        self._pending: list[F64] = []  # live blocks' stacked rows not yet copied (see _accumulate)
        if not hasattr(self, "_wbuf"):
            # Channel-major (acc x, y, z, gyr x, y, z): every per-window pass runs along a
            # contiguous row of samples instead of a row of 3 strided by 6.
            self._wbuf = np.empty((6, self._win))
            self._wbuf3 = self._wbuf.reshape(2, 3, self._win)  # (acc, gyr) x axis x sample

    def held_since_s(self) -> float | None:
        """Time of the oldest sample held back for calibration (None: nothing held)."""
        if self.rotation is not None or self._hold.end == self._hold.start:
            return None
        return self._hold.value(self._hold.start)

    def gap(self) -> None:
        """Missing samples: windows restart; calibration and held samples are kept."""
        self.health.gaps += 1
        if self.rotation is None:
            # The partial window in the hold cannot be classified: drop it.
            keep = len(self._classes) * self._win
            dropped = self._hold.end - self._hold.start - keep
            if dropped > 0:
                rest = self._hold.view(self._hold.start, self._hold.start + keep).copy()
                self._hold.clear(0)
                self._hold.append(rest)
                self.health.rejected += dropped
        self._clear_window()
        self._still_run = 0
        self._still_sum = np.zeros(3)

    # -- processing -----------------------------------------------------------------------------
    def update(self, time_s: F64, acc_g: F64, gyr_dps: F64 | None,
               stacked: F64 | None = None) -> list[CalibratedBlock]:
        """Released body-frame segments; a new segment starts at each (re)calibration.

        The block is cut at window boundaries; each piece is either rotated and released
        (calibrated) or held (warming up), and each completed window is classified.
        ``stacked``: ``np.concatenate((acc_g, gyr_dps))`` if the caller has it already (a new
        array of the caller's, kept by this stage).
        """
        with_gyro = gyr_dps is not None
        n = time_s.shape[0]
        # acc and gyr (zeros without a gyro) stacked once: one copy feeds both the window and
        # the rotation, which turns the two in one pass.
        if gyr_dps is not None:
            both = (np.concatenate((acc_g, gyr_dps)) if stacked is None else stacked).reshape(2, n, 3)
        else:
            both = np.zeros((2, n, 3))
            both[0] = acc_g
        if n and self.rotation is not None and self._wn + n < self._win:
            # The usual live block: calibrated, and inside a window it does not complete (what
            # the loop below does for it, without cutting it into pieces). Its rows join the
            # window later, in one copy with the other blocks of the window (``both`` is this
            # call's own array: nothing else holds or changes it).
            self._pending.append(both)
            self._wn += n
            return [self._rotate(time_s, both, with_gyro, [], False)]
        out: list[CalibratedBlock] = []
        run_start: int | None = None  # start of the current run of released samples
        pos = 0
        while pos < n:
            end = min(n, pos + self._win - self._wn)
            self._accumulate(both[:, pos:end])
            if self.rotation is None:
                self._hold.append_parts(time_s[pos:end], both[0, pos:end], both[1, pos:end])
            elif run_start is None:
                run_start = pos
            pos = end
            if self._wn < self._win:
                continue
            cls, mean_acc = self._classify()
            if self.rotation is None:
                self._classes.append(cls)
                self._track_standing(cls, mean_acc)
                cal = self._try_calibrate()
                if cal is not None:
                    held = self._hold.view(self._hold.start, self._hold.end)
                    # Held samples may straddle gaps: each piece after a gap restarts the
                    # detectors, exactly as if it had been released live.
                    cuts = [0, *split_at_gaps(held[:, 0], None, self._max_dt), held.shape[0]]
                    for k in range(len(cuts) - 1):
                        a, b = cuts[k], cuts[k + 1]
                        rows = held[a:b, 1:7].reshape(b - a, 2, 3).swapaxes(0, 1)  # (acc, gyr)
                        out.append(self._rotate(held[a:b, 0].copy(), rows, with_gyro,
                                                [cal] if k == 0 else [], self._calibrations > 0 or k > 0))
                    self._calibrations += 1
                    self._hold.clear(0)
                    self._classes = []
                elif len(self._classes) * self._win > self._max_hold:
                    self._drop_oldest_window()
            else:
                self._track_standing(cls, mean_acc)
                if self._watch_reclip(cls, mean_acc):
                    if run_start is not None:
                        out.append(self._rotate(time_s[run_start:pos], both[:, run_start:pos], with_gyro,
                                                [], False))
                        run_start = None
                    self.rotation = None
                    self._start_warmup()
            self._clear_window()
        if run_start is not None and self.rotation is not None:
            out.append(self._rotate(time_s[run_start:n], both[:, run_start:n], with_gyro, [], False))
        return _merge(out)

    def _rotate(self, t: F64, both: F64, with_gyro: bool, cals: list[CalibrationResult],
                restart: bool) -> CalibratedBlock:
        """Body-frame samples of ``both`` (acc and gyr stacked, (2, n, 3)).

        ``t`` is passed on as is (the caller's block, or a copy of held rows).
        """
        r = cals[-1].sf_to_bf if cals else self.rotation
        assert r is not None
        if not with_gyro:
            return CalibratedBlock(t, rotate(both[0], r), None, cals, restart)
        # Both in one pass: on a live block of a few rows the numpy calls, not the rows, cost.
        bf = rotate(both, r)
        return CalibratedBlock(t, bf[0], bf[1], cals, restart, bf)

    def _accumulate(self, both: F64) -> None:
        """Append rows of acc and gyr, stacked as (2, k, 3), to the window in one copy.

        Rows of earlier live blocks still pending are copied first, all in one: a copy per
        8-sample block cost more than the block's share of one concatenation per window.
        """
        if self._pending:
            pending = self._pending
            rows = pending[0] if len(pending) == 1 else np.concatenate(pending, axis=1)
            self._wbuf3[:, :, self._wfill:self._wn] = rows.swapaxes(1, 2)
            self._pending = []
        k = both.shape[1]
        self._wbuf3[:, :, self._wn:self._wn + k] = both.swapaxes(1, 2)
        self._wn += k
        self._wfill = self._wn

    def _classify(self) -> tuple[int, F64]:
        """Class and mean acc of the completed window.

        Computed on the whole window at once: bit-identical whatever the block boundaries were.
        """
        s = self.settings
        w = self._wbuf
        n = w.shape[1]
        sq = w * w
        # |acc|, |acc|^2 and |gyr| as the rows of one array: one call sums them all (each row
        # pairwise, the same sum as a reduction of that row alone).
        rows = np.empty((3 if self.has_gyro else 2, n))
        norm, n2 = rows[0], rows[1]
        np.add(sq[0], sq[1], out=n2)
        n2 += sq[2]
        np.sqrt(n2, out=norm)
        if self.has_gyro:
            gn = rows[2]
            np.add(sq[3], sq[4], out=gn)
            gn += sq[5]
            np.sqrt(gn, out=gn)
        sums = np.add.reduce(rows, axis=1).tolist()
        mean_norm = sums[0] / n
        sd = math.sqrt(max(sums[1] / n - mean_norm * mean_norm, 0.0))
        mean_acc = _sequential_means(w[:3])
        self._w_flat = 0
        if self._foot and self.rotation is not None:
            flat = np.abs(norm - 1.0) < 0.15
            if self.has_gyro:
                flat &= gn < s.midstance_gyr_dps
            self._w_flat = int(np.count_nonzero(flat))
            if self._w_flat:
                self._w_flat_acc = _sequential_means(w[:3, flat])
        gyr_ok = not self.has_gyro or sums[2] / n < s.still_gyr_dps
        if sd < s.still_acc_std_g and gyr_ok and abs(mean_norm - 1.0) < 0.15:
            return self.STILL, mean_acc
        if sd > s.running_acc_std_g:
            return self.RUNNING, mean_acc
        return self.OTHER, mean_acc

    def _track_standing(self, cls: int, mean_acc: F64) -> None:
        if cls == self.STILL:
            self._still_run += 1
            self._still_sum = self._still_sum + mean_acc
            long_enough = self._still_run * self.settings.window_s >= self.settings.standing_s
            if long_enough and (self.rotation is None or self._standing_g is None):
                self._standing_g = self._still_sum / self._still_run
        else:
            self._still_run = 0
            self._still_sum = np.zeros(3)

    def _drop_oldest_window(self) -> None:
        # Rebuild the hold without its oldest window.
        rest = self._hold.view(self._hold.start + self._win, self._hold.end).copy()
        self._hold.clear(0)
        self._hold.append(rest)
        self._classes = self._classes[1:]
        self.health.rejected += self._win

    # -- the calibration itself -----------------------------------------------------------------
    def _try_calibrate(self) -> CalibrationResult | None:
        s = self.settings
        cls = np.asarray(self._classes)
        n_run = int((cls == self.RUNNING).sum())
        if n_run * s.window_s < s.running_s:
            return None
        held = self._hold.view(self._hold.start, self._hold.end)
        mask = np.repeat(cls == self.RUNNING, self._win)[: held.shape[0]]
        run = held[mask]
        t_cal = float(run[-1, 0])
        if self._foot:
            rot, method, resid = self._foot_frame(run)
        else:
            rot, method, resid = self._trunk_frame(run)
        self.rotation = rot
        self.method = method
        self.health.warming_up = False
        return CalibrationResult(t_cal, rot, method, resid)

    def _up_from_standing_or(self, running_up: F64) -> tuple[F64, str]:
        st = self._standing_g
        if st is not None and _angle_deg(st, running_up) <= self.settings.max_standing_vs_running_deg:
            u = _unit(st)
            if u is not None:
                return u, "standing"
        return running_up, "running"

    def _trunk_frame(self, run: F64) -> tuple[F64, str, float | None]:
        acc = run[:, 1:4]
        mean = acc.mean(axis=0)
        z_run = _unit(mean)
        if z_run is None:
            z_run = np.array([0.0, 0.0, 1.0])
        z, method = self._up_from_standing_or(z_run)
        half = acc.shape[0] // 2
        resid = _angle_deg(acc[:half].mean(axis=0), acc[half:].mean(axis=0))
        horiz = acc - np.outer(acc @ z, z)
        horiz = horiz - horiz.mean(axis=0)
        cov = horiz.T @ horiz
        _, vecs = np.linalg.eigh(cov)
        x = _unit(vecs[:, -1] - z * float(vecs[:, -1] @ z))
        if x is None:
            x = _any_perpendicular(z)
        # Braking (x < 0) while vertical force rises after touchdown: corr(a_x, d a_z/dt) < 0.
        az = acc @ z
        ax = acc @ x
        daz = np.diff(az)
        if float((ax[1:] - ax.mean()) @ daz) > 0:
            x = -x
        y = np.cross(z, x)
        return np.vstack([x, y, z]), method, resid

    def _foot_frame(self, run: F64) -> tuple[F64, str, float | None]:
        s = self.settings
        acc, gyr = run[:, 1:4], run[:, 4:7]
        an = np.sqrt(np.einsum("ij,ij->i", acc, acc))
        gn = np.sqrt(np.einsum("ij,ij->i", gyr, gyr))
        flat = (np.abs(an - 1.0) < 0.15) & ((gn < s.midstance_gyr_dps) if self.has_gyro else True)
        z_run = _unit(acc[flat].mean(axis=0)) if int(flat.sum()) >= 5 else _unit(acc.mean(axis=0))
        if z_run is None:
            z_run = np.array([0.0, 0.0, 1.0])
        z, method = self._up_from_standing_or(z_run)
        resid = _angle_deg(z, z_run) if method == "standing" else (
            float(np.degrees(np.arccos(np.clip((acc[flat] / an[flat, None]) @ z, -1, 1))).mean())
            if int(flat.sum()) >= 5 else None)
        if self.has_gyro and float(gn.max()) > 1.0:
            g = gyr - np.outer(gyr @ z, z)
            _, vecs = np.linalg.eigh(g.T @ g)
            y = _unit(vecs[:, -1] - z * float(vecs[:, -1] @ z))
            if y is None:
                y = np.cross(z, _any_perpendicular(z))
            if _push_off_sign(gyr @ y, gn < s.midstance_gyr_dps, self.fs) < 0:
                y = -y
            x = np.cross(y, z)
        else:
            horiz = acc - np.outer(acc @ z, z)
            _, vecs = np.linalg.eigh(horiz.T @ horiz)
            xu = _unit(vecs[:, -1] - z * float(vecs[:, -1] @ z))
            x = _any_perpendicular(z) if xu is None else xu
            y = np.cross(z, x)
        return np.vstack([x, y, z]), method, resid

    # -- re-clip --------------------------------------------------------------------------------
    def _watch_reclip(self, cls: int, window_mean_acc: F64) -> bool:
        s = self.settings
        if cls == self.OTHER or self.rotation is None:
            return False
        if self._foot:
            if self._w_flat < 3:
                return False
            mean = self._w_flat_acc
        else:
            mean = window_mean_acc
        self._reclip_means.append(mean)
        n_avg = max(round(s.reclip_average_s / s.window_s), 1)
        self._reclip_means = self._reclip_means[-n_avg:]
        if len(self._reclip_means) < n_avg:
            return False
        # The mean of a few 3-vectors in plain floats (numpy's axis-0 mean adds rows in the same
        # order, so the same values; building an array per window cost more than the rest).
        rows = [m.tolist() for m in self._reclip_means]
        g_sf = [sum(axis) / n_avg for axis in zip(*rows, strict=True)]
        if _angle_deg(g_sf, self.rotation[2]) > s.reclip_deg:
            self._reclip_count += 1
        else:
            self._reclip_count = 0
        if self._reclip_count * s.window_s >= s.reclip_s:
            self._standing_g = None
            return True
        return False


def _merge(blocks: list[CalibratedBlock]) -> list[CalibratedBlock]:
    """Join consecutive segments that continue one another (same rotation, no new calibration)."""
    out: list[CalibratedBlock] = []
    for b in blocks:
        if out and not b.calibrations and not b.restarted and out[-1].time_s.shape[0] and b.time_s.shape[0]:
            last = out[-1]
            gyr = None if b.gyr_dps is None or last.gyr_dps is None else np.concatenate([last.gyr_dps, b.gyr_dps])
            out[-1] = CalibratedBlock(np.concatenate([last.time_s, b.time_s]), np.concatenate([last.acc_g, b.acc_g]),
                                      gyr, last.calibrations, last.restarted)
        else:
            out.append(b)
    return out
