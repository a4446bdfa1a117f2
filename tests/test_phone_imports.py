"""Imports of recorded phone exports: the right samples, units and times, and clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from sensorkit.errors import InputFileError
from sensorkit.model import Gap, PhoneWear, Placement, SampleBlock, SpeedSample
from sensorkit.sources.base import Source
from sensorkit.sources.phone.imports import PhoneImportSource, detect_phone_export, import_phone_export
from tests.support.phone_apps import (
    EPOCH_S,
    recorded_motion,
    write_hyperimu_log,
    write_phyphox_export,
    write_sensorlogger_export,
    write_sensorlogger_json,
)


def block_of(items: list) -> SampleBlock:
    return SampleBlock.concat([i for i in items if isinstance(i, SampleBlock)])


def check_motion(block: SampleBlock, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, gyr_atol: float = 3.0) -> None:
    assert len(block) == t.size
    np.testing.assert_allclose(block.time_s, t, atol=1e-6)
    np.testing.assert_allclose(block.acc_g, acc, atol=1e-6)
    assert block.gyr_dps is not None
    np.testing.assert_allclose(block.gyr_dps, gyr, atol=gyr_atol)


@pytest.mark.parametrize("platform", ["android", "ios"])
def test_sensorlogger_zip_export(tmp_path: Path, platform: str) -> None:
    path = write_sensorlogger_export(tmp_path / "2024-05-01_10-00-00.zip", platform=platform)
    assert detect_phone_export(path) == "sensorlogger"
    imp = import_phone_export(path, runner="eve", wear=PhoneWear.POCKET)
    info = imp.session.sensors[0]
    assert (info.sensor_id, info.placement, info.phone_wear) == ("eve/phone", Placement.PHONE, PhoneWear.POCKET)
    assert info.sampling_rate_hz == pytest.approx(100.0, rel=1e-3)
    assert imp.session.start_unix_s == pytest.approx(EPOCH_S)
    assert imp.session.notes["sensorlogger.platform"] == platform
    t, acc, gyr = recorded_motion(20.0)
    check_motion(block_of(imp.items), t, acc, gyr)
    speeds = [i for i in imp.items if isinstance(i, SpeedSample)]
    assert len(speeds) == 20 and speeds[-1].distance_m == pytest.approx(57.0, rel=0.01)
    assert not [i for i in imp.items if isinstance(i, Gap)]


def test_sensorlogger_folder_with_a_pause_and_json_export(tmp_path: Path) -> None:
    folder = write_sensorlogger_export(tmp_path / "rec", zipped=False, pause=(8.0, 10.0))
    imp = import_phone_export(folder)
    gaps = [i for i in imp.items if isinstance(i, Gap)]
    assert len(gaps) == 1 and gaps[0].start_s == pytest.approx(7.99) and gaps[0].end_s == pytest.approx(10.0)
    check_motion(block_of(imp.items), *recorded_motion(20.0, pause=(8.0, 10.0)))

    js = write_sensorlogger_json(tmp_path / "rec.json")
    assert detect_phone_export(js) == "sensorlogger"
    check_motion(block_of(import_phone_export(js).items), *recorded_motion(5.0))


@pytest.mark.parametrize("dialect", ["comma", "tab", "semicolon"])
def test_phyphox_csv_zip_export_across_a_pause(tmp_path: Path, dialect: str) -> None:
    path = write_phyphox_export(tmp_path / "Raw Sensors 2024-05-01.zip", pause=(8.0, 10.0), dialect=dialect)
    assert detect_phone_export(path) == "phyphox"
    imp = import_phone_export(path, runner="fay")
    assert imp.session.start_unix_s == pytest.approx(EPOCH_S, abs=1e-3)
    assert "Pixel 7" in imp.session.sensors[0].device
    t, acc, gyr = recorded_motion(20.0, pause=(8.0, 10.0))
    block = block_of(imp.items)
    assert len(block) == t.size
    np.testing.assert_allclose(block.time_s, t, atol=1e-3)  # 10 significant digits of experiment time
    np.testing.assert_allclose(block.acc_g, acc, atol=1e-6)
    assert block.gyr_dps is not None
    np.testing.assert_allclose(block.gyr_dps, gyr, atol=3.0)
    assert len([i for i in imp.items if isinstance(i, Gap)]) == 1


@pytest.mark.parametrize("timestamps", [False, True])
def test_hyperimu_log(tmp_path: Path, timestamps: bool) -> None:
    path = write_hyperimu_log(tmp_path / "HIMU-2014-08-02_17-32-42.csv", timestamps=timestamps)
    assert detect_phone_export(path) == "hyperimu"
    imp = import_phone_export(path)
    t, acc, gyr = recorded_motion(10.0)
    block = block_of(imp.items)
    assert len(block) == t.size
    np.testing.assert_allclose(block.time_s, t, atol=1e-3)
    np.testing.assert_allclose(block.acc_g, acc, atol=1e-5)
    assert block.gyr_dps is not None
    np.testing.assert_allclose(block.gyr_dps, gyr, atol=1e-3)  # same line: no resampling


async def test_imported_recording_plays_as_a_source(tmp_path: Path) -> None:
    imp = import_phone_export(write_hyperimu_log(tmp_path / "HIMU-x.csv", duration_s=2.0))
    source = PhoneImportSource(imp)
    assert isinstance(source, Source)
    async with source:
        got = [i async for i in source.items()]
    assert got == imp.items and source.sensors == imp.session.sensors


def _rewrite_member(path: Path, member: str, edit: callable) -> None:  # type: ignore[valid-type]
    with zipfile.ZipFile(path) as z:
        contents = {n: z.read(n) for n in z.namelist()}
    contents[member] = edit(contents[member])
    with zipfile.ZipFile(path, "w") as z:
        for n, data in contents.items():
            z.writestr(n, data)


def test_malformed_sensorlogger_csv_names_file_line_and_column(tmp_path: Path) -> None:
    path = write_sensorlogger_export(tmp_path / "bad.zip", duration_s=3.0)

    def corrupt(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[42] = lines[42].rsplit(b",", 1)[0] + b",oops"  # line 43, column x
        return b"\n".join(lines)

    _rewrite_member(path, "Gyroscope.csv", corrupt)
    with pytest.raises(InputFileError) as err:
        import_phone_export(path)
    assert err.value.path.endswith("bad.zip:Gyroscope.csv")
    assert err.value.line == 43 and err.value.column == "x"
    assert "line 43, column 'x': not a number: 'oops'" in str(err.value)


def test_missing_columns_and_wrong_content_are_named(tmp_path: Path) -> None:
    path = write_sensorlogger_export(tmp_path / "cols.zip", duration_s=2.0)
    _rewrite_member(path, "TotalAcceleration.csv", lambda d: d.replace(b"time,seconds_elapsed,z,y,x",
                                                                       b"time,seconds_elapsed,z,y,w", 1))
    with pytest.raises(InputFileError, match=r"cols.zip:TotalAcceleration.csv, line 1, column 'x'"):
        import_phone_export(path)

    phy = write_phyphox_export(tmp_path / "p.zip", duration_s=2.0)
    _rewrite_member(phy, "meta/time.csv", lambda d: d.replace(b"0E0,", b"zero,", 1))
    with pytest.raises(InputFileError, match=r"p.zip:meta/time.csv, line 2"):
        import_phone_export(phy)

    himu = write_hyperimu_log(tmp_path / "HIMU-bad.csv", duration_s=1.0)
    lines = himu.read_text().splitlines()
    lines[20] = lines[20].rsplit(",", 3)[0] + ",x,1,"
    himu.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=r"HIMU-bad.csv, line 21: not a number"):
        import_phone_export(himu)

    js = tmp_path / "trunc.json"
    js.write_text('[{"sensor": "Accelerometer", "time": "1"},\n{"sensor"')
    with pytest.raises(InputFileError, match=r"trunc.json, line 2: not JSON"):
        import_phone_export(js, app="sensorlogger")

    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    assert detect_phone_export(junk) is None
    with pytest.raises(InputFileError, match="not a Sensor Logger, phyphox or HyperIMU export"):
        import_phone_export(junk)
    with pytest.raises(InputFileError, match="no such file"):
        import_phone_export(tmp_path / "nope.zip", app="phyphox")
