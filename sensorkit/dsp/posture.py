"""Trunk forward and lateral lean from a lower-back pod through the Fusion AHRS (imufusion).

The pod's body frame comes from mounting calibration, whose up axis is the runner's upright
reference (quiet standing, or the mean running posture when the run started without a
standing pause). Lean is the tilt of the AHRS gravity estimate in that frame, as z-y-x Euler
angles: forward lean ``atan2(-g_x, hypot(g_y, g_z))`` (> 0 forward flexion), lateral lean
``atan2(g_y, g_z)`` (> 0 to the runner's right).

Cost: one AHRS step (the earth-frame low-pass in Python and Fusion's update) is ~1.8 us, so
the AHRS runs on a decimated stream (``ahrs_rate_hz``, default 25 Hz) after averaging groups
of samples, which is the anti-alias filter. The bench (``bench/dsp_speed.py``) and
``docs/dsp.md`` give the accuracy and speed at each rate. Without a gyro, lean is the tilt of
the low-passed acceleration (mean posture only).

Running accelerations are far from gravity: fed raw, Fusion rejects them almost always and
the lean drifts with the gyro bias (tens of degrees on the simulator with a 0.8 deg/s bias);
low-passed in the sensor frame they weight the orientation by the ground force (-2.6 deg).
So the AHRS gets a virtual accelerometer: specific force rotated into the earth frame,
low-passed there (over whole strides it is exactly gravity) and rotated back (``_run_ahrs``).

Look-ahead: none; output lags by half an averaging group (20 ms at 25 Hz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import imufusion
import numpy as np

from sensorkit.dsp.base import F64, StageHealth
from sensorkit.dsp.filters import BlockMean, SosFilter


@dataclass(frozen=True, slots=True)
class PostureSettings:
    """AHRS configuration for trunk lean."""

    ahrs_rate_hz: float = 25.0
    """Rate (Hz) the AHRS runs at after block averaging (at most the sensor rate)."""
    gain: float = 2.0
    """Fusion AHRS gain (dimensionless): weight of the accelerometer against the gyro."""
    earth_lowpass_hz: float = 0.6
    """Cut-off (Hz, two first-order stages) of the earth-frame low-pass of specific force
    whose direction is the AHRS's gravity reference (see ``_run_ahrs``)."""
    acceleration_rejection_deg: float = 90.0
    """Accelerometer ignored when it disagrees with the estimate by more than this (deg)."""
    recovery_trigger_s: float = 5.0
    """Seconds of rejection after which the AHRS trusts the accelerometer again."""
    gyro_range_dps: float = 2000.0
    """Gyro full scale (deg/s), for Fusion's over-range recovery."""
    bias_correction: bool = False
    """Estimate the gyro offset whenever the pod is still (imufusion.Bias). Off by default: a
    running pod is never still, and the earth-frame reference already holds a constant gyro
    offset to bias/gain (0.2 deg for 0.8 deg/s); on costs ~0.5 us per AHRS step."""
    no_gyro_lowpass_hz: float = 0.3
    """Without a gyro: cut-off (Hz) of the low-pass on acceleration whose tilt is the lean."""
    startup_s: float = 3.0
    """Seconds after a (re)start during which lean is flagged as warming up."""


@dataclass(slots=True)
class LeanSeries:
    """Lean at the AHRS rate: times (s), forward and lateral lean (deg).

    Not frozen: setting fields through ``object.__setattr__`` cost ~3 k instructions a live block.
    """

    time_s: F64
    lean_deg: F64
    lateral_deg: F64


class TrunkPosture:
    """Body-frame acc/gyro blocks in, :class:`LeanSeries` out."""

    def __init__(self, settings: PostureSettings, sampling_rate_hz: float, has_gyro: bool = True) -> None:
        self.settings = settings
        self.fs = sampling_rate_hz
        self.has_gyro = has_gyro
        self.factor = max(round(sampling_rate_hz / max(settings.ahrs_rate_hz, 1e-6)), 1)
        self.rate_hz = sampling_rate_hz / self.factor
        # The AHRS loop's float32 arguments and memoryviews of them, made once (exporting a buffer
        # costs ~1,500 instructions, more than a live block's single AHRS step saves with it).
        self._g32 = np.empty(3, dtype=np.float32)
        self._v32 = np.empty(3, dtype=np.float32)
        # (Any: typeshed's memoryview takes only ints, a float32 view takes floats.)
        self._gm: Any = self._g32.data
        self._vm: Any = self._v32.data
        self._grow_gravity(64)
        self.reset()

    def reset(self) -> None:
        self.health = StageHealth()
        self._mean = BlockMean(self.factor, 7)
        self._restart()

    def _restart(self) -> None:
        s = self.settings
        self._ahrs = imufusion.Ahrs()
        self._ahrs.set_settings(imufusion.AhrsSettings(
            sample_rate=self.rate_hz, convention=imufusion.CONVENTION_NWU, gain=s.gain,
            gyroscope_range=s.gyro_range_dps, acceleration_rejection=s.acceleration_rejection_deg,
            magnetic_rejection=0.0, rejection_timeout=s.recovery_trigger_s))
        self._ahrs.set_sample_period(1.0 / self.rate_hz)
        self._bias = imufusion.Bias()
        self._bias.set_settings(imufusion.BiasSettings(sample_rate=self.rate_hz))
        self._lp = SosFilter(2, self.settings.no_gyro_lowpass_hz, self.rate_hz, channels=3)
        self._alpha = 1.0 - math.exp(-2.0 * math.pi * self.settings.earth_lowpass_hz / self.rate_hz)
        self._earth_lp: tuple[float, ...] | None = None  # set from the first sample
        # Rotation of the current estimate, carried between blocks (the AHRS loop computes it
        # once a step, right after the update that moved the estimate).
        self._rot = _rotation(*self._ahrs.get_quaternion().tolist())
        self._since_start = 0
        self.health.warming_up = True

    def gap(self) -> None:
        """Samples missing: drop the partial averaging group and carry on.

        The trunk's orientation barely changes over lost packets, so the AHRS keeps its
        estimate and its earth-frame low-pass; restarting them here would re-learn gravity from
        running accelerations and put lean off by tens of degrees for seconds after every loss.
        """
        self.health.gaps += 1
        self._mean.reset()

    def new_frame(self) -> None:
        """The pod was re-clipped and calibrated again: start over, upright in the new body frame."""
        self._mean.reset()
        self._restart()

    def update(self, time_s: F64, acc_bf_g: F64, gyr_bf_dps: F64 | None,
               both_bf: F64 | None = None) -> LeanSeries:
        """``both_bf``: acc and gyro stacked as (2, n, 3), if the caller has them so."""
        if both_bf is not None and self.has_gyro:
            one = self._mean.one_group(time_s, both_bf)
            if one is not None:  # a live block: one AHRS step
                t_mean, means = one
                acc_mean, gyr_mean = means.tolist()
                return self._lean(np.array([t_mean]), self._run_ahrs([acc_mean], [gyr_mean]), 1)
        gyr = gyr_bf_dps if gyr_bf_dps is not None else np.zeros_like(acc_bf_g)
        dec = self._mean(time_s[:, None], acc_bf_g, gyr)
        m = dec.shape[0]
        if m == 0:
            return LeanSeries(np.empty(0), np.empty(0), np.empty(0))
        if self.has_gyro and gyr_bf_dps is not None:
            grav = self._run_ahrs(dec[:, 1:4].tolist(), dec[:, 4:7].tolist())
        else:
            grav = self._lp(dec[:, 1:4])
        return self._lean(dec[:, 0].copy(), grav, m)

    def _lean(self, time_s: F64, grav: F64, m: int) -> LeanSeries:
        """Forward and lateral lean of ``m`` gravity directions (sensor frame) at ``time_s``."""
        gx, gy, gz = grav[:, 0], grav[:, 1], grav[:, 2]
        lean = np.degrees(np.arctan2(-gx, np.hypot(gy, gz)))
        lateral = np.degrees(np.arctan2(gy, gz))
        self._since_start += m
        if self.health.warming_up and self._since_start >= self.settings.startup_s * self.rate_hz:
            self.health.warming_up = False
        return LeanSeries(time_s, lean, lateral)

    def _grow_gravity(self, steps: int) -> None:
        """Room for ``steps`` AHRS steps' gravity, filled through a memoryview made once."""
        self._grav = np.empty(3 * steps)
        self._grav_view = self._grav.data

    def _run_ahrs(self, acc: list[list[float]], gyr: list[list[float]]) -> F64:
        """The one per-sample loop of the DSP, at the decimated rate (rows of acc and gyr as lists).

        Each step: rotate the measured specific force into the (gyro-propagated) earth frame
        with the current estimate, low-pass it there (two first-order stages), express the
        result back in the sensor frame and give that to Fusion as its accelerometer. Over
        whole strides the earth-frame mean specific force is gravity exactly; averaging in
        the sensor frame instead (or Fusion's per-sample normalised correction) weights the
        orientation by the ground force, i.e. toward the stance posture (-2.6 deg on the
        simulator, whose pelvis pitch is fitted to real trials).
        """
        upd = self._ahrs.update_no_magnetometer
        getq = self._ahrs.get_quaternion
        k = self._alpha
        if self._earth_lp is None:
            # Start from the first reading when it looks like gravity (standing still), else
            # from upright in the calibrated body frame: a running sample can point anywhere.
            a0 = acc[0]
            quiet = abs(math.sqrt(a0[0] ** 2 + a0[1] ** 2 + a0[2] ** 2) - 1.0) < 0.1
            g0 = a0 if quiet else [0.0, 0.0, 1.0]
            self._earth_lp = (*g0, *g0)
        l1x, l1y, l1z, l2x, l2y, l2z = self._earth_lp
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = self._rot
        use_bias = self.settings.bias_correction
        bias = self._bias.update
        # Gravity in the sensor frame after each step, three floats a step, written into a
        # scratch array kept between blocks (no Python object per step, nothing to convert).
        m = len(acc)
        if 3 * m > self._grav.shape[0]:
            self._grow_gravity(2 * m)
        gv = self._grav_view
        i = 0
        # Fusion takes float32 arrays: handed the same two arrays every step, its argument parsing
        # is nearly free. They are filled through memoryviews (a C float cast of each double, the
        # bits numpy's astype/setitem give, at a fraction of ndarray.__setitem__'s cost).
        g32, v32, gm, vm = self._g32, self._v32, self._gm, self._vm
        for (gx, gy, gz), (ax, ay, az) in zip(gyr, acc, strict=True):
            gm[0] = gx
            gm[1] = gy
            gm[2] = gz
            ex = r00 * ax + r01 * ay + r02 * az
            ey = r10 * ax + r11 * ay + r12 * az
            ez = r20 * ax + r21 * ay + r22 * az
            l1x += k * (ex - l1x)
            l1y += k * (ey - l1y)
            l1z += k * (ez - l1z)
            l2x += k * (l1x - l2x)
            l2y += k * (l1y - l2y)
            l2z += k * (l1z - l2z)
            vm[0] = r00 * l2x + r10 * l2y + r20 * l2z
            vm[1] = r01 * l2x + r11 * l2y + r21 * l2z
            vm[2] = r02 * l2x + r12 * l2y + r22 * l2z
            upd(bias(g32) if use_bias else g32, v32)
            w, x, y, z = getq().tolist()
            # The new estimate's rotation (sensor to earth): the next step's, and its third row
            # is gravity in the sensor frame. Products with doubled factors are exactly twice
            # the plain ones (a power of two scales without rounding), so ``xy - wz`` is
            # ``2 * (x * y - w * z)`` to the bit, in fewer operations (``_rotation`` is the plain
            # definition; a call per step would cost more than it saves).
            x2 = x + x
            y2 = y + y
            z2 = z + z
            xx, yy, zz = x * x2, y * y2, z * z2
            xy, xz, yz = x * y2, x * z2, y * z2
            wx, wy, wz = w * x2, w * y2, w * z2
            r00, r01, r02 = 1.0 - (yy + zz), xy - wz, xz + wy
            r10, r11, r12 = xy + wz, 1.0 - (xx + zz), yz - wx
            r20, r21, r22 = xz - wy, yz + wx, 1.0 - (xx + yy)
            gv[i] = r20
            gv[i + 1] = r21
            gv[i + 2] = r22
            i += 3
        self._earth_lp = (l1x, l1y, l1z, l2x, l2y, l2z)
        self._rot = (r00, r01, r02, r10, r11, r12, r20, r21, r22)
        return self._grav[:i].reshape(m, 3)  # scratch: read before the next update


def _rotation(w: float, x: float, y: float, z: float) -> tuple[float, ...]:
    """Rotation matrix (sensor to earth, row-major) of the unit quaternion ``w, x, y, z``."""
    return (1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y),
            2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x),
            2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y))
