"""Virtual IMU signals from a rigid segment's trajectory, with a commodity pod's errors.

A pod fixed to a segment at point ``p(t)`` with axes ``R(t)`` (columns = pod axes in the lab
frame) measures

* specific force ``acc = R(t)^T (d2p/dt2 + g * up) / g``, in g (at rest: +1 g along "up");
* angular rate ``gyr = R(t)^T w(t)``, deg/s, where ``[w]x = dR/dt R^T`` in the lab frame.

Derivatives use Savitzky-Golay filters (cubic, ``window`` samples at the marker rate), then
the signals are interpolated (cubic spline) to the pod's own sample times, which start at a
random phase. Errors (seeded): constant per-axis bias and scale factor, white noise, 16-bit
quantisation and clipping at the full-scale range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

from sensorkit.validation.kinematics import (
    GRAVITY_MPS2,
    UP_LAB,
    angular_velocity_lab,
    orthonormalize,
    sg_derivative,
)

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ImuErrorModel:
    """Errors of a commodity MEMS pod; defaults are typical BMI270/LSM6DSO-class figures.

    Noise is the per-sample standard deviation at the pod's rate (about 160 ug/sqrt(Hz) and
    0.008 dps/sqrt(Hz) over a 100 Hz bandwidth, rounded up). Bias and scale are drawn once per
    pod and axis from normal distributions with these standard deviations.
    """

    acc_noise_g: float = 0.002
    gyr_noise_dps: float = 0.1
    acc_bias_g: float = 0.02
    gyr_bias_dps: float = 1.0
    acc_scale_error: float = 0.01
    gyr_scale_error: float = 0.01
    acc_range_g: float = 16.0
    gyr_range_dps: float = 2000.0
    adc_bits: int = 16

    @staticmethod
    def ideal() -> ImuErrorModel:
        """No errors at all (for tests of the kinematics)."""
        return ImuErrorModel(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1e9, 1e9, 0)


@dataclass(frozen=True, slots=True)
class Mounting:
    """How a pod sits on its segment relative to the ideal (body- or foot-aligned) mount.

    ``tilt_deg`` tilts the pod's z away from the segment's up axis about a random horizontal
    axis; ``yaw_deg`` is the largest random turn about the up axis (both seeded).
    """

    tilt_deg: float = 10.0
    yaw_deg: float = 20.0

    def draw(self, rng: np.random.Generator) -> F64:
        """Rotation (3, 3) taking pod-frame vectors to the ideal mount frame."""
        axis_angle = rng.uniform(0.0, 2.0 * np.pi)
        axis = np.array([np.cos(axis_angle), np.sin(axis_angle), 0.0])
        tilt = Rotation.from_rotvec(np.radians(self.tilt_deg) * axis)
        yaw = Rotation.from_rotvec([0.0, 0.0, np.radians(rng.uniform(-self.yaw_deg, self.yaw_deg))])
        return np.asarray((tilt * yaw).as_matrix(), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class ImuSignals:
    """Signals of one virtual pod on its own timeline (seconds), SF = pod frame."""

    time_s: F64
    acc_g: F64
    gyr_dps: F64


def ideal_signals(pos_m: F64, rot: F64, rate_hz: float, window: int) -> tuple[F64, F64]:
    """Error-free specific force (g) and angular rate (deg/s) in the pod frame at the marker rate.

    ``pos_m`` (n, 3) pod position, ``rot`` (n, 3, 3) pod axes in the lab frame.
    """
    acc_lab = sg_derivative(pos_m, rate_hz, 2, window) + GRAVITY_MPS2 * UP_LAB
    w_lab = angular_velocity_lab(rot, rate_hz, window)
    rot_s = orthonormalize(sg_derivative(rot.reshape(-1, 9), rate_hz, 0, window).reshape(-1, 3, 3))
    acc_g = np.einsum("nji,nj->ni", rot_s, acc_lab) / GRAVITY_MPS2
    gyr_dps = np.degrees(np.einsum("nji,nj->ni", rot_s, w_lab))
    return acc_g, gyr_dps


def resample(time_s: F64, values: F64, new_time_s: F64) -> F64:
    """Cubic-spline values at new times (inside the original span)."""
    return np.asarray(CubicSpline(time_s, values, axis=0)(new_time_s), dtype=np.float64)


def pod_times(start_s: float, end_s: float, rate_hz: float, rng: np.random.Generator) -> F64:
    """A pod's sample times: its own clock at ``rate_hz`` starting at a random phase."""
    t0 = start_s + rng.uniform(0.0, 1.0 / rate_hz)
    return t0 + np.arange(int(np.floor((end_s - t0) * rate_hz)) + 1) / rate_hz


def apply_errors(acc_g: F64, gyr_dps: F64, model: ImuErrorModel, rng: np.random.Generator) -> tuple[F64, F64]:
    """Bias, scale factor, white noise, quantisation and clipping of one pod (seeded)."""
    n = acc_g.shape[0]
    acc = acc_g * (1.0 + rng.normal(0.0, model.acc_scale_error, 3)) + rng.normal(0.0, model.acc_bias_g, 3)
    gyr = gyr_dps * (1.0 + rng.normal(0.0, model.gyr_scale_error, 3)) + rng.normal(0.0, model.gyr_bias_dps, 3)
    acc = acc + rng.normal(0.0, model.acc_noise_g, (n, 3))
    gyr = gyr + rng.normal(0.0, model.gyr_noise_dps, (n, 3))
    if model.adc_bits:
        acc_lsb = model.acc_range_g / 2 ** (model.adc_bits - 1)
        gyr_lsb = model.gyr_range_dps / 2 ** (model.adc_bits - 1)
        acc = np.round(acc / acc_lsb) * acc_lsb
        gyr = np.round(gyr / gyr_lsb) * gyr_lsb
    return np.clip(acc, -model.acc_range_g, model.acc_range_g), np.clip(gyr, -model.gyr_range_dps,
                                                                          model.gyr_range_dps)
