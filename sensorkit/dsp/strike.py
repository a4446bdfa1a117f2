"""Foot-strike class from the foot-strike angle, with the Mo 2021 cut-offs.

Mo S, et al. (2021), ROC analysis of the foot-strike angle against the strike index:
rearfoot when the angle (foot pitch at IC relative to standing, > 0 toes up) exceeds
``REARFOOT_ABOVE_DEG`` = 7.4 deg, forefoot below ``FOREFOOT_BELOW_DEG`` = -0.8 deg, midfoot
in between. A lower-back pod cannot see the foot's pitch: its class is ``unknown``.
"""

from __future__ import annotations

from sensorkit.model import StrikeClass

REARFOOT_ABOVE_DEG = 7.4
"""Strike angles above this (deg, toes up) are rearfoot strikes."""
FOREFOOT_BELOW_DEG = -0.8
"""Strike angles below this (deg) are forefoot strikes."""
_UNKNOWN, _REARFOOT, _MIDFOOT, _FOREFOOT = (StrikeClass.UNKNOWN, StrikeClass.REARFOOT, StrikeClass.MIDFOOT,
                                            StrikeClass.FOREFOOT)
"""The members as module names (a step each): ``StrikeClass.X`` is ~10x a global's read on Python 3.11."""


def classify_strike(angle_deg: float | None) -> StrikeClass:
    """Rearfoot / midfoot / forefoot from the strike angle; unknown without one."""
    if angle_deg is None:
        return _UNKNOWN
    if angle_deg > REARFOOT_ABOVE_DEG:
        return _REARFOOT
    if angle_deg < FOREFOOT_BELOW_DEG:
        return _FOREFOOT
    return _MIDFOOT
