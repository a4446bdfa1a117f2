"""``sensorkit analyze FILE.csv``: the public CSV contract, its exports and its errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sensorkit.cli.main import main
from sensorkit.errors import InputFileError
from sensorkit.metrics.files import EVENT_COLUMNS, STEP_COLUMNS, analyze_csv
from sensorkit.model import Placement
from sensorkit.sources.csv_import import CsvOptions, read_csv
from tests.test_dsp_helpers import sim_run

DURATION_S = 30.0


def _write(path: Path, header: list[str], cols: list[np.ndarray], fmt: str = "%.6f") -> Path:
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        np.savetxt(f, np.column_stack(cols), delimiter=",", fmt=fmt)
    return path


def _back() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sim = sim_run((Placement.LOWER_BACK,), DURATION_S)
    ch = sim.samples(Placement.LOWER_BACK, 0.0, DURATION_S)
    return ch.time_s, ch.acc_g, ch.gyr_dps


@pytest.fixture
def back_csv(tmp_path: Path) -> Path:
    t, acc, gyr = _back()
    return _write(tmp_path / "back.csv", ["time_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"],
                  [t, acc, gyr])


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_cli_writes_events_and_steps_with_exactly_the_documented_columns(back_csv: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    ev, st = tmp_path / "events.csv", tmp_path / "steps.csv"
    assert main(["analyze", str(back_csv), "--events-out", str(ev), "--steps-out", str(st)]) == 0
    events, steps = _rows(ev), _rows(st)
    assert tuple(events[0]) == EVENT_COLUMNS == ("time_s", "event", "side", "sensor")
    assert tuple(steps[0]) == STEP_COLUMNS
    assert {r[1] for r in events[1:]} == {"initial_contact", "terminal_contact"}
    assert {r[2] for r in events[1:]} <= {"left", "right", "unknown"}
    assert len(steps) - 1 > 50  # ~25 s of running at 170 steps/min
    first = dict(zip(steps[0], steps[1], strict=True))
    assert first["strike_angle_deg"] == "" and first["strike_class"] == ""  # a back pod cannot see it
    assert "steps" in capsys.readouterr().out


def test_units_and_rate_flags_give_the_same_steps(tmp_path: Path) -> None:
    t, acc, gyr = _back()
    ref = analyze_csv(_write(tmp_path / "g.csv", ["time_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"],
                             [t, acc, gyr], "%.8f")).steps()
    si = _write(tmp_path / "si.csv", ["ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"],
                [acc * 9.80665, np.radians(gyr)], "%.8f")
    other = analyze_csv(si, CsvOptions(rate_hz=200.0, acc_unit="ms2", gyro_unit="rads")).steps()
    assert len(other) == len(ref)
    assert np.allclose([s.time_s for s in other], [s.time_s for s in ref], atol=1e-3)


def test_missing_axes_as_zeros_and_no_gyro_do_not_crash(tmp_path: Path) -> None:
    t, acc, _ = _back()
    z = np.zeros_like(t)
    only_vertical = _write(tmp_path / "z.csv", ["time_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"],
                           [t, z, z, np.linalg.norm(acc, axis=1), z, z, z])
    res = analyze_csv(only_vertical)
    assert res.info.sensors[0].has_gyro is False
    assert len(res.steps()) > 50
    zeros = _write(tmp_path / "zeros.csv", ["time_s", "ax_g", "ay_g", "az_g"], [t, z, z, z])
    assert analyze_csv(zeros).steps() == []
    for placement in Placement:
        analyze_csv(only_vertical, CsvOptions(placement=placement))


def test_a_bad_cell_is_reported_with_file_line_and_column(back_csv: Path) -> None:
    lines = back_csv.read_text().splitlines()
    cells = lines[4].split(",")
    cells[2] = "1.0x"
    lines[4] = ",".join(cells)
    back_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError) as err:
        read_csv(back_csv)
    assert err.value.line == 5 and err.value.column == "ay_g"
    assert str(back_csv) in str(err.value) and "line 5" in str(err.value) and "'ay_g'" in str(err.value)


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    ("", None, None, "empty"),
    ("time_s,ax_g,ay_g\n0,0,1\n", 1, None, "az_g"),
    ("ax_g,ay_g,az_g\n0,0,1\n0,0,1\n", 1, None, "--rate"),
    ("time_s,ax_g,ay_g,az_g\n0,0,0,1\n0,0,0,1\n", 3, "time_s", "increase"),
    ("time_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,1\n", 3, None, "fields"),
    ("time_s,ax_g,ay_g,az_g,gx_dps\n0,0,0,1,0\n0.01,0,0,1,0\n", 1, None, "gyro"),
    ("time_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,nan,1\n", 3, "ay_g", "finite"),
])
def test_malformed_files_raise_input_file_error(tmp_path: Path, text: str, line: int | None,
                                                column: str | None, words: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputFileError) as err:
        read_csv(p)
    assert err.value.line == line and err.value.column == column
    assert words in str(err.value) and str(p) in str(err.value)


def test_cli_reports_a_malformed_file_as_an_error_not_a_crash(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("time_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,zz,1\n")
    assert main(["analyze", str(p)]) == 2
    assert "line 3" in capsys.readouterr().err


def test_a_recording_is_re_analysed_from_its_raw_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sensorkit.store.recording import RecordingWriter
    from tests.test_dsp_helpers import items, session_of

    sim = sim_run((Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT), DURATION_S)
    path = tmp_path / "run.skrec"
    writer = RecordingWriter(path, session_of(sim))
    writer.write_many(items(sim, DURATION_S, block_s=0.04))
    writer.close()
    steps_csv = tmp_path / "steps.csv"
    assert main(["analyze", str(path), "--steps-out", str(steps_csv)]) == 0
    rows = _rows(steps_csv)
    assert len(rows) - 1 > 50
    by_class = {r[STEP_COLUMNS.index("strike_class")] for r in rows[1:]}
    assert "rearfoot" in by_class  # shoe pods see the simulated 12-degree heel strike
    assert "runner1:" in capsys.readouterr().out
