"""``sensorkit import``: every supported input becomes a recording that replays like a live one."""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from sensorkit.analysis.importer import import_recording
from sensorkit.analysis.inputs import InputOptions, detect_kind, open_input
from sensorkit.analysis.session import analyze_path
from sensorkit.cli.main import main
from sensorkit.compose import Mode, assemble, replay_config
from sensorkit.config import Config
from sensorkit.errors import InputFileError
from sensorkit.metrics.files import analyze_csv
from sensorkit.model import Placement, StepMetrics
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.settings import RecordingSettings
from tests.support.phone_apps import write_hyperimu_log, write_phyphox_export, write_sensorlogger_export
from tests.test_analysis_data import write_back_csv


def _steps(records: list[object]) -> list[str]:
    return [repr(r) for r in records if isinstance(r, StepMetrics)]


async def test_an_imported_csv_replays_through_the_live_pipeline_with_the_same_metrics(tmp_path: Path) -> None:
    csv = write_back_csv(tmp_path / "back.csv", 40.0)
    res = import_recording(csv, tmp_path / "back.skrec", InputOptions(shoe="Nimbus 25"))
    assert res.kind == "csv" and res.samples == 8000 and res.records > 0
    imported = RecordingReader(res.path)
    assert imported.info.runners[0].shoe == "Nimbus 25"
    assert imported.notes["imported_from"] == str(csv)
    expected = _steps(analyze_csv(csv).records)  # what `sensorkit analyze back.csv` computes
    assert len(expected) > 80
    assert _steps(imported.records("steps")) == expected

    cfg = replay_config(res.path, Config())
    cfg = cfg.model_copy(update={"recording": RecordingSettings(directory=tmp_path / "replay", name="{session_id}"),
                                 "audio": cfg.audio.model_copy(update={"enabled": False})})
    assembly = assemble(cfg, Mode.REPLAY, speed=math.inf, replay=res.path, record=True, terminal=False,
                        dashboard=False)
    stats = await assembly.session().run()
    assert not stats.errors
    assert assembly.recording_path is not None
    replayed = RecordingReader(assembly.recording_path)
    assert _steps(replayed.records("steps")) == expected
    assert [repr(r) for r in replayed.records("rolling")] == [repr(r) for r in imported.records("rolling")]


@pytest.mark.parametrize(("kind", "write"), [
    ("sensorlogger", lambda p: write_sensorlogger_export(p / "sl.zip", 20.0)),
    ("phyphox", lambda p: write_phyphox_export(p / "phy.zip", 20.0)),
    ("hyperimu", lambda p: write_hyperimu_log(p / "HIMU-2024.csv", 20.0, timestamps=True)),
])
def test_phone_exports_import_analyse_and_replay(tmp_path: Path, kind: str, write: Callable[[Path], Path]) -> None:
    path = write(tmp_path)
    assert detect_kind(path) == kind
    inp = open_input(path, InputOptions(runner="ana"))
    sensor = inp.info.sensors[0]
    assert sensor.placement is Placement.PHONE and sensor.runner == "ana"
    res = import_recording(path, tmp_path / f"{kind}.skrec", InputOptions(runner="ana"))
    assert res.kind == kind and res.samples >= 1900  # 20 s at 100 Hz
    rec = RecordingReader(res.path)
    assert rec.sample_count(sensor.sensor_id) == res.samples
    assert rec.info.notes["import_kind"] == kind
    again = analyze_path(str(res.path))  # the recording analyses like the export itself
    direct = analyze_path(str(path), InputOptions(runner="ana"))
    assert _steps(again.records) and _steps(again.records) == _steps(direct.records)
    if kind == "sensorlogger":
        assert rec.speed(), "GPS speed is kept"


def _rewrite_member(path: Path, member: str, change: Callable[[bytes], bytes]) -> None:
    with zipfile.ZipFile(path) as z:
        contents = {n: z.read(n) for n in z.namelist()}
    contents[member] = change(contents[member])
    with zipfile.ZipFile(path, "w") as z:
        for n, data in contents.items():
            z.writestr(n, data)


def _break_line(data: bytes, index: int) -> bytes:
    lines = data.split(b"\n")
    lines[index] = lines[index].rsplit(b",", 1)[0] + b",oops"
    return b"\n".join(lines)


def test_malformed_inputs_are_named_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_back_csv(tmp_path / "back.csv", 5.0)
    lines = csv.read_text().splitlines()
    lines[7] = lines[7].replace(",", ",x", 1)
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError) as err:
        import_recording(csv, tmp_path / "x.skrec")
    assert err.value.line == 8 and str(csv) in str(err.value)
    assert not (tmp_path / "x.skrec").exists(), "nothing is written for a bad input"

    sl = write_sensorlogger_export(tmp_path / "sl.zip", 3.0)
    _rewrite_member(sl, "Gyroscope.csv", lambda d: _break_line(d, 42))
    with pytest.raises(InputFileError, match=r"sl.zip:Gyroscope.csv, line 43, column 'x'"):
        import_recording(sl, tmp_path / "sl.skrec")

    phy = write_phyphox_export(tmp_path / "phy.zip", 3.0)
    _rewrite_member(phy, "Accelerometer.csv", lambda d: d.replace(b"\n", b"\nnot,a,number,row,here\n", 1))
    with pytest.raises(InputFileError, match=r"phy.zip:Accelerometer.csv, line 2"):
        import_recording(phy, tmp_path / "phy.skrec")

    himu = write_hyperimu_log(tmp_path / "HIMU-bad.csv", 2.0)
    hl = himu.read_text().splitlines()
    hl[30] = hl[30].rsplit(",", 3)[0] + ",x,1,"
    himu.write_text("\n".join(hl) + "\n")
    with pytest.raises(InputFileError, match=r"HIMU-bad.csv, line 31"):
        import_recording(himu, tmp_path / "himu.skrec")

    assert main(["import", str(csv), "--out", str(tmp_path / "cli.skrec")]) == 2
    assert f"{csv}, line 8" in capsys.readouterr().err


def test_cli_import_then_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_back_csv(tmp_path / "run.csv", 30.0)
    out = tmp_path / "run.skrec"
    assert main(["import", str(csv), "--out", str(out), "--runner", "kim", "--shoe", "Clifton 9"]) == 0
    assert "6000 samples" in capsys.readouterr().out
    assert main(["analyze", str(out)]) == 0
    assert "kim:" in capsys.readouterr().out
    assert main(["import", str(out), "--out", str(tmp_path / "again.skrec")]) == 2  # already a recording
    phone = write_sensorlogger_export(tmp_path / "phone.zip", 10.0)
    assert main(["analyze", str(phone), "--runner", "lee"]) == 0  # a phone export analyses directly
    assert "lee:" in capsys.readouterr().out
