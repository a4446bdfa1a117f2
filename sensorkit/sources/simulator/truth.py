"""Ground truth of a simulated run, in true host time, for scoring the DSP."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import Side, StrikeClass
from sensorkit.sources.simulator.profile import F64
from sensorkit.sources.simulator.schedule import Schedule


@dataclass(frozen=True, slots=True)
class StepTruth:
    """One step as it really happened (see :class:`StepTable` for the field meanings)."""

    index: int
    side: Side
    ic_s: float
    tc_s: float
    contact_time_ms: float
    flight_time_ms: float
    step_time_s: float | None
    cadence_spm: float | None
    impact_back_g: float
    impact_shoe_g: float
    shoe_saturated: bool
    back_saturated: bool
    strike_angle_deg: float
    strike_class: StrikeClass
    trunk_lean_deg: float
    vertical_oscillation_cm: float
    speed_mps: float


def strike_class_of(angle_deg: float) -> StrikeClass:
    """Mo 2021 cut-offs: rearfoot > 7.4 deg, forefoot < -0.8 deg."""
    if angle_deg > 7.4:
        return StrikeClass.REARFOOT
    if angle_deg < -0.8:
        return StrikeClass.FOREFOOT
    return StrikeClass.MIDFOOT


@dataclass(frozen=True, slots=True, eq=False)
class StepTable:
    """Steps as parallel arrays, ``StepMetrics`` conventions, times in true host seconds.

    * ``side`` - ``"left"``/``"right"`` (compare with :class:`~sensorkit.model.Side`).
    * ``ic_s``/``tc_s`` - initial and terminal contact of this step's stance.
    * ``step_time_s`` - previous (opposite-foot) IC to this IC; NaN for the first step after
      standing. ``cadence_spm = 60 / step_time_s``.
    * ``flight_time_ms`` - this TC to the next IC (to the stopping foot's landing for the last
      step before standing).
    * ``impact_back_g`` - peak world-vertical specific force at the back pod in this stance
      (the pod, not the pelvis pivot: it includes the pod's swing with the pelvis);
      ``impact_shoe_g`` - peak resultant at the shoe at this IC (continuous-time peaks: a
      sampled signal shows at most these, usually a little less).
    * ``shoe_saturated`` - the shoe pod's configured range clips this impact.
    * ``strike_angle_deg`` - foot pitch at IC relative to standing, + toes up.
    * ``trunk_lean_deg`` - mean forward pitch of the back over the step, relative to upright.
    * ``vertical_oscillation_cm`` - peak-to-peak vertical motion of the back pod over the step.
    * ``back_saturated`` - the back pod's range clips some axis in this stance.
    """

    index: NDArray[np.int64]
    side: NDArray[np.str_]
    ic_s: F64
    tc_s: F64
    contact_time_ms: F64
    flight_time_ms: F64
    step_time_s: F64
    cadence_spm: F64
    impact_back_g: F64
    impact_shoe_g: F64
    shoe_saturated: NDArray[np.bool_]
    back_saturated: NDArray[np.bool_]
    strike_angle_deg: F64
    trunk_lean_deg: F64
    vertical_oscillation_cm: F64
    speed_mps: F64

    def __len__(self) -> int:
        return len(self.ic_s)

    def select(self, mask: NDArray[np.bool_] | slice) -> StepTable:
        return StepTable(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def between(self, t0_s: float, t1_s: float) -> StepTable:
        """Steps whose IC is in ``[t0_s, t1_s)``."""
        return self.select((self.ic_s >= t0_s) & (self.ic_s < t1_s))

    def rows(self) -> list[StepTruth]:
        out = []
        for k in range(len(self)):
            st = float(self.step_time_s[k])
            out.append(StepTruth(
                int(self.index[k]), Side(str(self.side[k])), float(self.ic_s[k]), float(self.tc_s[k]),
                float(self.contact_time_ms[k]), float(self.flight_time_ms[k]),
                None if math.isnan(st) else st, None if math.isnan(st) else float(self.cadence_spm[k]),
                float(self.impact_back_g[k]), float(self.impact_shoe_g[k]), bool(self.shoe_saturated[k]),
                bool(self.back_saturated[k]), float(self.strike_angle_deg[k]),
                strike_class_of(float(self.strike_angle_deg[k])), float(self.trunk_lean_deg[k]),
                float(self.vertical_oscillation_cm[k]), float(self.speed_mps[k])))
        return out


def step_table(sched: Schedule, start: int = 0, stop: int | None = None) -> StepTable:
    st = sched.steps
    sl = slice(start, stop)
    ic = st.col("ic")[sl].copy()
    contact = st.col("contact")[sl]
    interval = st.col("interval")[sl]
    step_time = st.col("step_time")[sl].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        cadence = 60.0 / step_time
    n = len(ic)
    return StepTable(
        index=np.arange(start, start + n, dtype=np.int64),
        side=np.where(st.col("side")[sl] == 0, Side.LEFT.value, Side.RIGHT.value),
        ic_s=ic, tc_s=ic + contact, contact_time_ms=contact * 1000,
        flight_time_ms=(interval - contact) * 1000,
        step_time_s=step_time, cadence_spm=cadence, impact_back_g=st.col("pod_peak")[sl].copy(),
        impact_shoe_g=st.col("impact_shoe")[sl].copy(), shoe_saturated=st.col("shoe_sat")[sl] > 0,
        back_saturated=st.col("back_sat")[sl] > 0, strike_angle_deg=st.col("strike")[sl].copy(),
        trunk_lean_deg=st.col("lean")[sl].copy(), vertical_oscillation_cm=st.col("vo_cm")[sl].copy(),
        speed_mps=np.full(n, sched.runner.speed_mps))


@dataclass(frozen=True, slots=True, eq=False)
class RunTruth:
    """Everything the simulator knows about a run, in true host time.

    * ``steps`` - every step (:class:`StepTable`).
    * ``standing_s`` - ``(start, end)`` of quiet standing: both feet flat, trunk upright.
    * ``running_s`` - ``(first lift-off, last landing)`` of each running segment.
    * ``fatigue_onset_s``/``fatigue_full_s`` - when the fatigue ramp starts/completes (None if
      the profile has no fatigue).
    * ``sf_to_bf`` - per sensor id, the row-major rotation a perfect mounting calibration finds.
    * ``lean_deg(t)`` - instantaneous trunk pitch (+ forward) relative to upright.
    """

    steps: StepTable
    standing_s: tuple[tuple[float, float], ...]
    running_s: tuple[tuple[float, float], ...]
    fatigue_onset_s: float | None
    fatigue_full_s: float | None
    sf_to_bf: Mapping[str, tuple[float, ...]]
    lean_deg: Callable[[F64], F64]

    def lean_series(self, t0_s: float, t1_s: float, rate_hz: float = 10.0) -> tuple[F64, F64]:
        """``(time_s, lean_deg)`` sampled at ``rate_hz`` over ``[t0_s, t1_s)``."""
        t = np.arange(t0_s, t1_s, 1.0 / rate_hz)
        return t, self.lean_deg(t)
