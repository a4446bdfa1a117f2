"""``sensorkit export --fit/--csv/--parquet``: FIT decoded by an independent library (fitdecode)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import fitdecode
import numpy as np
import pyarrow.parquet as pq
import pytest

from sensorkit.analysis.exports import export_fit, runner_data
from sensorkit.analysis.fit import FitExportError, activity_from, encode_fit
from sensorkit.cli.main import main
from sensorkit.metrics.files import STEP_COLUMNS
from sensorkit.sources.csv_import import read_csv
from sensorkit.store.recording import RecordingReader
from tests.test_analysis_data import START_UNIX_S, fatigue_run, write_back_csv, write_recording


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recording(tmp_path_factory.mktemp("rec") / "run.skrec", fatigue_run(90.0, seed=5), shoe="Pegasus")


def _decode(path: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with fitdecode.FitReader(str(path), check_crc=fitdecode.CrcCheck.ENABLED) as reader:
        for frame in reader:
            if isinstance(frame, fitdecode.FitDataMessage):
                out.setdefault(frame.name, []).append({f.name: f.value for f in frame.fields})
    return out


def test_fit_activity_round_trips_through_fitdecode(recording: Path, tmp_path: Path) -> None:
    with RecordingReader(recording) as reader:
        paths = export_fit(reader, tmp_path / "run.fit")
        data = runner_data(reader, "runner1")
    msgs = _decode(paths[0])  # CRCs checked by fitdecode
    assert msgs["file_id"][0]["type"] == "activity"
    assert msgs["device_info"][0]["product_name"] == "sensorkit"  # the creator
    session, lap, activity = msgs["session"][0], msgs["lap"][0], msgs["activity"][0]
    assert session["sport"] == "running" and activity["num_sessions"] == 1
    assert session["trigger"] == "activity_end" and lap["lap_trigger"] == "session_end"
    start = dt.datetime.fromtimestamp(START_UNIX_S, dt.UTC)
    assert session["start_time"] == start
    records = msgs["record"]
    assert 88 <= len(records) <= 91  # one a second
    assert records[0]["timestamp"] == start + dt.timedelta(seconds=1)

    rolling = data.rolling
    for rec in records[20::10]:  # running, after the metrics warmed up
        t = (rec["timestamp"] - start).total_seconds()
        i = int(np.searchsorted(rolling["time_s"], t, side="right")) - 1
        spm = 2 * (rec["cadence"] + rec["fractional_cadence"])
        assert spm == pytest.approx(rolling["cadence_spm"][i], abs=0.02)  # 1/128 stride/min resolution
        assert rec["stance_time"] == pytest.approx(rolling["contact_time_ms"][i], abs=0.06)
        assert rec["vertical_oscillation"] == pytest.approx(rolling["vertical_oscillation_cm"][i] * 10, abs=0.06)
        assert rec["stance_time_balance"] == pytest.approx(rolling["balance_left_pct"][i], abs=0.006)
        k = int(np.searchsorted(data.speed["time_s"], t, side="right")) - 1
        assert rec["speed"] == pytest.approx(data.speed["speed_mps"][k], abs=0.0006)
        assert 2.5 < rec["speed"] < 3.5
        step_m = rec["speed"] / (spm / 60.0)
        assert rec["step_length"] == pytest.approx(step_m * 1000, rel=0.01)
        assert rec["vertical_ratio"] == pytest.approx(rec["vertical_oscillation"] / rec["step_length"] * 100, rel=0.01)
    assert records[-1]["distance"] == pytest.approx(session["total_distance"], abs=0.01)
    assert 240 < session["total_distance"] < 280  # ~87 s at 3 m/s after standing 3 s
    steps = data.steps
    mean_spm = float(np.nanmean(steps["cadence_spm"]))
    assert 2 * (session["avg_running_cadence"] + session["avg_fractional_cadence"]) == pytest.approx(mean_spm, abs=0.02)
    assert session["avg_stance_time"] == pytest.approx(float(np.nanmean(steps["contact_time_ms"])), abs=0.06)
    assert session["avg_vertical_oscillation"] == pytest.approx(
        float(np.nanmean(steps["vertical_oscillation_cm"])) * 10, abs=0.06)
    assert session["total_strides"] == len(steps["time_s"]) // 2
    assert lap["total_timer_time"] == session["total_timer_time"] == pytest.approx(len(records), abs=1)
    assert [e["event_type"] for e in msgs["event"]] == ["start", "stop_all"]


def test_fit_needs_a_wall_clock_start(recording: Path) -> None:
    with RecordingReader(recording) as reader:
        data = runner_data(reader, "runner1")
    activity = activity_from(data, 0.0, 0.0, 60.0)
    with pytest.raises(FitExportError, match="no wall-clock start"):
        encode_fit(activity)


def test_cli_exports_csv_that_reimports_and_parquet_that_pandas_reads(recording: Path, tmp_path: Path) -> None:
    code = main(["export", str(recording), "--csv", str(tmp_path / "csv"), "--parquet", str(tmp_path / "pq"),
                 "--fit", str(tmp_path / "cli.fit")])
    assert code == 0
    assert _decode(tmp_path / "cli.fit")["session"][0]["sport"] == "running"
    reader = RecordingReader(recording)
    back = reader.samples("runner1/lower_back")
    again = read_csv(tmp_path / "csv" / "runner1_lower_back.samples.csv")  # the import contract
    assert np.array_equal(again.time_s, back.time_s) and np.array_equal(again.acc_g, back.acc_g)
    assert again.gyr_dps is not None and np.array_equal(again.gyr_dps, back.gyr_dps)
    header = (tmp_path / "csv" / "steps.csv").read_text().splitlines()[0]
    assert header == ",".join(STEP_COLUMNS)
    steps = pq.read_table(tmp_path / "pq" / "steps.parquet").to_pandas()
    assert len(steps) == len((tmp_path / "csv" / "steps.csv").read_text().splitlines()) - 1
    assert {"cadence_spm", "contact_time_ms", "strike_class", "runner"} <= set(steps.columns)
    samples = pq.read_table(tmp_path / "pq" / "runner1_left_foot.samples.parquet")
    assert samples.num_rows == reader.sample_count("runner1/left_foot")


def test_a_csv_import_exports_to_fit_with_an_explicit_start(tmp_path: Path) -> None:
    csv = write_back_csv(tmp_path / "b.csv", 30.0)
    assert main(["import", str(csv), "--out", str(tmp_path / "b.skrec")]) == 0
    assert main(["export", str(tmp_path / "b.skrec"), "--fit", str(tmp_path / "b.fit")]) == 1  # no start time
    assert main(["export", str(tmp_path / "b.skrec"), "--fit", str(tmp_path / "b.fit"),
                 "--start", "2026-03-01T07:30:00"]) == 0
    msgs = _decode(tmp_path / "b.fit")
    assert len(msgs["record"]) == 30
    assert "speed" not in msgs["record"][10] or msgs["record"][10]["speed"] is None  # a back pod knows no speed


def test_a_two_runner_recording_gives_one_fit_file_per_runner(tmp_path: Path) -> None:
    from sensorkit.model import Placement, RunnerInfo, SessionInfo
    from sensorkit.sources.simulator.feed import ItemFeed
    from sensorkit.store.recording import RecordingWriter

    runs = [fatigue_run(30.0, seed=s, name=n, placements=(Placement.LOWER_BACK,)) for s, n in ((1, "ana"), (2, "ben"))]
    info = SessionInfo("pair", START_UNIX_S, tuple(RunnerInfo(r.runner.name) for r in runs),
                       tuple(s for r in runs for s in r.sensors), "test")
    with RecordingWriter(tmp_path / "pair.skrec", info) as w:
        for run in runs:
            for window in ItemFeed(run).windows():
                w.write_many(item for _, item in window)
    assert main(["export", str(tmp_path / "pair.skrec"), "--fit", str(tmp_path / "pair.fit")]) == 0
    for name in ("ana", "ben"):
        msgs = _decode(tmp_path / f"pair-{name}.fit")
        assert 29 <= len(msgs["record"]) <= 30 and msgs["session"][0]["total_strides"] > 30
    rec = str(tmp_path / "pair.skrec")
    assert main(["export", rec, "--fit", str(tmp_path / "one.fit"), "--fit-runner", "ben"]) == 0
    assert (tmp_path / "one.fit").exists() and not (tmp_path / "one-ana.fit").exists()
    assert main(["export", rec, "--fit", str(tmp_path / "x.fit"), "--fit-runner", "cy"]) == 2
