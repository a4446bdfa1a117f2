"""The process as a user runs it, hit by signals while a slow sink flushes.

`sensorkit demo` writes a recording and streams to an InfluxDB that cannot be reached (its
points go to the on-disk spool); then SIGTERM, a second SIGTERM during the flush, or kill -9.
Each test checks the exit code, the log lines a user sees, and what is left on disk.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensorkit.store.recording import RecordingReader
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def demo_config(tmp: Path, drain_s: float) -> Path:
    cfg = tmp / "demo.toml"
    cfg.write_text(f"""
[session]
name = "flush"

[simulator]
runners = 1
duration_s = 600

[recording]
directory = "{tmp / 'rec'}"

[audio]
enabled = false

[dashboard]
enabled = false

[influx]
enabled = true
api = "v1"
url = "http://127.0.0.1:{free_port()}"
spool_dir = "{tmp / 'spool'}"
flush_interval_s = 0.5
retry_initial_s = 0.2
retry_max_s = 1.0
shutdown_drain_s = {drain_s}
""")
    return cfg


class Demo:
    """`sensorkit demo` in a subprocess, its stderr in a file we can poll."""

    def __init__(self, tmp: Path, drain_s: float) -> None:
        self.tmp = tmp
        self.err_path = tmp / "stderr.log"
        with self.err_path.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "sensorkit", "demo", "--config",
                                          str(demo_config(tmp, drain_s)), "--no-terminal"],
                                         cwd=tmp, stdout=subprocess.DEVNULL, stderr=err)

    @property
    def log(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log:
            assert self.proc.poll() is None, f"exited early:\n{self.log[-3000:]}"
            assert time.monotonic() < deadline, f"never logged {text!r}:\n{self.log[-3000:]}"
            time.sleep(0.1)

    def spool_files(self) -> list[Path]:
        return sorted((self.tmp / "spool").rglob("*.lp"))

    def wait_for_spool(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.spool_files():
            assert time.monotonic() < deadline, self.log[-3000:]
            time.sleep(0.1)

    def finish(self, timeout_s: float = 120.0) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self.proc.kill()
            self.proc.wait()

    def recording(self) -> RecordingReader:
        (path,) = (self.tmp / "rec").glob("*.skrec")
        return RecordingReader(path)


def spooled_points(files: list[Path]) -> int:
    """Points in the spool; each file is whole (its name says how many lines it holds)."""
    total = 0
    for f in files:
        lines = f.read_bytes().splitlines()
        assert len(lines) == int(f.stem.split("-")[1]), f
        assert all(b" " in line for line in lines)  # complete line-protocol points
        total += len(lines)
    return total


def test_sigterm_while_the_database_is_unreachable_flushes_to_the_spool_and_exits_cleanly(tmp_path: Path) -> None:
    demo = Demo(tmp_path, drain_s=2.0)
    demo.wait_for("spools to")
    demo.wait_for_spool()
    time.sleep(1.0)
    demo.proc.send_signal(signal.SIGTERM)
    code = demo.finish()
    log = demo.log
    assert code == 0, log[-3000:]
    assert "Traceback" not in log
    assert "SIGTERM: stopping, flushing recordings and sinks" in log
    left = re.search(r"(\d+) points stay in the spool (\S+) and are sent at the next start", log)
    assert left is not None, log[-3000:]
    assert spooled_points(demo.spool_files()) == int(left.group(1)) > 0
    rec = demo.recording()
    assert rec.closed and not rec.problems
    markers = rec.records("markers")
    assert [m.kind.value for m in markers] == ["start", "stop"]
    last_sample = max(rec.samples(sid).end_s for sid in rec.sensor_ids)
    assert markers[-1].time_s == pytest.approx(last_sample)  # nothing accepted after the last sample


def test_a_second_sigterm_during_a_long_flush_forces_the_exit_and_keeps_recording_and_spool(
        tmp_path: Path) -> None:
    demo = Demo(tmp_path, drain_s=600.0)  # the flush would wait ten minutes for the database
    demo.wait_for("spools to")
    demo.wait_for_spool()
    demo.proc.send_signal(signal.SIGTERM)
    demo.wait_for("draining and flushing sinks")
    time.sleep(1.0)
    demo.proc.send_signal(signal.SIGTERM)
    code = demo.finish(timeout_s=60)
    log = demo.log
    assert code == 130, log[-3000:]  # interrupted, like Ctrl-C
    assert "Traceback" not in log
    assert "SIGTERM again: forcing stop" in log
    assert re.search(r"\d+ points written, \d+ spooled on the way, [1-9]\d* left in the spool", log), log[-3000:]
    assert spooled_points(demo.spool_files()) > 0
    rec = demo.recording()
    assert rec.closed and rec.sample_count(rec.sensor_ids[0]) > 0


def test_kill_9_leaves_a_readable_recording_and_only_whole_spool_files(tmp_path: Path) -> None:
    demo = Demo(tmp_path, drain_s=2.0)
    demo.wait_for("spools to")
    demo.wait_for_spool()
    time.sleep(2.0)
    demo.proc.kill()
    assert demo.finish() == -signal.SIGKILL
    assert spooled_points(demo.spool_files()) > 0  # no torn or temporary file is taken for a batch
    rec = demo.recording()
    assert not rec.closed  # it never got to close: it still opens, with what was flushed
    assert all(rec.sample_count(sid) > 0 for sid in rec.sensor_ids)
    assert [m.kind.value for m in rec.records("markers")] == ["start"]
