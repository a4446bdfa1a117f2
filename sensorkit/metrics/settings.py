"""User-facing settings of the gait metrics (the ``[metrics]`` config section)."""

from __future__ import annotations

import dataclasses

from pydantic import BaseModel, Field

from sensorkit.dsp.chain import DspSettings
from sensorkit.model.settings import SETTINGS


class MetricsSettings(BaseModel):
    """Knobs a user may want; everything else is a validated default in ``sensorkit.dsp``."""

    model_config = SETTINGS

    posture_rate_hz: float = Field(10.0, gt=0, le=100,
                                   description="Rate of trunk-lean (PostureSample) records, Hz.")
    rolling_window_s: float = Field(10.0, gt=0, le=600,
                                    description="Window of the 1 Hz rolling summaries (RollingMetrics), s.")
    cadence_smoothing_steps: int = Field(8, ge=1, le=64,
                                         description="Steps averaged for the smoothed cadence.")
    ahrs_rate_hz: float = Field(25.0, gt=0, le=1000,
                                description="Rate the trunk-lean AHRS runs at after averaging, Hz "
                                            "(lower costs less CPU; see docs/dsp.md for accuracy).")
    match_tolerance_s: float = Field(0.08, gt=0, le=0.2,
                                     description="Contacts of different pods closer than this are one "
                                                 "touchdown, s.")
    stale_s: float = Field(2.0, gt=0, le=30,
                           description="A pod silent for this long is not waited for when fusing steps, s.")
    speed_max_age_s: float = Field(5.0, gt=0, le=60,
                                   description="A speed reading older than this is not attached to a "
                                               "step, s.")

    @property
    def invariant_block_s(self) -> float:
        """Blocks up to this long give the live run's records (tests/test_metrics_block_invariance.py).

        Within a block one pod's data runs up to a block ahead of another's, which must not
        make the slower pod look silent.
        """
        return 0.5 * self.stale_s

    def dsp_settings(self) -> DspSettings:
        base = DspSettings()
        posture = dataclasses.replace(base.posture, ahrs_rate_hz=self.ahrs_rate_hz)
        return dataclasses.replace(base, posture=posture)
