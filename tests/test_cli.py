"""The `sensorkit` command as a user runs it: in a subprocess, with real signals and files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensorkit.store.recording import RecordingReader

SENSORKIT = [sys.executable, "-m", "sensorkit"]


def sk(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SENSORKIT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def only_recording(cwd: Path) -> Path:
    recs = list((cwd / "recordings").glob("*.skrec"))
    assert len(recs) == 1, recs
    return recs[0]


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    import sensorkit

    out = sk("--version", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == f"sensorkit {sensorkit.__version__}"


def test_demo_runs_simulated_runners_through_the_whole_pipeline_into_a_recording(tmp_path: Path) -> None:
    out = sk("demo", "--speed", "max", "--duration-min", "1", "--runners", "2", "--no-terminal", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rec = RecordingReader(only_recording(tmp_path))
    assert [r.name for r in rec.info.runners] == ["runner1", "runner2"]
    assert len(rec.info.sensors) == 6
    steps = rec.records("steps")
    # One minute of running at ~170-180 steps/min per runner, minus the standing start.
    per_runner = {r: sum(1 for s in steps if s.runner == r) for r in ("runner1", "runner2")}
    assert all(120 <= n <= 200 for n in per_runner.values()), per_runner
    assert rec.records("rolling") and rec.records("posture") and rec.records("markers")
    for sid in rec.sensor_ids:
        assert len(rec.samples(sid)) > 100 * 55  # at least 55 s of samples per pod


def test_sigterm_stops_the_demo_gracefully_and_the_recording_is_complete(tmp_path: Path) -> None:
    proc = subprocess.Popen([*SENSORKIT, "demo", "--runners", "1", "--no-terminal"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "recordings").glob("*.skrec/meta.json")):
            time.sleep(0.1)
        time.sleep(3.0)  # let a few seconds of real-time samples flow
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopping" in err and "recording closed" in err
    rec = RecordingReader(only_recording(tmp_path))
    assert not rec.problems  # closed cleanly: no torn tail to trim
    markers = rec.records("markers")
    assert [m.kind.value for m in markers] == ["start", "stop"]
    # The stop marker is at the last sample that was accepted: nothing after it was lost.
    last_sample = max(rec.samples(sid).end_s for sid in rec.sensor_ids)
    assert markers[-1].time_s == pytest.approx(last_sample)
    assert last_sample > 2.0


def test_a_bad_config_is_reported_by_key_with_exit_code_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[runners]]\nname = "ann"\n  [[runners.pods]]\nplacement = "neck"\nname = "Polar"\n')
    out = sk("run", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert "runners[0].pods[0].placement = 'neck'" in out.stderr
    assert "Traceback" not in out.stderr


def test_run_without_a_bluetooth_adapter_says_so_in_one_line(tmp_path: Path) -> None:
    if Path("/sys/class/bluetooth").exists() and any(Path("/sys/class/bluetooth").iterdir()):
        pytest.skip("this machine has a Bluetooth adapter")
    cfg = tmp_path / "pods.toml"
    cfg.write_text('[recording]\nenabled = false\n[[runners]]\nname = "ann"\n'
                   '  [[runners.pods]]\nplacement = "lower_back"\nname = "Polar Sense"\n')
    out = sk("run", "--config", str(cfg), "--no-terminal", cwd=tmp_path, timeout=60)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "bluetooth" in out.stderr.lower() or "adapter" in out.stderr.lower()


def test_replay_reproduces_the_recorded_runs_metrics_with_its_recorded_settings(tmp_path: Path) -> None:
    cfg = tmp_path / "demo.toml"
    cfg.write_text("[simulator]\nrunners = 1\n[metrics]\nrolling_window_s = 4.0\n[dashboard]\nenabled = false\n")
    out = sk("demo", "--config", str(cfg), "--speed", "max", "--duration-min", "1", "--no-terminal", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    live = only_recording(tmp_path)
    # No --config: the replay takes [metrics] and [alerts] from the recording, not the defaults.
    out = sk("replay", str(live), "--max", "--record", str(tmp_path / "replayed"), "--no-terminal", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (replayed,) = (tmp_path / "replayed").glob("*.skrec")
    a, b = RecordingReader(live), RecordingReader(replayed)
    assert len(a.records("steps")) > 100
    for table in ("steps", "rolling", "posture"):
        assert a.records(table) == b.records(table), table
    # --max re-cuts on a 1-s grid: each sensor's events are the same, interleaved differently.
    sensors = {e.sensor_id for e in a.records("events")}
    for sid in sensors:
        assert [e for e in a.records("events") if e.sensor_id == sid] == \
            [e for e in b.records("events") if e.sensor_id == sid], sid
    assert {r.window_s for r in b.records("rolling")} == {4.0}


def test_the_command_list_and_an_unknown_command(tmp_path: Path) -> None:
    out = sk("--help", cwd=tmp_path)
    assert out.returncode == 0
    for cmd in ("demo", "run", "replay", "analyze", "export", "scan", "config"):
        assert f"    {cmd} " in out.stdout
    out = sk("nonsense", cwd=tmp_path)
    assert out.returncode == 2 and "invalid choice: 'nonsense'" in out.stderr and "'demo'" in out.stderr


def test_version_does_not_import_the_signal_processing(tmp_path: Path) -> None:
    probe = ("import sys\nfrom sensorkit.cli.main import main\ntry:\n    main(['--version'])\n"
             "except SystemExit:\n    pass\nprint(sorted(m for m in sys.modules if m.startswith('sensorkit.')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert "sensorkit.cli.main" in out.stdout and "sensorkit.dsp" not in out.stdout
