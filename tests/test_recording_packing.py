"""Packing for the disk: the fast column-wise paths write exactly the bytes of the plain definitions.

The plain definitions: a table row is ``csv.writer`` over ``encode_cell(v) for v in to_row(r).values()``;
a stream is one structured record per sample with the time and each channel's columns (NaN for a
channel the block lacks), in arrival order per stream. Recordings must stay byte-identical whatever
the batching, so every fast path is checked against these.
"""

from __future__ import annotations

import csv
import io
import json
from enum import Flag
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorkit.model import (
    Calibration,
    Cue,
    CueKind,
    EventKind,
    FatigueState,
    Gap,
    Placement,
    PostureSample,
    RunnerInfo,
    SampleBlock,
    SensorHealth,
    SensorInfo,
    SessionInfo,
    SessionMarker,
    Side,
    SpeedSample,
    StepEvent,
    StepMetrics,
    to_row,
)
from sensorkit.model.records import MarkerKind
from sensorkit.store.recording import RecordingWriter
from sensorkit.store.recording.cells import encode_cell
from sensorkit.store.recording.layout import ORDER_DTYPE
from sensorkit.store.recording.packing import pack_rows


def reference_rows(records: list[Any]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([encode_cell(v) for v in to_row(r).values()] for r in records)
    return buf.getvalue().encode()


def test_typical_records_pack_as_the_csv_module_writes_them() -> None:
    records: list[list[Any]] = [
        [StepEvent("r1", 1.0 + i / 3, EventKind.INITIAL_CONTACT, Side.LEFT, "r1/left_foot", Placement.LEFT_FOOT)
         for i in range(5)],
        [StepMetrics("r1", 2.5, Side.RIGHT, 0.34, 176.2, None, 251.0, 90.5, 0.41, 2.2, 80.0, True, 8.1, 12.0)],
        [PostureSample("r1", 3.0, 7.25, None), PostureSample("r1", 3.1, 7.5, -0.0)],
        [SensorHealth("r1", "r1/lower_back", Placement.LOWER_BACK, 4.0, True, 10, 80, battery_pct=None)],
        [FatigueState("r1", 5.0, 12.5, True, {"cadence": 3.5, "lean": np.float64(1.25)})],
        [Calibration("r1", "r1/lower_back", 6.0, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0), "standing", 2.0)],
        [Gap("r1/left_foot", 7.0, 7.2, "ble_loss", 40), SpeedSample("r1/phone", 8.0, 3.1)][:1],
        [SessionMarker("r1", 0.0, MarkerKind.START, "s1")],
        [Cue("r1", 9.0, CueKind.TRUNK_LEAN, "Stand tall", 1, 14.0, 8.5, "trunk_lean_deg", 11.0, 6.0)],
    ]
    for rs in records:
        assert pack_rows(rs).data == reference_rows(rs)
        assert pack_rows(rs).count == len(rs)


def test_cells_that_need_quoting_or_numpy_values_pack_as_the_csv_module_writes_them() -> None:
    rows = [
        StepMetrics("r,1", np.float64(1.5), Side.LEFT, step_time_s=np.float32(0.25), impact_saturated=np.bool_(True),
                    sources='a "quoted", field\nover two lines'),
        StepMetrics("r1", 2.0, Side.RIGHT, cadence_spm=float("nan"), contact_time_ms=float("inf"),
                    flight_time_ms=-float("inf"), sources="carriage\rreturn"),
        StepMetrics("r1", 3.0, Side.RIGHT, cadence_spm=1e-7, contact_time_ms=1e22, duty_factor=5e-324),
        StepMetrics("r1", 4.0, Side.LEFT, sources='only "quotes"'),
    ]
    assert pack_rows(rows).data == reference_rows(rows)
    for r in rows:
        assert pack_rows([r]).data == reference_rows([r])


class Mood(Flag):
    CALM = 1
    TIRED = 2


def test_mixed_types_and_unlisted_enum_values_take_the_plain_path() -> None:
    cues = [Cue("r1", 1.0, CueKind.FATIGUE, "x", 1, 2.0, 0.5, value=Mood.CALM | Mood.TIRED),  # type: ignore[arg-type]
            Cue("r1", 1.5, CueKind.FATIGUE, "y", 2, 2.5, 1.0, value=Mood.CALM)]  # type: ignore[arg-type]
    mixed: list[Any] = [Gap("s", 1.0, 2.0, "a", 3), SpeedSample("s", 1.0, 3.0)]
    assert pack_rows(cues).data == reference_rows(cues)
    assert pack_rows(mixed).data == reference_rows(mixed)
    assert pack_rows([]).data == b""


cell_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.floats(width=32).map(np.float32), st.floats().map(np.float64), st.text(max_size=8),
    st.sampled_from(list(Side)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cell_values, cell_values, cell_values), min_size=1, max_size=6))
def test_any_cell_values_pack_as_the_csv_module_writes_them(values: list[tuple[Any, Any, Any]]) -> None:
    rows = [PostureSample(a, b, c, d) for a, b, (c, d) in zip(  # type: ignore[arg-type]
        [v[0] for v in values], [v[1] for v in values], [(v[2], v[0]) for v in values], strict=True)]
    assert pack_rows(rows).data == reference_rows(rows)


def block(sid: str, t0: float, n: int, gyro: bool = True, mag: bool = False) -> SampleBlock:
    t = t0 + np.arange(n) / 200.0
    rng = np.random.default_rng(int(t0 * 1000) + n)
    return SampleBlock(sid, t, rng.normal(size=(n, 3)), rng.normal(size=(n, 3)) if gyro else None,
                       rng.normal(size=(n, 3)) if mag else None)


def reference_stream(blocks: list[SampleBlock], dtype: np.dtype) -> bytes:
    """The plain definition: one record per sample, a channel the block lacks as NaN."""
    out = np.empty(sum(len(b) for b in blocks), dtype)
    out["time_s"] = np.concatenate([b.time_s for b in blocks])
    for ch, prefix, unit in (("acc_g", "acc", "g"), ("gyr_dps", "gyr", "dps"), ("mag_ut", "mag", "ut")):
        if f"{prefix}_x_{unit}" not in (dtype.names or ()):
            continue
        arr = np.concatenate([v if (v := getattr(b, ch)) is not None else np.full((len(b), 3), np.nan)
                              for b in blocks])
        for i, axis in enumerate("xyz"):
            out[f"{prefix}_{axis}_{unit}"] = arr[:, i]
    return out.tobytes()


@pytest.mark.parametrize("channel_dtype", ["f8", "f4"])
def test_interleaved_streams_of_several_layouts_are_each_written_in_arrival_order(
        tmp_path: Path, channel_dtype: str) -> None:
    sensors = (SensorInfo("r1/back", "r1", Placement.LOWER_BACK, 200.0),
               SensorInfo("r1/left", "r1", Placement.LEFT_FOOT, 200.0, has_gyro=False),
               SensorInfo("r1/right", "r1", Placement.RIGHT_FOOT, 200.0, has_mag=True))
    info = SessionInfo("s", 0.0, (RunnerInfo("r1"),), sensors, "test")
    items: list[Any] = []
    for k in range(40):
        t0 = 0.04 * k
        items += [block("r1/back", t0, 8, gyro=k % 7 != 3),  # some blocks without gyro: NaN rows
                  block("r1/left", t0 + 0.001, 8 + k % 3, gyro=False),
                  block("r1/right", t0 + 0.002, 8, mag=k % 5 != 0)]
        if k % 9 == 0:
            items.append(Gap("r1/left", t0, t0 + 0.01, "ble_loss", 2))
        if k == 20:
            items.append(block("r1/extra", t0, 5))  # not in SessionInfo: a new stream mid-run
    path = tmp_path / "x.skrec"
    with RecordingWriter(path, info, auto_flush=False, channel_dtype=channel_dtype) as w:  # type: ignore[arg-type]
        for i, item in enumerate(items):
            w.write(item)
            if i % 17 == 16:
                w.flush()
    meta = json.loads((path / "meta.json").read_text())
    blocks = [b for b in items if isinstance(b, SampleBlock)]
    for sid, spec in meta["streams"].items():
        dtype = np.dtype([tuple(f) for f in spec["dtype"]])
        mine = [b for b in blocks if b.sensor_id == sid]
        assert (path / spec["file"]).read_bytes() == reference_stream(mine, dtype), sid
    index = {sid: spec["index"] for sid, spec in meta["streams"].items()}
    order = [(0, 0, index[it.sensor_id], len(it)) if isinstance(it, SampleBlock) else (1, 0, 0, 1) for it in items]
    assert (path / "order.bin").read_bytes() == np.array(order, dtype=ORDER_DTYPE).tobytes()
    assert meta["end_time_s"] == max(b.end_s for b in blocks)
