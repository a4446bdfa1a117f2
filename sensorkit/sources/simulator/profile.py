"""What to simulate: a runner's gait, the pods they wear, and the run's timeline.

Everything is a frozen dataclass with units in the field names so a profile can be shared,
hashed and printed. Times are seconds on the session's host timeline (true time, not a
device clock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import NDArray

from sensorkit.errors import ConfigError
from sensorkit.model import PhoneWear, Placement, StrikeClass

F64 = NDArray[np.float64]

STRIKE_ANGLE_DEG: dict[StrikeClass, float] = {
    StrikeClass.REARFOOT: 15.0,
    StrikeClass.MIDFOOT: 3.0,
    StrikeClass.FOREFOOT: -8.0,
}
"""Typical foot-strike angles (foot pitch at IC minus standing pitch; Mo 2021 cut-offs are
> 7.4 deg rearfoot and < -0.8 deg forefoot)."""


def _require(ok: bool, key: str, value: object, why: str) -> None:
    if not ok:
        raise ConfigError(f"simulator: {key} = {value!r}: {why}")


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"simulator: {key} = {value!r}: expected a number")
    return float(value)


def _coerce_numbers(obj: object) -> None:
    """Store every float-typed field (also inside tuples) as a Python float.

    Profiles are often written by hand (``trunk_lean_deg=8``) or come from numpy; ints would
    otherwise leak into numpy arrays as integer dtypes and break in-place float arithmetic.
    """
    for f in fields(obj):  # type: ignore[arg-type]
        kind = str(f.type)
        value = getattr(obj, f.name)
        if value is None or "float" not in kind:
            if kind == "int" and isinstance(value, np.integer):
                object.__setattr__(obj, f.name, int(value))
            continue
        if kind.startswith("tuple[tuple["):
            new: object = tuple(tuple(_number(f.name, x) for x in item) for item in value)
        elif kind.startswith("tuple["):
            new = tuple(_number(f.name, x) for x in value)
        else:
            new = _number(f.name, value)
        object.__setattr__(obj, f.name, new)


@dataclass(frozen=True, slots=True)
class FatigueProfile:
    """Form drifting with fatigue: from ``onset_s`` the changes ramp linearly over ``ramp_s``.

    Percentages are relative to the runner's fresh values; ``trunk_lean_deg`` and
    ``strike_angle_deg`` are added. Speed stays constant, so a lower cadence means longer strides.
    """

    onset_s: float = 1200.0
    ramp_s: float = 180.0
    trunk_lean_deg: float = 4.0
    cadence_pct: float = -4.0
    impact_pct: float = 20.0
    contact_time_pct: float = 8.0
    strike_angle_deg: float = 0.0

    def __post_init__(self) -> None:
        _coerce_numbers(self)
        _require(self.onset_s >= 0, "fatigue.onset_s", self.onset_s, "must be >= 0")
        _require(self.ramp_s > 0, "fatigue.ramp_s", self.ramp_s, "must be > 0")

    def level(self, time_s: F64 | float) -> F64:
        """0 before the onset, rising linearly to 1 at ``onset_s + ramp_s``."""
        return np.clip((np.asarray(time_s, dtype=np.float64) - self.onset_s) / self.ramp_s, 0.0, 1.0)

    def level_rate(self, time_s: F64 | float) -> F64:
        """d(level)/dt in 1/s."""
        t = np.asarray(time_s, dtype=np.float64)
        inside = (t > self.onset_s) & (t < self.onset_s + self.ramp_s)
        return np.where(inside, 1.0 / self.ramp_s, 0.0)


@dataclass(frozen=True, slots=True)
class RunnerProfile:
    """One runner's gait. Peaks are sensor-level specific force, angles in degrees.

    * ``impact_back_g`` - peak vertical specific force of the pelvis (its pivot, the hip-joint
      centre) in stance; the sacrum pod reads a few % more (it swings with the pelvis; the
      truth table reports the pod's own peak).
    * ``impact_shoe_g`` - peak resultant acceleration at the shoe at initial contact.
    * ``strike_angle_deg`` - foot pitch at IC relative to quiet standing; > 0 toes up (heel first).
    * ``trunk_lean_deg`` - forward pitch of the lower-back pod's body frame while running,
      relative to upright standing (the mean over each step).
    * ``lean_oscillation_deg``/``pelvis_roll_deg``/``pelvis_yaw_deg`` - peak per-stride
      excursion of pelvic tilt (back in early stance, forward at toe-off), obliquity (+ = right
      side down: the swing side drops in early stance, the stance side at toe-off) and rotation
      (+ = turned left: the swing-side hip forward through stance), in the real running pattern.
    * ``braking_g``/``sway_g`` - peak AP (braking, then propulsion) and medio-lateral specific
      force of the pelvis pivot in stance; the ML push is toward the midline (to the right in a
      left stance) and small (~0.05 g, treadmill force plate).
    * ``back_pod_offset_m`` - where the back pod sits relative to the pivot, body frame
      (x forward, y left, z up): on the sacrum, behind and above the hip-joint centre. Fitted to
      real pelvis kinematics (Fukuchi 2017); (0, 0, 0) puts the pod at the pivot.
    * ``*_asymmetry_pct`` - ``100 * (left - right) / mean``; step time belongs to the step
      that ends at that foot's IC (as in ``StepMetrics.step_time_s``).
    * ``variability_pct`` - step-to-step coefficient of variation of step time, contact time
      and impacts; ``strike_variability_deg`` - SD of the strike angle.
    * ``wander_pct``/``wander_lean_deg`` - slow (3-20 min) natural drift of cadence, contact
      time and impacts (SD in %) and of the trunk lean (SD in deg); not fatigue.
    * ``initial_standing_s`` - quiet standing at the start (for mounting calibration);
      ``pauses`` - ``(start_s, duration_s)`` standing pauses mid-run.
    """

    name: str = "runner1"
    speed_mps: float = 3.0
    cadence_spm: float = 170.0
    contact_time_ms: float = 250.0
    impact_back_g: float = 2.6
    impact_shoe_g: float = 9.0
    strike_angle_deg: float = 12.0
    toe_off_pitch_deg: float = -35.0
    swing_dip_deg: float = -25.0
    trunk_lean_deg: float = 8.0
    lean_oscillation_deg: float = 3.0
    pelvis_roll_deg: float = 4.0
    pelvis_yaw_deg: float = 5.0
    braking_g: float = 0.5
    sway_g: float = 0.05
    foot_clearance_m: float = 0.15
    contact_asymmetry_pct: float = 0.0
    step_asymmetry_pct: float = 0.0
    variability_pct: float = 2.0
    strike_variability_deg: float = 1.5
    wander_pct: float = 0.0
    wander_lean_deg: float = 0.0
    fatigue: FatigueProfile | None = None
    initial_standing_s: float = 5.0
    pauses: tuple[tuple[float, float], ...] = ()
    back_pod_offset_m: tuple[float, float, float] = (-0.07, 0.0, 0.065)

    def __post_init__(self) -> None:
        _coerce_numbers(self)
        _require(len(self.back_pod_offset_m) == 3 and all(abs(v) <= 0.5 for v in self.back_pod_offset_m),
                 "back_pod_offset_m", self.back_pod_offset_m, "three numbers (m), each within 0.5 m")
        _require(bool(self.name) and "/" not in self.name, "name", self.name, "non-empty, no '/'")
        _require(0.5 <= self.speed_mps <= 12, "speed_mps", self.speed_mps, "expected 0.5..12")
        _require(100 <= self.cadence_spm <= 260, "cadence_spm", self.cadence_spm, "expected 100..260")
        step_ms = 60_000.0 / self.cadence_spm
        _require(80 <= self.contact_time_ms <= 0.85 * step_ms, "contact_time_ms", self.contact_time_ms,
                 f"expected 80..{0.85 * step_ms:.0f} ms (running needs a flight phase)")
        _require(1.2 <= self.impact_back_g <= 8, "impact_back_g", self.impact_back_g, "expected 1.2..8")
        _require(1.0 <= self.impact_shoe_g <= 40, "impact_shoe_g", self.impact_shoe_g, "expected 1..40")
        _require(-30 <= self.strike_angle_deg <= 35, "strike_angle_deg", self.strike_angle_deg,
                 "expected -30..35")
        _require(-60 <= self.toe_off_pitch_deg <= 0, "toe_off_pitch_deg", self.toe_off_pitch_deg,
                 "expected -60..0")
        _require(-30 <= self.trunk_lean_deg <= 45, "trunk_lean_deg", self.trunk_lean_deg, "expected -30..45")
        _require(abs(self.contact_asymmetry_pct) <= 30, "contact_asymmetry_pct",
                 self.contact_asymmetry_pct, "expected -30..30")
        _require(abs(self.step_asymmetry_pct) <= 30, "step_asymmetry_pct", self.step_asymmetry_pct,
                 "expected -30..30")
        _require(0 <= self.variability_pct <= 10, "variability_pct", self.variability_pct, "expected 0..10")
        _require(0 <= self.wander_pct <= 5, "wander_pct", self.wander_pct, "expected 0..5")
        _require(0 <= self.wander_lean_deg <= 5, "wander_lean_deg", self.wander_lean_deg, "expected 0..5")
        _require(self.initial_standing_s >= 0, "initial_standing_s", self.initial_standing_s, "must be >= 0")
        for start_s, dur_s in self.pauses:
            _require(start_s >= self.initial_standing_s and dur_s > 0, "pauses", self.pauses,
                     "each pause is (start_s >= initial_standing_s, duration_s > 0)")
        ends = [s + d for s, d in sorted(self.pauses)]
        starts = [s for s, _ in sorted(self.pauses)]
        _require(all(e <= s for e, s in zip(ends, starts[1:], strict=False)), "pauses", self.pauses,
                 "pauses must not overlap")

    @property
    def strike_class(self) -> StrikeClass:
        if self.strike_angle_deg > 7.4:
            return StrikeClass.REARFOOT
        if self.strike_angle_deg < -0.8:
            return StrikeClass.FOREFOOT
        return StrikeClass.MIDFOOT


def rotation_from_rpy_deg(roll_deg: float, pitch_deg: float, yaw_deg: float) -> F64:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (right-handed, intrinsic z-y'-x'')."""
    r, p, y = (math.radians(a) for a in (roll_deg, pitch_deg, yaw_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class PodConfig:
    """One simulated IMU: where it is worn and how imperfect it is.

    ``mount_rpy_deg`` (or an explicit row-major ``mount_matrix``) is ``R_mount`` with
    ``v_sf = R_mount @ v_bf``: the pod's sensor frame is the body frame rotated by the mounting.
    ``Calibration.sf_to_bf`` of a perfect calibration is its transpose.

    ``clock_drift_ppm`` > 0 means the device's crystal runs fast: it samples at
    ``rate * (1 + ppm/1e6)`` in true time while stamping samples at the nominal rate.
    ``loss_fraction`` of packets (blocks) are lost in bursts of ``loss_burst_packets`` on average.
    Biases are constant per axis in the sensor frame.
    """

    placement: Placement
    sampling_rate_hz: float = 200.0
    acc_range_g: float = 16.0
    gyr_range_dps: float = 2000.0
    acc_noise_g: float = 0.004
    gyr_noise_dps: float = 0.08
    acc_bias_g: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gyr_bias_dps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    mount_rpy_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    mount_matrix: tuple[float, ...] | None = None
    clock_drift_ppm: float = 0.0
    loss_fraction: float = 0.0
    loss_burst_packets: float = 1.0
    phone_wear: PhoneWear | None = None

    def __post_init__(self) -> None:
        _coerce_numbers(self)
        key = f"pod[{self.placement.value}]"
        _require(10 <= self.sampling_rate_hz <= 2000, f"{key}.sampling_rate_hz", self.sampling_rate_hz,
                 "expected 10..2000")
        _require(self.acc_range_g >= 2, f"{key}.acc_range_g", self.acc_range_g, "must be >= 2")
        _require(self.gyr_range_dps >= 125, f"{key}.gyr_range_dps", self.gyr_range_dps, "must be >= 125")
        _require(self.acc_noise_g >= 0 and self.gyr_noise_dps >= 0, f"{key}.noise",
                 (self.acc_noise_g, self.gyr_noise_dps), "must be >= 0")
        _require(abs(self.clock_drift_ppm) <= 1000, f"{key}.clock_drift_ppm", self.clock_drift_ppm,
                 "expected -1000..1000")
        _require(0 <= self.loss_fraction < 0.9, f"{key}.loss_fraction", self.loss_fraction, "expected 0..0.9")
        _require(self.loss_burst_packets >= 1, f"{key}.loss_burst_packets", self.loss_burst_packets,
                 "must be >= 1")
        _require((self.placement is Placement.PHONE) == (self.phone_wear is not None), f"{key}.phone_wear",
                 self.phone_wear, "required for phones and only for phones")
        if self.mount_matrix is not None:
            m = np.asarray(self.mount_matrix, dtype=np.float64)
            r = m.reshape(3, 3) if m.shape == (9,) else np.zeros((3, 3))
            _require(np.allclose(r @ r.T, np.eye(3), atol=1e-6) and np.linalg.det(r) > 0,
                     f"{key}.mount_matrix", self.mount_matrix,
                     "must be a proper rotation, 9 numbers row-major")

    @property
    def mount(self) -> F64:
        """``R_mount`` (3x3): ``v_sf = R_mount @ v_bf``."""
        if self.mount_matrix is not None:
            return np.asarray(self.mount_matrix, dtype=np.float64).reshape(3, 3)
        return rotation_from_rpy_deg(*self.mount_rpy_deg)


def default_pods(sampling_rate_hz: float = 200.0) -> tuple[PodConfig, ...]:
    """Lower back and both shoes, ideal mounting, no loss, no drift."""
    return tuple(PodConfig(p, sampling_rate_hz) for p in
                 (Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT))


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """A whole simulated run for one runner.

    ``duration_s`` may be ``math.inf`` (endless; use ``truth_between``). ``speed_output_hz``
    enables RSC-like :class:`~sensorkit.model.SpeedSample` output. ``chunk_s`` bounds memory:
    samples are generated lazily in chunks of about this length.
    """

    runner: RunnerProfile = field(default_factory=RunnerProfile)
    pods: tuple[PodConfig, ...] = field(default_factory=default_pods)
    duration_s: float = 600.0
    seed: int = 0
    speed_output_hz: float | None = None
    chunk_s: float = 10.0

    def __post_init__(self) -> None:
        _coerce_numbers(self)
        _require(self.duration_s > 0, "duration_s", self.duration_s, "must be > 0")
        _require(len(self.pods) > 0, "pods", self.pods, "at least one pod")
        places = [p.placement for p in self.pods]
        _require(len(set(places)) == len(places), "pods", places, "one pod per placement")
        _require(self.speed_output_hz is None or 0 < self.speed_output_hz <= 10, "speed_output_hz",
                 self.speed_output_hz, "expected 0..10 or None")
        _require(1.0 <= self.chunk_s <= 120.0, "chunk_s", self.chunk_s, "expected 1..120")
        _require(self.seed >= 0, "seed", self.seed, "must be >= 0")

    def sensor_id(self, placement: Placement) -> str:
        return f"{self.runner.name}/{placement.value}"
