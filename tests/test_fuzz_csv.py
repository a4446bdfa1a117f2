"""The generic CSV import (``sensorkit analyze`` contract) fuzzed with structure.

Valid files are generated in every shape the contract allows (time column or --rate, g or
m/s^2, with or without gyro, extra columns, comments, blank lines, CRLF, padding, quoting),
then damaged (a cell replaced, a field dropped or added, a NUL byte, a cut, a row repeated).
Properties: a valid file gives back exactly its numbers; a damaged one gives numbers or an
InputFileError naming the file and a real line; never any other exception.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorkit.errors import InputFileError
from sensorkit.sources.csv_import import CsvOptions, read_csv

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def csv_files(draw: Any) -> tuple[bytes, CsvOptions, dict[str, np.ndarray]]:
    """A valid file, the options to read it and the values (in sensorkit units) it holds."""
    n = draw(st.integers(2, 40))
    has_time = draw(st.booleans())
    acc_unit = draw(st.sampled_from(["g", "ms2"]))
    gyro = draw(st.sampled_from([None, "dps", "rads"]))
    cols: dict[str, list[float]] = {}
    if has_time:
        t0 = draw(st.floats(-1e3, 1e3))
        steps = draw(st.lists(st.floats(1e-3, 1.0), min_size=n - 1, max_size=n - 1))
        cols["time_s"] = list(np.concatenate([[t0], t0 + np.cumsum(steps)]))
    for ax in ("ax", "ay", "az"):
        cols[f"{ax}_{acc_unit}"] = draw(st.lists(finite, min_size=n, max_size=n))
    if gyro:
        for gx in ("gx", "gy", "gz"):
            cols[f"{gx}_{gyro}"] = draw(st.lists(finite, min_size=n, max_size=n))
    for extra in draw(st.lists(st.sampled_from(["temp_c", "label", "note"]), unique=True, max_size=2)):
        cols[extra] = draw(st.lists(st.sampled_from(["x", "1", "", "-", "a b"]), min_size=n, max_size=n))
    names = draw(st.permutations(list(cols)))
    pad = draw(st.sampled_from(["", " "]))
    quote = draw(st.booleans())
    eol = draw(st.sampled_from(["\n", "\r\n"]))

    def cell(v: Any) -> str:
        text = repr(float(v)) if isinstance(v, float) else str(v)
        return f'"{text}"' if quote else pad + text

    lines = [("," + draw(st.sampled_from(["", " "]))).join(names)]  # "time_s, ax_g, ..." is common
    for i in range(n):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "# a comment", "   "])))
        lines.append(",".join(cell(cols[c][i]) for c in names))
    if draw(st.booleans()):
        lines.insert(0, "# exported by a phone app")
    text = eol.join(lines) + draw(st.sampled_from(["", eol]))
    if draw(st.integers(0, 4)) == 0:
        text = "\ufeff" + text  # Excel's "CSV UTF-8" starts with a byte order mark
    want = {"acc": np.column_stack([cols[f"{a}_{acc_unit}"] for a in ("ax", "ay", "az")]).astype(float)}
    if acc_unit == "ms2":
        want["acc"] = want["acc"] / 9.80665
    if has_time:
        want["time"] = np.asarray(cols["time_s"], dtype=float)
    if gyro:
        g = np.column_stack([cols[f"{a}_{gyro}"] for a in ("gx", "gy", "gz")]).astype(float)
        want["gyr"] = np.degrees(g) if gyro == "rads" else g
    options = CsvOptions(rate_hz=None if has_time else draw(st.floats(1.0, 1000.0)))
    return text.encode(), options, want


damage = st.one_of(
    st.tuples(st.just("cell"), st.floats(0, 1), st.sampled_from(["abc", "", "nan", "inf", "1e999", "--1", "0x10",
                                                                "1,5", '"', "\x00", "１２", "1_0"])),
    st.tuples(st.just("drop_field"), st.floats(0, 1), st.just("")),
    st.tuples(st.just("add_field"), st.floats(0, 1), st.just("7")),
    st.tuples(st.just("cut"), st.floats(0, 1), st.just("")),
    st.tuples(st.just("repeat_row"), st.floats(0, 1), st.just("")),
    st.tuples(st.just("bytes"), st.floats(0, 1), st.sampled_from(["\x00", "\xff", "\ufeff", "\r", "\x0c", "\u2028"])),
    st.tuples(st.just("header"), st.floats(0, 1), st.sampled_from(["ax_g", "AX_G", "time_s", "", "ax_g ,"])),
)


def apply(data: bytes, how: str, where: float, what: str) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")  # an earlier cut may have split a character
    lines = text.split("\n")
    k = min(int(where * len(lines)), len(lines) - 1)
    if how == "cut":
        return data[: int(where * len(data))]
    if how == "bytes":
        i = int(where * len(text))
        return (text[:i] + what + text[i:]).encode("utf-8", errors="surrogateescape")
    if how == "repeat_row":
        lines.insert(k, lines[k])
    elif how == "header":
        fields = lines[0].split(",")
        fields[min(int(where * len(fields)), len(fields) - 1)] = what
        lines[0] = ",".join(fields)
    else:
        fields = lines[k].split(",")
        j = min(int(where * 97) % max(len(fields), 1), len(fields) - 1)
        if how == "cell":
            fields[j] = what
        elif how == "drop_field":
            del fields[j]
        else:
            fields.insert(j, what)
        lines[k] = ",".join(fields)
    return "\n".join(lines).encode("utf-8", errors="surrogateescape")


def read_bytes(data: bytes, options: CsvOptions) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.csv"
        path.write_bytes(data)
        return read_csv(path, options), path, data


def prop_valid_csv(file: tuple[bytes, CsvOptions, dict[str, np.ndarray]]) -> None:
    data, options, want = file
    stream, _, _ = read_bytes(data, options)
    np.testing.assert_array_equal(stream.acc_g, want["acc"])
    if "time" in want:
        np.testing.assert_array_equal(stream.time_s, want["time"])
    else:
        assert stream.time_s.shape == (want["acc"].shape[0],) and math.isclose(
            stream.sensor.sampling_rate_hz, options.rate_hz or 0.0)
    if "gyr" in want and np.any(want["gyr"]):
        assert stream.gyr_dps is not None
        np.testing.assert_array_equal(stream.gyr_dps, want["gyr"])


def prop_damaged_csv(file: tuple[bytes, CsvOptions, dict[str, np.ndarray]],
                     damages: list[tuple[str, float, str]]) -> None:
    data, options, _ = file
    for d in damages:
        data = apply(data, *d)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.csv"
        path.write_bytes(data)
        try:
            stream = read_csv(path, options)
        except InputFileError as exc:
            assert str(path) in str(exc)
            if exc.line is not None:  # a real line of the file, 1-based
                assert 1 <= exc.line <= max(len(data.decode("utf-8", "replace").splitlines()), 1)
            return
    assert np.isfinite(stream.acc_g).all() and np.isfinite(stream.time_s).all()
    assert np.all(np.diff(stream.time_s) > 0) and stream.acc_g.shape == (stream.time_s.shape[0], 3)


PROPERTIES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "csv_valid_round_trip": (prop_valid_csv, (csv_files(),)),
    "csv_damaged": (prop_damaged_csv, (csv_files(), st.lists(damage, min_size=1, max_size=3))),
}


def fuzz_test(name: str, config: settings) -> Any:
    prop, strategies = PROPERTIES[name]
    return config(given(*strategies)(prop))


test_every_valid_csv_shape_reads_back_exactly = fuzz_test("csv_valid_round_trip", FUZZ)
test_a_damaged_csv_reads_or_names_file_and_line = fuzz_test("csv_damaged", FUZZ)


def test_a_header_with_spaces_after_the_commas_is_read_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzzer: ``time_s, ax_g, ...`` made pyarrow raise ArrowKeyError out of read_csv."""
    path = tmp_path / "spaced.csv"
    path.write_text("time_s, ax_g, ay_g, az_g\n0, 0, 0, 1\n0.01, 0, 0, 1\n")
    assert read_csv(path).acc_g.tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]


def test_a_csv_saved_by_excel_with_a_byte_order_mark_reads_like_any_other(tmp_path: Path) -> None:
    """Found by the valid-file generator: Excel's "CSV UTF-8" starts with a BOM, which made the
    first column's name unrecognisable (a missing ``time_s`` or ``ax_g``)."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefftime_s,ax_g,ay_g,az_g\r\n0,0,0,1\r\n0.01,0,0,1\r\n".encode())
    stream = read_csv(path)
    assert stream.time_s.tolist() == [0.0, 0.01]
