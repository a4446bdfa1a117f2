"""Issue 9's promise end to end: the real demo pipeline (simulator -> DSP -> metrics -> cues ->
recording), replayed from its recording with the recorded configuration, gives the live run's
records exactly, at maximum speed (re-cut on a 1-s grid) and at 1000x (the live blocks)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from sensorkit.compose import Assembly, Mode, assemble
from sensorkit.config import Config, demo_config
from sensorkit.model import RECORD_NAMES, SessionMarker
from sensorkit.sources.simulator.settings import SimulatorSettings
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.settings import RecordingSettings

SIM = {"runners": 2, "duration_s": 25.0, "seed": 11}


def _recording_to(cfg: Config, directory: Path) -> Config:
    """Record into ``directory``; no audio files (cues are records either way)."""
    return cfg.model_copy(update={"recording": RecordingSettings(directory=directory, name="{session_id}"),
                                  "audio": cfg.audio.model_copy(update={"enabled": False})})


def _by_owner(records: list[object]) -> dict[tuple[str, str], list[str]]:
    """Each runner's records per sensor in order, as reprs (NaN-safe). Two runners' records
    interleave differently from run to run, and so do two sensors' events when a replay at
    maximum speed re-cuts the samples on a 1-s grid; per runner and sensor the order is part of
    the result."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in records:
        key = (getattr(r, "runner", None) or "", getattr(r, "sensor_id", None) or "")
        out[key].append(repr(r))
    return dict(out)


async def _run(assembly: Assembly) -> Path:
    stats = await assembly.session().run()
    assert not stats.errors, stats.errors
    assert assembly.recording_path is not None
    return assembly.recording_path


async def test_a_replay_of_the_demo_reproduces_every_live_record(tmp_path: Path) -> None:
    base = demo_config()
    sim = SimulatorSettings.model_validate({**(base.simulator or SimulatorSettings()).model_dump(), **SIM})
    metrics = base.metrics.model_copy(update={"ahrs_rate_hz": 12.5})  # not the default: replay must use it
    cfg = _recording_to(base.model_copy(update={"simulator": sim, "metrics": metrics}), tmp_path / "live")
    live = RecordingReader(await _run(assemble(cfg, Mode.DEMO, speed=math.inf, record=True, terminal=False,
                                               dashboard=False)))
    assert len(live.records("steps")) > 50 and live.problems == []

    recorded_cfg = Config.model_validate(live.config)  # the configuration the live run used
    for name, speed in (("max", math.inf), ("x1000", 1000.0)):
        cfg = _recording_to(recorded_cfg, tmp_path / name)
        replayed = RecordingReader(await _run(assemble(cfg, Mode.REPLAY, speed=speed, replay=live.path,
                                                       record=True, terminal=False, dashboard=False)))
        for table in sorted(set(RECORD_NAMES.values()) - {RECORD_NAMES[SessionMarker]}):
            assert _by_owner(replayed.records(table)) == _by_owner(live.records(table)), f"{name}: {table} differs"
        for sid in live.sensor_ids:
            assert replayed.samples(sid).acc_g.tobytes() == live.samples(sid).acc_g.tobytes()
