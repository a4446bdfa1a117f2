"""The demo session shipped in recordings/ is a golden recording: it opens, and replaying it
through the live pipeline reproduces every metric it recorded (regenerate it with the command in
recordings/README.md after an intended change to the simulator or the DSP)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from sensorkit.compose import Mode, assemble, replay_config
from sensorkit.config import Config
from sensorkit.model import Placement
from sensorkit.store.recording import RecordingReader
from tests.support.sources import CollectSink

GOLDEN = Path(__file__).resolve().parents[1] / "recordings" / "demo.skrec"
TABLES = ("events", "steps", "rolling", "posture", "calibration", "fatigue")


def test_the_shipped_recording_holds_a_minute_of_three_pods_and_its_metrics() -> None:
    rec = RecordingReader(GOLDEN)
    assert not rec.problems
    assert {s.placement for s in rec.info.sensors} == {Placement.LOWER_BACK, Placement.LEFT_FOOT,
                                                       Placement.RIGHT_FOOT}
    for sid in rec.sensor_ids:
        block = rec.samples(sid)
        assert block.end_s - block.start_s > 55.0 and block.gyr_dps is not None
    steps = rec.records("steps")
    running_s = steps[-1].time_s - steps[0].time_s
    assert 150 <= 60.0 * (len(steps) - 1) / running_s <= 200  # a plausible cadence


def test_replaying_it_through_the_live_pipeline_reproduces_every_recorded_metric() -> None:
    cfg = replay_config(GOLDEN, Config())
    assembly = assemble(cfg, Mode.REPLAY, speed=math.inf, replay=GOLDEN, terminal=False, record=False,
                        dashboard=False)
    sink = CollectSink(queue_size=4096)
    assembly.sinks[:] = [s for s in assembly.sinks if s.name not in {"audio"}] + [sink]
    asyncio.run(assembly.session().run())
    recorded = RecordingReader(GOLDEN)
    for table in TABLES:
        want = recorded.records(table)
        got = [x for x in sink.items if type(x) is type(want[0])] if want else []
        # At maximum speed the replay re-cuts the samples on a 1-s grid: two sensors' events
        # then interleave differently, each sensor's own records come in the same order.
        assert _per_sensor(got) == _per_sensor(want), table


def _per_sensor(records: list[object]) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for r in records:
        out.setdefault(getattr(r, "sensor_id", ""), []).append(r)
    return out
