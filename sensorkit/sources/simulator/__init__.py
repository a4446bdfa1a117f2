"""A physically plausible synthetic runner with ground truth, behind the Source protocol.

Quick use::

    from sensorkit.sources.simulator import SimulatorSource, demo_runners
    sources = [SimulatorSource(cfg, speed=10) for cfg in demo_runners(3)]

See ``docs/simulator.md`` for the model, the conventions and the truth API.
"""

from sensorkit.sources.simulator.feed import ItemFeed, PodCounters
from sensorkit.sources.simulator.presets import demo_runners, fatigue_config, steady_config
from sensorkit.sources.simulator.profile import (
    STRIKE_ANGLE_DEG,
    FatigueProfile,
    PodConfig,
    RunnerProfile,
    SimulationConfig,
    default_pods,
    rotation_from_rpy_deg,
)
from sensorkit.sources.simulator.run import PodChunk, SimulatedRun
from sensorkit.sources.simulator.settings import SimulatorSettings
from sensorkit.sources.simulator.source import SimulatorSource
from sensorkit.sources.simulator.truth import RunTruth, StepTable, StepTruth, strike_class_of

__all__ = [
    "STRIKE_ANGLE_DEG",
    "FatigueProfile",
    "ItemFeed",
    "PodChunk",
    "PodConfig",
    "PodCounters",
    "RunTruth",
    "RunnerProfile",
    "SimulatedRun",
    "SimulationConfig",
    "SimulatorSettings",
    "SimulatorSource",
    "StepTable",
    "StepTruth",
    "default_pods",
    "demo_runners",
    "fatigue_config",
    "rotation_from_rpy_deg",
    "steady_config",
    "strike_class_of",
]
