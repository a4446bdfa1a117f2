"""The cue engine inside a real Session: same cues as offline, delivered to the audio sink."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sensorkit.alerts import AlertsSettings, CueEngine
from sensorkit.alerts.audio import AudioSettings, build_audio_sink
from sensorkit.alerts.synthetic import Drift, StreamSpec, rolling_stream
from sensorkit.model import BusItem, Cue, FatigueState, Record, RollingMetrics, RunnerInfo, SampleBlock, SessionInfo
from sensorkit.pipeline.channel import OverflowPolicy
from sensorkit.pipeline.session import Session
from tests.support.sources import CollectSink, ListSource, sensor

FATIGUE = [Drift("trunk_lean_deg", 900, 4.0, 180), Drift("impact_g", 900, 20.0, 180)]


class ScriptedMetrics:
    """Stands in for the metrics stage: releases scripted RollingMetrics as data time passes."""

    def __init__(self, records: list[RollingMetrics]) -> None:
        self._records = records
        self._i = 0

    def update(self, item: BusItem) -> list[Record]:
        if not isinstance(item, SampleBlock):
            return []
        out: list[Record] = []
        while self._i < len(self._records) and self._records[self._i].time_s <= item.end_s:
            out.append(self._records[self._i])
            self._i += 1
        return out

    def finish(self) -> list[Record]:
        return []


async def test_cues_through_the_session_equal_the_offline_engines_and_reach_audio(tmp_path: Path) -> None:
    records = rolling_stream(StreamSpec(1300, FATIGUE, seed=4), runner="ann")
    engine = CueEngine("ann")
    offline = [r for rec in records for r in engine.update(rec) if isinstance(r, Cue)]
    assert offline

    info_sensor = sensor("ann")
    blocks = [SampleBlock(info_sensor.sensor_id, np.array([t]), np.array([[0.0, 0.0, 1.0]]))
              for t in np.arange(0.0, 1301.0, 1.0)]
    info = SessionInfo("s1", 0.0, (RunnerInfo("ann"),), (info_sensor,), "test")
    audio = build_audio_sink(AudioSettings(output="wav", wav_dir=tmp_path / "wav", cache_dir=tmp_path / "cache"),
                             AlertsSettings())
    assert audio is not None
    collect = CollectSink(accepts=(Cue, FatigueState), policy=OverflowPolicy.BLOCK, queue_size=64)
    session = Session(info, [ListSource([info_sensor], blocks)],
                      {"ann": [ScriptedMetrics(records), CueEngine("ann")]}, [audio, collect])
    stats = await session.run()

    live = [x for x in collect.items if isinstance(x, Cue)]
    assert live == offline
    assert [d.cue for d in audio.deliveries] == live
    assert len(list((tmp_path / "wav").glob("*.wav"))) == len(live)
    assert stats.items["FatigueState"] >= 1200 and not stats.errors
