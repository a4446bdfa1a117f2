"""User-facing TOML settings of the simulator (the ``[simulator]`` section)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sensorkit.model import PhoneWear
from sensorkit.model.settings import SETTINGS
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.simulator.presets import demo_runners
from sensorkit.sources.simulator.profile import SimulationConfig
from sensorkit.sources.simulator.source import SimulatorSource


class SimulatorSettings(BaseModel):
    """Simulated runners for ``sensorkit demo`` (and anywhere a source is configured)."""

    model_config = SETTINGS

    runners: int = Field(1, ge=1, le=16, description="Number of simulated runners (runner1 fatigues).")
    duration_s: float = Field(1920.0, gt=0, description="Length of the simulated run in seconds.")
    seed: int = Field(0, ge=0, description="Random seed; the same seed gives the same samples.")
    fatigue_onset_s: float = Field(1200.0, ge=0, description="When runner1's form starts to degrade, s.")
    phone: PhoneWear | None = Field(None, description="Add a phone worn here (pocket, armband, waist, hand).")
    speed_output: bool = Field(True, description="Emit RSC-like speed readings once a second.")
    block_duration_s: float = Field(0.04, ge=0.001, le=1.0,
                                    description="Samples per notification, as seconds (BLE-like blocks).")

    def configs(self) -> list[SimulationConfig]:
        return demo_runners(self.runners, self.duration_s, self.seed, self.fatigue_onset_s, self.phone,
                            1.0 if self.speed_output else None)

    def sources(self, speed: float = 1.0, clock: HostClock | None = None) -> list[SimulatorSource]:
        """One source per runner, paced at ``speed`` times real time (``math.inf``: flat out)."""
        return [SimulatorSource(c, speed=speed, block_duration_s=self.block_duration_s, clock=clock)
                for c in self.configs()]
