"""Damaged recordings: whatever happens to the files, reading gives data or a clear error, never a crash.

A short hypothesis run here; raise ``SENSORKIT_FUZZ_EXAMPLES`` for a long one.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorkit.errors import SensorkitError
from sensorkit.model import RECORD_NAMES
from sensorkit.sources.replay import ReplaySource
from sensorkit.store.recording import CorruptRecordingError, RecordingReader, RecordingWriter
from tests.test_recording import INFO, _blocks, every_record

EXAMPLES = int(os.environ.get("SENSORKIT_FUZZ_EXAMPLES", "100"))
FILES = ["meta.json", "streams/ann_lower_back.bin", "streams/ann_phone.bin", "tables/steps.csv",
         "tables/gaps.csv", "tables/cues.csv", "tables/fatigue.csv", "tables/calibration.csv",
         "tables/health.csv", "tables/speed.csv", "order.bin"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "orig.skrec"
    with RecordingWriter(path, INFO) as w:
        w.write_many(_blocks(INFO.sensors[0], 300, 7, 1) + _blocks(INFO.sensors[1], 100, 9, 2))
        w.write_many(every_record())
    return path


def read_everything(path: Path) -> None:
    r = RecordingReader(path)
    r.order()
    for sid in r.sensor_ids:
        block = r.samples(sid, 3.1, 3.6)
        assert len(block) == len(block.time_s)
        r.samples(sid)
    for name in r.tables:
        if name in set(RECORD_NAMES.values()):
            r.records(name)
        r.columns(name)


async def replay_everything(path: Path) -> None:
    async with ReplaySource(path, speed=math.inf) as src:
        async for _ in src.items():
            pass


damage = st.tuples(
    st.sampled_from(FILES),
    st.sampled_from(["truncate", "overwrite", "insert"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=12) | st.sampled_from([b",", b"\n", b'"', b"\x00", b"{", b"]", b"NaN", b"-"]),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damages=st.lists(damage, min_size=1, max_size=3))
def test_a_damaged_recording_reads_or_fails_with_a_sensorkit_error(
        pristine: Path, tmp_path: Path, damages: list[tuple[str, str, float, bytes]]) -> None:
    check_damaged(pristine, tmp_path, damages)


def check_damaged(pristine: Path, workdir: Path, damages: list[tuple[str, str, float, bytes]]) -> None:
    """A copy of ``pristine`` with ``damages`` applied reads, or fails with an error naming it
    (also run at length by bench/fuzz_all.py)."""
    path = workdir / "damaged.skrec"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(pristine, path)
    for name, how, where, data in damages:
        f = path / name
        content = f.read_bytes()
        i = int(where * len(content))
        if how == "truncate":
            content = content[:i]
        elif how == "overwrite":
            content = content[:i] + data + content[i + len(data):]
        else:
            content = content[:i] + data + content[i:]
        f.write_bytes(content)
    try:
        read_everything(path)
    except SensorkitError as exc:
        assert str(path) in str(exc) or "recording" in str(exc)
    except KeyError as exc:  # only for names that are not there; the message says which
        assert "no stream" in str(exc) or "no table" in str(exc)


@settings(max_examples=max(20, EXAMPLES // 5), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1), name=st.sampled_from(["streams/ann_lower_back.bin", "tables/gaps.csv",
                                                   "tables/health.csv", "tables/speed.csv", "order.bin"]))
def test_a_recording_cut_anywhere_still_replays(pristine: Path, tmp_path: Path, cut: float, name: str) -> None:
    import asyncio

    path = tmp_path / "cut.skrec"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(pristine, path)
    f = path / name
    content = f.read_bytes()
    f.write_bytes(content[: int(cut * len(content))])
    try:
        asyncio.run(replay_everything(path))
    except SensorkitError as exc:  # a table cut inside its header
        assert "header" in str(exc) or str(path) in str(exc)


def test_nan_and_out_of_order_times_do_not_break_reading_or_replay(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "odd.skrec"
    blocks = _blocks(INFO.sensors[0], 50, 10, 1)
    with RecordingWriter(path, INFO) as w:
        w.write_many(blocks[3:] + blocks[:3])  # a clock that stepped back
        from sensorkit.model import Gap
        w.write(Gap(INFO.sensors[0].sensor_id, math.nan, math.inf, "odd"))
    read_everything(path)
    asyncio.run(replay_everything(path))
    assert np.isnan(RecordingReader(path).gaps()[0].start_s)


# Regressions the 100,000-case run found (each was an exception other than a SensorkitError).

def test_a_damaged_stream_type_in_meta_json_is_a_corrupt_recording_error(pristine: Path, tmp_path: Path) -> None:
    path = tmp_path / "dtype.skrec"
    shutil.copytree(pristine, path)
    meta = path / "meta.json"
    meta.write_text(meta.read_text().replace('"<f8"', '",8"', 1))  # numpy would hand ",8" to ast: SyntaxError
    with pytest.raises(CorruptRecordingError, match=r"dtype.*only <f8 and <f4"):
        RecordingReader(path)


def test_a_deeply_nested_meta_json_is_a_corrupt_recording_error(pristine: Path, tmp_path: Path) -> None:
    path = tmp_path / "nested.skrec"
    shutil.copytree(pristine, path)
    (path / "meta.json").write_text("[" * 100_000)  # json: RecursionError, not a ValueError
    with pytest.raises(CorruptRecordingError, match=r"meta\.json"):
        RecordingReader(path)


def test_a_deeply_nested_json_cell_is_a_corrupt_recording_error_naming_the_column(
        pristine: Path, tmp_path: Path) -> None:
    path = tmp_path / "cell.skrec"
    shutil.copytree(pristine, path)
    table = path / "tables" / "fatigue.csv"
    header, first, *rest = table.read_text().splitlines()
    col = header.split(",").index("components")
    cells = first.split(",", col)  # the JSON object is the last cells: cut there
    table.write_text("\n".join([header, ",".join(cells[:col]) + ',"' + "[" * 100_000 + '"', *rest]) + "\n")
    with pytest.raises(CorruptRecordingError, match=r"fatigue\.csv"):
        RecordingReader(path).records("fatigue")
