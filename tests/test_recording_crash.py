"""kill -9 during a live recording: the recording opens and holds everything up to <= 1 s before."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sensorkit.model import SampleBlock, StepEvent
from sensorkit.sources.replay import ReplaySource
from sensorkit.store.recording import RecordingReader

# A real session in a child process: a real-time source (8 samples per pod every 40 ms on the
# host clock) -> a per-runner stage (one StepEvent per block) -> RecordingSink. The source
# notes how far it has produced in a side file, so the parent knows what existed at the kill.
CHILD = r"""
import asyncio, struct, sys
import numpy as np
from sensorkit.model import (EventKind, Placement, RunnerInfo, SampleBlock, SensorInfo, SessionInfo,
                             Side, StepEvent)
from sensorkit.pipeline.clock import HostClock
from sensorkit.pipeline.session import Session
from sensorkit.store.recording.sink import RecordingSink

path, progress_path = sys.argv[1], sys.argv[2]
clock = HostClock()
SENSORS = tuple(SensorInfo(f"ann/{p.value}", "ann", p, 200.0)
                for p in (Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT))
INFO = SessionInfo("crash", clock.start_unix_s, (RunnerInfo("ann"),), SENSORS, "test")

class LiveRamp:
    sensors = SENSORS
    async def __aenter__(self): return self
    async def __aexit__(self, *exc): pass
    async def items(self):
        progress = open(progress_path, "r+b", buffering=0)
        k = 0
        while True:
            await asyncio.sleep(max(0.0, (k + 1) * 0.04 - clock.now_s()))
            idx = np.arange(k * 8, (k + 1) * 8, dtype=float)
            acc = np.zeros((8, 3)); acc[:, 0] = idx
            for s in SENSORS:
                yield SampleBlock(s.sensor_id, idx / 200.0, acc, np.ones((8, 3)))
            progress.seek(0); progress.write(struct.pack("<d", idx[-1] / 200.0))
            k += 1

class OneEventPerBlock:
    def update(self, item):
        if isinstance(item, SampleBlock) and item.sensor_id == "ann/lower_back":
            return [StepEvent("ann", item.end_s, EventKind.INITIAL_CONTACT, Side.LEFT, item.sensor_id,
                              Placement.LOWER_BACK)]
        return []
    def finish(self): return []

print("running", flush=True)
asyncio.run(Session(INFO, [LiveRamp()], {"ann": [OneEventPerBlock()]}, [RecordingSink(path, INFO)]).run())
"""


def test_kill_9_loses_at_most_the_last_second_and_the_recording_still_opens(tmp_path: Path) -> None:
    path, progress = tmp_path / "crash.skrec", tmp_path / "progress"
    progress.write_bytes(bytes(8))
    with subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(progress)],
                          stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "running\n"
            deadline = time.monotonic() + 30
            while np.frombuffer(progress.read_bytes(), "<f8")[0] < 3.0:  # ~3 s of live data
                assert time.monotonic() < deadline and child.poll() is None
                time.sleep(0.05)
            os.kill(child.pid, signal.SIGKILL)
            produced_s = float(np.frombuffer(progress.read_bytes(), "<f8")[0])
        finally:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    r = RecordingReader(path)  # opens: no exception
    assert not r.closed and "not closed cleanly" in r.problems[0]
    for sid in r.sensor_ids:
        block = r.samples(sid)
        # every sample up to the end is there, in order, none missing or garbled
        assert np.array_equal(block.acc_g[:, 0], np.arange(len(block), dtype=float))
        assert np.array_equal(block.time_s, np.arange(len(block)) / 200.0)
        assert block.end_s >= produced_s - 1.0, f"{sid}: lost {produced_s - block.end_s:.2f} s"
    events = r.records(StepEvent)
    assert events and events[-1].time_s >= produced_s - 1.0

    # and it replays: every sample on disk comes back, in the live blocks as far as the order log goes
    items = asyncio.run(_replay(path))
    for sid in r.sensor_ids:
        got = np.concatenate([b.acc_g[:, 0] for b in items if isinstance(b, SampleBlock) and b.sensor_id == sid])
        assert np.array_equal(got, r.samples(sid).acc_g[:, 0])
    assert {len(b) for b in items[:-30] if isinstance(b, SampleBlock)} == {8}


async def _replay(path: Path) -> list[object]:
    async with ReplaySource(path, speed=math.inf) as src:
        return [item async for item in src.items()]
