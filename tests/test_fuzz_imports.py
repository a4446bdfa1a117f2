"""Recorded phone exports (``sensorkit import`` / ``analyze``) fuzzed: damaged files read or name themselves.

Valid exports of every supported shape (Sensor Logger folder, zip and JSON; phyphox CSV zip;
HyperIMU log) are written once, then damaged: a member's text cut, overwritten or grown
(then zipped again, so the CSV/JSON readers see it), or the zip file's own bytes damaged
(so the zip layer does). Property: importing gives items on a sane timeline (finite,
strictly increasing sample times; finite, ordered gaps and speeds) or an InputFileError
naming the file, never any other exception.

Short runs here; ``python -m bench.fuzz_all --only phone_export_damaged`` runs 100,000 cases.
"""

from __future__ import annotations

import itertools
import math
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorkit.errors import InputFileError
from sensorkit.model import Gap, SampleBlock, SpeedSample
from sensorkit.sources.phone.imports import import_phone_export
from tests.support.phone_apps import (
    write_hyperimu_log,
    write_phyphox_export,
    write_sensorlogger_export,
    write_sensorlogger_json,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WRITERS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "sensorlogger_folder": ("rec", lambda p: write_sensorlogger_export(p, 2.0, zipped=False)),
    "sensorlogger_zip": ("rec.zip", lambda p: write_sensorlogger_export(p, 2.0, platform="ios")),
    "sensorlogger_json": ("rec.json", lambda p: write_sensorlogger_json(p, 2.0)),
    "phyphox_zip": ("phy.zip", lambda p: write_phyphox_export(p, 2.0, pause=(0.8, 1.2), dialect="semicolon")),
    "hyperimu_log": ("HIMU-2024-05-01.csv", lambda p: write_hyperimu_log(p, 2.0, timestamps=True)),
}

damage = st.tuples(
    st.integers(0, 7),  # which member (modulo the export's member count)
    st.sampled_from(["truncate", "overwrite", "insert"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=12) | st.sampled_from(
        [b",", b";", b"\n", b'"', b"\x00", b"{", b"]", b"NaN", b"inf", b"-", b"1e308", b"E", b"\xef\xbb\xbf"]),
    st.booleans(),  # a zip export: damage the zip file's own bytes instead of a member's text
)


def _damaged(content: bytes, how: str, where: float, data: bytes) -> bytes:
    i = int(where * len(content))
    if how == "truncate":
        return content[:i]
    if how == "overwrite":
        return content[:i] + data + content[i + len(data):]
    return content[:i] + data + content[i:]


class Exports:
    """Pristine exports written once in ``tmp``; ``damage`` makes a damaged copy of one."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pristine: dict[str, Path] = {}
        for kind, (name, write) in WRITERS.items():
            (tmp / "pristine" / kind).mkdir(parents=True)
            self.pristine[kind] = write(tmp / "pristine" / kind / name)

    def damage(self, kind: str, damages: list[tuple[int, str, float, bytes, bool]]) -> Path:
        src = self.pristine[kind]
        work = self.tmp / "damaged"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        path = work / src.name
        if src.is_dir():
            shutil.copytree(src, path)
        else:
            shutil.copyfile(src, path)
        zipped = zipfile.is_zipfile(path)
        for member, how, where, data, raw in sorted(damages, key=lambda d: d[4]):  # members first, then bytes
            if path.is_dir():
                f = sorted(path.iterdir())[member % len(list(path.iterdir()))]
                f.write_bytes(_damaged(f.read_bytes(), how, where, data))
            elif zipped and not raw:
                with zipfile.ZipFile(path) as z:
                    members = {n: z.read(n) for n in z.namelist()}
                name = sorted(members)[member % len(members)]
                members[name] = _damaged(members[name], how, where, data)
                with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                    for n, content in members.items():
                        z.writestr(n, content)
            else:
                path.write_bytes(_damaged(path.read_bytes(), how, where, data))
        return path


def check_import(path: Path) -> None:
    """Items on a sane timeline, or an InputFileError that names the file."""
    try:
        imp = import_phone_export(path)
    except InputFileError as exc:
        assert str(path) in str(exc), str(exc)
        return
    assert math.isfinite(imp.session.start_unix_s)
    blocks = [i for i in imp.items if isinstance(i, SampleBlock)]
    if blocks:
        t = np.concatenate([b.time_s for b in blocks])
        assert np.isfinite(t).all() and np.all(np.diff(t) > 0), "sample times not finite and strictly increasing"
        for b in blocks:
            assert b.acc_g.shape == (len(b), 3) and np.isfinite(b.acc_g).all()
    for gap in (i for i in imp.items if isinstance(i, Gap)):
        assert math.isfinite(gap.start_s) and math.isfinite(gap.end_s) and gap.start_s <= gap.end_s
    speeds = [i for i in imp.items if isinstance(i, SpeedSample)]
    assert all(math.isfinite(s.time_s) and (s.speed_mps is None or 0 <= s.speed_mps < math.inf) for s in speeds)
    assert all(a.time_s <= b.time_s for a, b in itertools.pairwise(speeds))


def properties(tmp: Path) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """The property with its strategies, on exports written lazily in ``tmp`` (bench/fuzz_all.py)."""
    exports: Exports | None = None

    def prop_damaged_phone_export(kind: str, damages: list[tuple[int, str, float, bytes, bool]]) -> None:
        nonlocal exports
        exports = exports or Exports(tmp)
        check_import(exports.damage(kind, damages))

    return {"phone_export_damaged": (prop_damaged_phone_export,
                                     (st.sampled_from(sorted(WRITERS)), st.lists(damage, min_size=1, max_size=3)))}


def test_every_pristine_export_imports_with_samples(tmp_path: Path) -> None:
    exports = Exports(tmp_path)
    for kind, path in exports.pristine.items():
        imp = import_phone_export(path)
        assert sum(len(i) for i in imp.items if isinstance(i, SampleBlock)) >= 150, kind


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-imports")


def test_a_damaged_phone_export_imports_sanely_or_names_the_file(fuzz_dir: Path) -> None:
    prop, strategies = properties(fuzz_dir)["phone_export_damaged"]
    FUZZ(given(*strategies)(prop))()


# Regressions the fuzzer found (each was an uncaught exception or a hang before the fix).

def test_a_corrupt_compressed_member_is_an_input_file_error_naming_it(tmp_path: Path) -> None:
    path = write_sensorlogger_export(tmp_path / "rec.zip", 2.0)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("Gyroscope.csv")
    data = bytearray(path.read_bytes())
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 10
    data[middle:middle + 8] = b"\x00" * 8  # zlib: "invalid distance too far back" and the like
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match=r"rec.zip:Gyroscope.csv"):
        import_phone_export(path)


def test_a_carriage_return_inside_a_csv_field_is_an_error_or_a_line_end_never_a_crash(tmp_path: Path) -> None:
    folder = write_sensorlogger_export(tmp_path / "rec", 2.0, zipped=False)
    meta = folder / "Metadata.csv"
    meta.write_bytes(b"\rversion" + meta.read_bytes())
    gyro = folder / "Gyroscope.csv"
    lines = gyro.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b",", b",\r", 1) + b",oops"
    gyro.write_bytes(b"\n".join(lines))
    with pytest.raises(InputFileError, match=r"Gyroscope\.csv"):
        import_phone_export(folder)


def test_one_wild_timestamp_is_read_without_walking_every_second_up_to_it(tmp_path: Path) -> None:
    folder = write_sensorlogger_export(tmp_path / "rec", 2.0, zipped=False)
    acc = folder / "Accelerometer.csv"
    lines = acc.read_text().splitlines()
    time_ns, rest = lines[-1].split(",", 1)
    lines[-1] = f"{int(time_ns) + 10**18},{rest}"  # ~32 years later: 1e9 one-second chunks if walked
    acc.write_text("\n".join(lines) + "\n")
    imp = import_phone_export(folder)
    t = np.concatenate([b.time_s for b in imp.items if isinstance(b, SampleBlock)])
    assert np.all(np.diff(t) > 0) and t.size >= 199


@pytest.mark.parametrize("damage", ["extract version 6.4", "utf-8 name flag on a cp437 name"])
def test_a_damaged_zip_directory_is_an_input_file_error_naming_the_zip(tmp_path: Path, damage: str) -> None:
    path = write_sensorlogger_export(tmp_path / "rec.zip", 2.0)
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")  # the last central directory entry
    if damage.startswith("extract"):
        data[entry + 6:entry + 8] = (64).to_bytes(2, "little")  # zipfile: NotImplementedError
    else:
        data[entry + 8:entry + 10] = (0x800).to_bytes(2, "little")  # names must then decode as UTF-8
        name_len = int.from_bytes(data[entry + 28:entry + 30], "little")
        data[entry + 46:entry + 46 + name_len] = b"\xff" * name_len  # zipfile: UnicodeDecodeError
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match=r"rec\.zip: not a readable zip"):
        import_phone_export(path, app="sensorlogger")
    with pytest.raises(InputFileError, match=r"rec\.zip: not a .* export"):
        import_phone_export(path)  # detection cannot read it either


def test_a_number_that_overflows_in_the_unit_conversion_is_a_skipped_row_not_a_warning(tmp_path: Path) -> None:
    folder = write_sensorlogger_export(tmp_path / "rec", 2.0, zipped=False)
    gyro = folder / "Gyroscope.csv"
    lines = gyro.read_text().splitlines()
    cells = lines[3].split(",")
    cells[-1] = "1e308"  # rad/s -> deg/s: x 57.3 overflows to inf (a RuntimeWarning, an error in CI)
    lines[3] = ",".join(cells)
    gyro.write_text("\n".join(lines) + "\n")
    imp = import_phone_export(folder)
    assert imp.session.notes["sensorlogger.gyroscope.skipped_rows"] == "1"
    gyr = np.concatenate([b.gyr_dps for b in imp.items if isinstance(b, SampleBlock) and b.gyr_dps is not None])
    assert np.isfinite(gyr).all()
