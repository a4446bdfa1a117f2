"""Ready-made runners: a steady one for false-alarm benches, a fatiguing one, and a demo crowd."""

from __future__ import annotations

import dataclasses

import numpy as np

from sensorkit.model import PhoneWear, Placement
from sensorkit.sources.simulator.profile import (
    FatigueProfile,
    PodConfig,
    RunnerProfile,
    SimulationConfig,
    default_pods,
)


def steady_config(duration_s: float = 3600.0, seed: int = 0, name: str = "runner1",
                  wander_pct: float = 1.0, wander_lean_deg: float = 0.5) -> SimulationConfig:
    """No fatigue at all: anything a fatigue detector reports on this run is a false alarm.

    The runner still drifts naturally over minutes (``wander_pct`` SD of cadence, contact time
    and impacts; ``wander_lean_deg`` SD of lean), as real runners do; set both to 0 for a
    perfectly stationary runner.
    """
    return SimulationConfig(RunnerProfile(name=name, wander_pct=wander_pct, wander_lean_deg=wander_lean_deg),
                            default_pods(), duration_s, seed)


def fatigue_config(duration_s: float = 2400.0, seed: int = 0, name: str = "runner1",
                   onset_s: float = 1200.0) -> SimulationConfig:
    """The issue's fatigue timeline.

    From ``onset_s``, ramping over 3 min: lean +4 deg, cadence -4 %, impact +20 %, contact
    time +8 %.
    """
    return SimulationConfig(RunnerProfile(name=name, fatigue=FatigueProfile(onset_s=onset_s)), default_pods(),
                            duration_s, seed)


def _crowd_member(i: int, seed: int) -> tuple[RunnerProfile, tuple[PodConfig, ...]]:
    """Runners 4, 5, ...: varied parameters drawn from the seed."""
    rng = np.random.default_rng([seed, 97, i])
    strike = float(rng.choice([15.0, 11.0, 4.0, -6.0]))
    profile = RunnerProfile(
        name=f"runner{i + 1}", speed_mps=float(rng.uniform(2.6, 4.4)),
        cadence_spm=float(rng.uniform(160, 190)), contact_time_ms=float(rng.uniform(210, 270)),
        impact_back_g=float(rng.uniform(2.2, 3.2)), impact_shoe_g=float(rng.uniform(6, 13)),
        strike_angle_deg=strike, trunk_lean_deg=float(rng.uniform(3, 12)),
        contact_asymmetry_pct=float(rng.uniform(-4, 4)))
    rate = float(rng.choice([100.0, 200.0, 208.0]))
    return profile, default_pods(rate)


def demo_runners(n: int = 1, duration_s: float = 1920.0, seed: int = 0,
                 fatigue_onset_s: float = 1200.0, phone: PhoneWear | None = None,
                 speed_output_hz: float | None = 1.0) -> list[SimulationConfig]:
    """``n`` varied runners for the demo.

    Runner 1 fatigues from ``fatigue_onset_s``; runner 2 is a midfoot striker with 208 Hz
    pods, a rotated back pod, clock drift, 1 % packet loss and a 20 s pause at 10 min;
    runner 3 a forefoot striker with a 100 Hz back pod; the rest are drawn from the seed.
    ``phone`` adds a phone pod (100 Hz) to every runner.
    """
    if n < 1:
        raise ValueError("demo_runners needs n >= 1")
    out: list[SimulationConfig] = []
    for i in range(n):
        if i == 0:
            profile = RunnerProfile(name="runner1", speed_mps=3.2, cadence_spm=168, contact_time_ms=255,
                                    strike_angle_deg=12.0, trunk_lean_deg=7.0,
                                    fatigue=FatigueProfile(onset_s=fatigue_onset_s))
            pods = default_pods(200.0)
        elif i == 1:
            profile = RunnerProfile(name="runner2", speed_mps=3.6, cadence_spm=178, contact_time_ms=230,
                                    impact_back_g=2.4, impact_shoe_g=7.0, strike_angle_deg=3.0,
                                    trunk_lean_deg=5.0, contact_asymmetry_pct=4.0, pauses=((600.0, 20.0),))
            pods = (PodConfig(Placement.LOWER_BACK, 208.0, mount_rpy_deg=(3.0, -85.0, 90.0),
                              clock_drift_ppm=40.0, loss_fraction=0.01, loss_burst_packets=2.0),
                    PodConfig(Placement.LEFT_FOOT, 208.0, mount_rpy_deg=(0.0, 0.0, 180.0),
                              clock_drift_ppm=-25.0, loss_fraction=0.01),
                    PodConfig(Placement.RIGHT_FOOT, 208.0, mount_rpy_deg=(0.0, 0.0, 180.0),
                              clock_drift_ppm=15.0, loss_fraction=0.01))
        elif i == 2:
            profile = RunnerProfile(name="runner3", speed_mps=4.2, cadence_spm=186, contact_time_ms=205,
                                    impact_back_g=3.0, impact_shoe_g=12.0, strike_angle_deg=-6.0,
                                    toe_off_pitch_deg=-40.0, trunk_lean_deg=10.0)
            pods = (PodConfig(Placement.LOWER_BACK, 100.0), *default_pods(200.0)[1:])
        else:
            profile, pods = _crowd_member(i, seed)
        if phone is not None:
            pods = (*pods, PodConfig(Placement.PHONE, 100.0, acc_range_g=8.0, phone_wear=phone))
        out.append(SimulationConfig(profile, pods, duration_s, seed + i, speed_output_hz))
    return out


def with_seed(config: SimulationConfig, seed: int) -> SimulationConfig:
    return dataclasses.replace(config, seed=seed)
