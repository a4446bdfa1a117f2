"""A full disk or failing writes on the recording path: logged, counted, survived, and recovered from.

Real mechanisms, not mocks: a 1 MiB tmpfs filled to the brim (needs root, as on the test
machines), and a file-size limit (RLIMIT_FSIZE -> EFBIG) in a child process.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import math
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from sensorkit.model import PostureSample, RunnerInfo, SampleBlock, SessionInfo
from sensorkit.pipeline.session import Session
from sensorkit.sources.replay import ReplaySource
from sensorkit.store.recording import WRITE_FAILED_REASON, RecordingReader, RecordingWriter
from sensorkit.store.recording.settings import RecordingSettings
from sensorkit.store.recording.sink import RecordingSink
from tests.support.sources import CollectSink, ramp_blocks, sensor

POD = sensor("ann", rate=200.0)
INFO = SessionInfo("full", 0.0, (RunnerInfo("ann"),), (POD,), "test")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for this test only."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the RLIMIT_FSIZE test covers write errors without it)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file; deleting it frees the space again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        chunk = b"\0" * 4096
        with contextlib.suppress(OSError):
            while True:
                f.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0")
    return filler


def _acc_x(r: RecordingReader) -> np.ndarray:
    return r.samples(POD.sensor_id).acc_g[:, 0]


def test_disk_full_keeps_data_in_memory_and_writes_it_when_space_returns(
        tiny_disk: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocks = ramp_blocks(POD, 30, 20)
    w = RecordingWriter(tiny_disk / "run.skrec", INFO, auto_flush=False)
    w.write_many(blocks[:10])
    w.flush()
    filler = fill(tiny_disk)

    w.write_many(blocks[10:20])
    w.write(PostureSample("ann", 1.0, 7.0))
    with caplog.at_level(logging.INFO):
        w.flush()  # must not raise
    st = w.stats()
    assert st.failing and st.write_errors >= 1 and st.retained_bytes > 0
    assert st.dropped_samples == 0 and "No space left" in (st.last_error or "")
    assert "cannot write" in caplog.text and "the session goes on" in caplog.text
    assert len(_acc_x(RecordingReader(tiny_disk / "run.skrec"))) == 200  # whole records only

    filler.unlink()
    w.write_many(blocks[20:])
    with caplog.at_level(logging.INFO):
        w.flush()
    w.close()
    assert "writing again" in caplog.text
    st = w.stats()
    assert not st.failing and st.dropped_samples == 0 and st.samples_written == 600
    r = RecordingReader(tiny_disk / "run.skrec")
    assert np.array_equal(_acc_x(r), np.arange(600.0))  # nothing lost, nothing garbled
    assert r.records(PostureSample) == [PostureSample("ann", 1.0, 7.0)]
    assert r.closed


def test_beyond_the_memory_bound_the_oldest_samples_are_dropped_and_recorded_as_gaps(tiny_disk: Path) -> None:
    blocks = ramp_blocks(POD, 40, 20)
    w = RecordingWriter(tiny_disk / "run.skrec", INFO, auto_flush=False, max_buffer_bytes=20 * 56 * 5)
    w.write_many(blocks[:5])
    w.flush()
    filler = fill(tiny_disk)
    for b in blocks[5:35]:  # 600 samples > 100-sample bound: dropped while the disk is full
        w.write(b)
        w.flush()
    assert w.stats().dropped_samples > 0
    filler.unlink()
    w.write_many(blocks[35:])
    w.close()

    r = RecordingReader(tiny_disk / "run.skrec")
    x = _acc_x(r)
    lost = w.stats().dropped_samples
    assert len(x) == 800 - lost
    assert np.array_equal(x[:100], np.arange(100.0)) and np.array_equal(x[-100:], np.arange(700.0, 800.0))
    gaps = [g for g in r.gaps() if g.reason == WRITE_FAILED_REASON]
    assert sum(g.lost_samples or 0 for g in gaps) == lost
    missing = np.setdiff1d(np.arange(800.0), x) / 200.0  # the sample times that never made it
    assert all(any(g.start_s <= t <= g.end_s for g in gaps) for t in missing)
    # the arrival-order log no longer matches the samples: replay re-cuts them on a grid instead
    assert r.order() is None
    replayed = asyncio.run(_replay(tiny_disk / "run.skrec"))
    assert np.array_equal(np.concatenate([b.acc_g[:, 0] for b in replayed if isinstance(b, SampleBlock)]), x)


async def _replay(path: Path) -> list[object]:
    async with ReplaySource(path, speed=math.inf) as src:
        return [item async for item in src.items()]


class _FillingSource:
    """Real-time-ish source that fills the disk midway, then frees it again."""

    def __init__(self, disk: Path) -> None:
        self.disk = disk
        self.sensors = [POD]

    async def __aenter__(self) -> _FillingSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def items(self) -> AsyncIterator[SampleBlock]:
        filler = None
        for k, block in enumerate(ramp_blocks(POD, 60, 10)):
            if k == 10:
                filler = fill(self.disk)
            if k == 45 and filler is not None:
                filler.unlink()
            yield block
            await asyncio.sleep(0.02)


async def test_a_session_keeps_running_while_its_recording_disk_is_full(tiny_disk: Path) -> None:
    sink = RecordingSink(tiny_disk / "live.skrec", INFO, settings=RecordingSettings(flush_interval_s=0.05))
    watcher = CollectSink("watcher")
    stats = await Session(INFO, [_FillingSource(tiny_disk)], {}, [sink, watcher]).run()

    assert not stats.errors  # no sink failed, nothing discarded
    assert sum(len(b) for b in watcher.items if isinstance(b, SampleBlock)) == 600
    st = sink.stats()
    assert st is not None and st.write_errors >= 1 and st.dropped_samples == 0
    assert np.array_equal(_acc_x(RecordingReader(tiny_disk / "live.skrec")), np.arange(600.0))


# A child process whose files may not grow past 64 KiB: every write beyond fails with EFBIG,
# some of them half-way through a record.
CHILD = r"""
import json, resource, signal, sys
import numpy as np
from sensorkit.model import RunnerInfo, SampleBlock, SessionInfo
from sensorkit.store.recording import RecordingWriter
from tests.support.sources import ramp_blocks, sensor

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
pod = sensor("ann", rate=200.0)
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
w = RecordingWriter(sys.argv[1], SessionInfo("fsize", 0.0, (RunnerInfo("ann"),), (pod,), "test"),
                    auto_flush=False, max_buffer_bytes=32 * 1024)
for block in ramp_blocks(pod, 100, 33):
    w.write(block)
    w.flush()
w.close()
st = w.stats()
print(json.dumps({"errors": st.write_errors, "dropped": st.dropped_samples, "written": st.samples_written,
                  "last_error": st.last_error}))
"""


def test_write_errors_never_leave_a_torn_record_inside_a_stream(tmp_path: Path) -> None:
    path = tmp_path / "fsize.skrec"
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["errors"] > 0 and out["dropped"] > 0
    assert os.strerror(errno.EFBIG) in out["last_error"]
    assert "cannot write" in done.stderr  # the log line

    r = RecordingReader(path)
    assert not r.skipped  # failed writes were cut back: no partial record anywhere
    x = _acc_x(r)
    assert len(x) == out["written"] and len(x) * 56 <= 64 * 1024
    assert np.array_equal(x, np.arange(len(x), dtype=float))  # a clean prefix, then the limit
    gaps = r.gaps()  # every sample given up is accounted for by a gap
    assert sum(g.lost_samples or 0 for g in gaps if g.reason == WRITE_FAILED_REASON) == out["dropped"]
    assert len(x) + out["dropped"] == 3300
