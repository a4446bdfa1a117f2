"""Ground truth for a validation session: step events, strike angles, posture, mounting.

All times are seconds on the session timeline (the virtual pods' host timeline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import Side, StrikeClass

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class StepTruth:
    """Reference foot contacts: one row per contact, in time order.

    ``source`` says where they come from: ``"forceplate"`` (primary) or ``"markers"``
    (foot kinematics, secondary). ``strike_angle_deg`` is the sagittal foot pitch at IC
    relative to standing (positive = toes up), NaN where unknown.
    """

    source: str
    ic_s: F64
    tc_s: F64
    side: tuple[Side, ...]
    strike_angle_deg: F64

    def __len__(self) -> int:
        return int(self.ic_s.shape[0])

    def of_side(self, side: Side) -> NDArray[np.bool_]:
        return np.array([s is side for s in self.side], dtype=bool)

    @property
    def contact_time_ms(self) -> F64:
        return (self.tc_s - self.ic_s) * 1000.0

    def cadence_spm(self) -> float:
        """Median steps per minute from consecutive ICs (either foot)."""
        return float(60.0 / np.median(np.diff(self.ic_s))) if len(self) > 1 else float("nan")


@dataclass(frozen=True, slots=True, eq=False)
class PostureTruth:
    """Lower-back pod posture relative to standing, at the marker rate.

    ``lean_deg`` > 0 is forward (sagittal) tilt; ``lateral_deg`` > 0 leans to the right.
    For a pelvis-mounted pod this is pelvis tilt: there are no trunk markers in RBDS.
    """

    time_s: F64
    lean_deg: F64
    lateral_deg: F64


@dataclass(frozen=True, slots=True, eq=False)
class TrialTruth:
    """Everything a validation session is scored against.

    ``run_window_s`` is the span with complete running truth (events outside it are not
    scored); ``standing_window_s`` is the quiet-standing span at the start. ``strike_label``
    holds the lab's label per foot (RBDSinfo.txt), ``None`` when not labelled.
    ``sf_to_mount`` maps each sensor id to the 3x3 rotation taking pod-frame vectors into its
    ideal mounting frame (body frame for the back, foot frame for a shoe).
    """

    steps: StepTruth
    marker_steps: StepTruth | None
    strike_label: dict[Side, StrikeClass | None]
    run_window_s: tuple[float, float]
    standing_window_s: tuple[float, float]
    posture: PostureTruth | None
    sf_to_mount: dict[str, F64]
    force_lag_s: float | None = None
    notes: dict[str, str] = field(default_factory=dict)


def classify_strike(angle_deg: float, rearfoot_above_deg: float = 7.4,
                    forefoot_below_deg: float = -0.8) -> StrikeClass:
    """Mo et al. 2021 cut-offs on the foot-strike angle (see gait-science.md)."""
    if not np.isfinite(angle_deg):
        return StrikeClass.UNKNOWN
    if angle_deg > rearfoot_above_deg:
        return StrikeClass.REARFOOT
    if angle_deg < forefoot_below_deg:
        return StrikeClass.FOREFOOT
    return StrikeClass.MIDFOOT
