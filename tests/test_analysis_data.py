"""Small sessions for the research tests, made with the simulator and RecordingWriter.

A "fatigue" session: three pods at 200 Hz, speed readings at 1 Hz, the runner fresh for the
first minute and clearly fatigued after (more trunk lean, harder impacts, lower cadence).
Cue settings are shortened (settle 5 s, warm-up 30 s) so cues and a fatigue onset happen in a
session of a few minutes; they are the same settings the tests pass to the analysis.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from sensorkit.alerts import AlertsSettings
from sensorkit.analysis.session import StageSettings
from sensorkit.model import Placement, RunnerInfo, SessionInfo
from sensorkit.sources.simulator import FatigueProfile, PodConfig, RunnerProfile, SimulatedRun, SimulationConfig
from sensorkit.sources.simulator.feed import ItemFeed
from sensorkit.store.recording import RecordingWriter

START_UNIX_S = 1_767_225_600.0  # 2026-01-01 00:00 UTC
FATIGUE_ONSET_S = 60.0
ALERTS = AlertsSettings(settle_s=5.0, warmup_s=30.0, min_warmup_samples=10)
STAGES = StageSettings(alerts=ALERTS)


def fatigue_run(duration_s: float = 150.0, seed: int = 3, name: str = "runner1",
                placements: tuple[Placement, ...] = (Placement.LOWER_BACK, Placement.LEFT_FOOT,
                                                     Placement.RIGHT_FOOT)) -> SimulatedRun:
    fatigue = FatigueProfile(onset_s=FATIGUE_ONSET_S, ramp_s=20.0, trunk_lean_deg=8.0, cadence_pct=-8.0,
                             impact_pct=40.0, contact_time_pct=12.0)
    runner = RunnerProfile(name=name, fatigue=fatigue, initial_standing_s=3.0)
    pods = tuple(PodConfig(p) for p in placements)  # type: ignore[arg-type]
    return SimulatedRun(SimulationConfig(runner=runner, pods=pods, duration_s=duration_s, seed=seed,
                                         speed_output_hz=1.0))


def write_recording(path: Path, run: SimulatedRun, *, start_unix_s: float = START_UNIX_S, shoe: str | None = None,
                    session_id: str | None = None) -> Path:
    """The simulator's items, in arrival order, as a recording (no records: analysis makes them)."""
    info = SessionInfo(session_id or path.stem, start_unix_s, (RunnerInfo(run.runner.name, shoe=shoe),),
                       run.sensors, "test")
    with RecordingWriter(path, info) as w:
        for window in ItemFeed(run).windows():
            w.write_many(item for _, item in window)
    return path


def write_back_csv(path: Path, duration_s: float = 40.0, seed: int = 1) -> Path:
    """A lower-back pod as a CSV per the public contract."""
    run = fatigue_run(duration_s, seed=seed, placements=(Placement.LOWER_BACK,))
    ch = run.samples(Placement.LOWER_BACK, 0.0, duration_s)
    with open(path, "w") as f:
        f.write("time_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n")
        np.savetxt(f, np.column_stack([ch.time_s, ch.acc_g, ch.gyr_dps]), delimiter=",", fmt="%.6f")
    return path


def png_pixels(png: bytes) -> np.ndarray:
    """RGB pixels of a PNG in [0, 1] (matplotlib's own PNG reader)."""
    from matplotlib.image import imread

    return np.asarray(imread(io.BytesIO(png), format="png"))[..., :3]


def assert_not_blank(png: bytes, *, min_data_pixels: int = 200) -> None:
    """A real plot: varied pixels, a fair share not background, and data drawn in a data colour.

    Axes, ticks and labels alone are black/grey on white; the data (lines, dots, bars) is
    coloured, so coloured pixels prove the figure shows data.
    """
    px = png_pixels(png)
    assert px.shape[0] > 100 and px.shape[1] > 300
    assert float(px.var()) > 1e-3
    background = np.all(px > 0.97, axis=-1)
    assert 0.02 < 1.0 - float(background.mean()) < 0.9
    chroma = px.max(axis=-1) - px.min(axis=-1)
    assert int(np.count_nonzero(chroma > 0.25)) >= min_data_pixels


def test_a_blank_figure_fails_the_blank_check() -> None:
    """The check itself must be able to fail: an empty axes has no data-coloured pixels."""
    import pytest
    from matplotlib.figure import Figure

    from sensorkit.analysis.plots import png

    fig = Figure(figsize=(6, 2))
    fig.add_subplot().set_xlabel("time (min)")
    with pytest.raises(AssertionError):
        assert_not_blank(png(fig))
