"""Recordings: every bus item comes back exactly as it was written; bad files get clear errors."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from collections.abc import AsyncIterable
from pathlib import Path

import numpy as np
import pytest

from sensorkit.errors import InputFileError, RecordingError
from sensorkit.model import (
    BusItem,
    Calibration,
    Cue,
    CueKind,
    EventKind,
    FatigueState,
    Gap,
    MarkerKind,
    PhoneWear,
    Placement,
    PostureSample,
    RollingMetrics,
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
    StrikeClass,
)
from sensorkit.pipeline.session import Session
from sensorkit.store.recording import CorruptRecordingError, RecordingReader, RecordingWriter, writer
from sensorkit.store.recording.settings import RecordingSettings
from sensorkit.store.recording.sink import RecordingSink
from tests.support.sources import CollectSink, ListSource, ramp_blocks, sensor

BACK = SensorInfo("ann/lower_back", "ann", Placement.LOWER_BACK, 200.0, device="pod", address="AA:BB",
                  acc_range_g=16.0, gyr_range_dps=2000.0)
PHONE = SensorInfo("ann/phone", "ann", Placement.PHONE, 100.0, device="phone", has_mag=True,
                   phone_wear=PhoneWear.ARMBAND)
ACC_ONLY = SensorInfo("bob/left_foot", "bob", Placement.LEFT_FOOT, 50.0, has_gyro=False)
INFO = SessionInfo("s-42", 1_700_000_000.25, (RunnerInfo("ann", 61.5, "trail"), RunnerInfo("bob")),
                   (BACK, PHONE, ACC_ONLY), "0.1.0", {"weather": "rain, 8 °C"})


def _blocks(info: SensorInfo, n: int, per_block: int, seed: int) -> list[SampleBlock]:
    rng = np.random.default_rng(seed)
    t = 3.0 + np.arange(n) / info.sampling_rate_hz + rng.uniform(0, 1e-4, n)
    acc, gyr, mag = rng.normal(size=(n, 3)), rng.normal(0, 300, (n, 3)), rng.normal(0, 40, (n, 3))
    return [SampleBlock(info.sensor_id, t[i:i + per_block], acc[i:i + per_block],
                        gyr[i:i + per_block] if info.has_gyro else None,
                        mag[i:i + per_block] if info.has_mag else None) for i in range(0, n, per_block)]


def every_record() -> list[object]:
    """One or more of every record type, with awkward values: None, NaN, text with commas/quotes/newlines."""
    return [
        StepEvent("ann", 3.5, EventKind.INITIAL_CONTACT, Side.LEFT, BACK.sensor_id, Placement.LOWER_BACK),
        StepEvent("ann", 3.75, EventKind.TERMINAL_CONTACT, Side.RIGHT, BACK.sensor_id, Placement.LOWER_BACK),
        StepMetrics("ann", 3.5, Side.LEFT, 0.345, 173.9, 174.0, 251.2, None, 0.37, 2.95, 81.0, True, 8.2,
                    12.5, StrikeClass.REARFOOT, 7.25, 3.1, "lower_back+left_foot"),
        StepMetrics("ann", 3.85, Side.RIGHT),
        RollingMetrics("ann", 4.0, 30.0, 52, 174.0, balance_left_pct=49.5, forefoot_pct=0.0, moving=False),
        PostureSample("ann", 3.1, 7.5, None),
        PostureSample("ann", 3.2, -0.1 + 0.2, -1.25),
        FatigueState("ann", 4.0, 12.5, True, {"cadence": 3.25, "impact": 0.0}),
        FatigueState("bob", 4.0, 0.0, False),
        Cue("ann", 4.1, CueKind.TRUNK_LEAN, 'Run "tall", chest up\nand relax', 2, 9.0, 4.05, "trunk_lean_deg",
            11.5, 7.0, "en"),
        SensorHealth("ann", BACK.sensor_id, Placement.LOWER_BACK, 4.0, True, 90, 720, 3, 1, 0, 2, 0,
                     81.0, 0.4),
        SensorHealth("bob", ACC_ONLY.sensor_id, Placement.LEFT_FOOT, 4.0, False),
        SessionMarker("ann", 0.0, MarkerKind.START, "s-42"),
        Calibration("ann", BACK.sensor_id, 3.3, (1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0), "standing",
                    math.nan),
        Gap(BACK.sensor_id, 4.2, 4.6, "link lost", 80),
        Gap(PHONE.sensor_id, 5.0, 5.5, "queue overflow"),
        SpeedSample("ann/footpod", 4.0, 3.2, 172.0, 1.1, 120.5, "rsc"),
        SpeedSample("ann/phone", 4.5, None, source="gps"),
    ]


def _same(a: object, b: object) -> bool:
    """Dataclass equality where NaN equals NaN."""
    return repr(a) == repr(b)


def _write(path: Path, items: list[object], **kw: object) -> None:
    with RecordingWriter(path, INFO, config={"simulator": {"speed": 2.0}}, **kw) as w:  # type: ignore[arg-type]
        w.write_many(items)


def test_every_item_type_round_trips_bit_exact(tmp_path: Path) -> None:
    blocks = _blocks(BACK, 1000, 7, 1) + _blocks(PHONE, 500, 10, 2) + _blocks(ACC_ONLY, 120, 5, 3)
    records = every_record()
    path = tmp_path / "run.skrec"
    _write(path, [*blocks, *records])

    r = RecordingReader(path)
    assert r.info == INFO
    assert r.closed and r.problems == []
    assert r.config == {"simulator": {"speed": 2.0}}
    for s in INFO.sensors:
        got = r.samples(s.sensor_id)
        want = SampleBlock.concat([b for b in blocks if b.sensor_id == s.sensor_id])
        assert got.time_s.tobytes() == want.time_s.tobytes()
        assert got.acc_g.tobytes() == want.acc_g.tobytes()
        for ch in ("gyr_dps", "mag_ut"):
            w = getattr(want, ch)
            assert (getattr(got, ch) is None) == (w is None)
            if w is not None:
                assert getattr(got, ch).tobytes() == w.tobytes()
    read_back = [rec for name in r.tables for rec in r.records(name)]
    assert sorted(map(repr, read_back)) == sorted(map(repr, records))
    assert r.calibration()[0].sf_to_bf == records[13].sf_to_bf  # type: ignore[attr-defined]
    assert r.meta["calibration"][0]["method"] == "standing"


def test_a_recording_is_readable_while_it_is_being_written(tmp_path: Path) -> None:
    path = tmp_path / "live.skrec"
    w = RecordingWriter(path, INFO, auto_flush=False)
    w.write_many(_blocks(BACK, 100, 10, 1))
    w.write(PostureSample("ann", 3.1, 7.5))
    assert RecordingReader(path).sample_count(BACK.sensor_id) == 0  # buffered, not flushed yet
    w.flush()
    r = RecordingReader(path)
    assert r.sample_count(BACK.sensor_id) == 100
    assert r.records(PostureSample) == [PostureSample("ann", 3.1, 7.5)]
    assert not r.closed and "not closed cleanly" in r.problems[0]
    w.close()
    assert RecordingReader(path).closed


def test_time_windows_read_only_the_samples_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "w.skrec"
    _write(path, ramp_blocks(sensor("ann"), 10, 100))  # type: ignore[arg-type]
    r = RecordingReader(path)
    sid = "ann/lower_back"
    part = r.samples(sid, 2.0, 3.5)
    assert part.time_s[0] == 2.0 and part.time_s[-1] == pytest.approx(3.49)
    assert np.array_equal(part.acc_g[:, 0], np.arange(200.0, 350.0))
    assert len(r.samples(sid, 50.0)) == 0
    assert isinstance(r.raw(sid), np.memmap)


def test_float32_channels_halve_the_size_and_are_documented_in_the_dtype(tmp_path: Path) -> None:
    path = tmp_path / "f4.skrec"
    blocks = _blocks(BACK, 200, 20, 5)
    _write(path, blocks, channel_dtype="f4")  # type: ignore[arg-type]
    r = RecordingReader(path)
    assert r.meta["streams"][BACK.sensor_id]["record_bytes"] == 8 + 6 * 4
    got, want = r.samples(BACK.sensor_id), SampleBlock.concat(blocks)
    assert got.time_s.tobytes() == want.time_s.tobytes()  # time stays float64
    assert np.array_equal(got.acc_g, want.acc_g.astype(np.float32).astype(np.float64))


def test_a_sensor_missing_from_the_session_info_still_gets_a_stream(tmp_path: Path) -> None:
    path = tmp_path / "extra.skrec"
    stray = sensor("zoe", Placement.RIGHT_FOOT)
    _write(path, ramp_blocks(stray, 3, 10))  # type: ignore[arg-type]
    r = RecordingReader(path)
    assert np.array_equal(r.samples(stray.sensor_id).acc_g[:, 0], np.arange(30.0))
    assert r.channels(stray.sensor_id) == ["acc_g"]


def test_streams_beyond_what_the_order_log_can_number_are_refused_or_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "MAX_STREAMS", 3)  # 65,536 in real life: the log's 16-bit numbers
    with pytest.raises(RecordingError, match="at most 3 sensor streams"):
        RecordingWriter(tmp_path / "crowd.skrec", dataclasses.replace(INFO, sensors=(BACK, PHONE, ACC_ONLY, ACC_ONLY)))
    path = tmp_path / "full.skrec"
    stray = sensor("zoe", Placement.RIGHT_FOOT)
    with RecordingWriter(path, INFO) as w:  # three streams already: a fourth sensor does not fit
        w.write_many(ramp_blocks(stray, 2, 10))
        w.write(SampleBlock(BACK.sensor_id, [0.0, 0.005], np.ones((2, 3)), np.ones((2, 3))))
    stats = w.stats()
    assert stats.dropped_samples == 20 and stats.samples_written == 2
    assert stray.sensor_id not in RecordingReader(path).sensor_ids


def test_channels_a_stream_has_no_column_for_are_counted_not_silently_lost(tmp_path: Path) -> None:
    path = tmp_path / "mag.skrec"
    with RecordingWriter(path, INFO) as w:
        w.write(SampleBlock(BACK.sensor_id, [0.0, 0.005], np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3))))
        w.write(SampleBlock(PHONE.sensor_id, [0.0], np.ones((1, 3))))  # no gyr/mag this time
        w.write("not a bus item")
        stats = w.stats()
    assert stats.dropped_channels == 2 and stats.unsupported_items == 1
    phone = RecordingReader(path).samples(PHONE.sensor_id)
    assert phone.gyr_dps is not None and np.isnan(phone.gyr_dps).all()  # missing channel: NaN, never made up


def test_columns_are_numpy_arrays_ready_for_analysis(tmp_path: Path) -> None:
    path = tmp_path / "cols.skrec"
    _write(path, every_record())
    cols = RecordingReader(path).columns("steps")
    assert cols["cadence_spm"].dtype == np.float64
    assert np.isnan(cols["cadence_spm"][1]) and cols["cadence_spm"][0] == 173.9
    assert cols["impact_saturated"].dtype == bool and cols["impact_saturated"].tolist() == [True, False]
    assert cols["side"].tolist() == [Side.LEFT, Side.RIGHT]


def test_an_existing_recording_is_never_overwritten_by_accident(tmp_path: Path) -> None:
    path = tmp_path / "x.skrec"
    _write(path, [])
    with pytest.raises(RecordingError, match="already exists"):
        RecordingWriter(path, INFO)
    RecordingWriter(path, INFO, overwrite=True).close()
    (tmp_path / "notes").mkdir()
    with pytest.raises(RecordingError, match="not a recording"):
        RecordingWriter(tmp_path / "notes", INFO, overwrite=True)


# -- torn tails and corrupt files ---------------------------------------------------------------


def test_torn_tails_from_a_crash_are_trimmed_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "torn.skrec"
    _write(path, [*ramp_blocks(sensor("ann"), 2, 50), *every_record()])  # type: ignore[arg-type]
    stream = path / "streams" / "ann_lower_back.bin"
    with stream.open("ab") as f:
        f.write(b"\x01" * 30)  # 30 of a 56-byte sample
    with (path / "tables" / "posture.csv").open("a") as f:
        f.write("ann,3.3,7.")  # a row cut mid-number
    with (path / "tables" / "cues.csv").open("a") as f:
        f.write('ann,5.0,impact,"Soft\n')  # a row cut inside a quoted text with a newline
    r = RecordingReader(path)
    assert r.sample_count("ann/lower_back") == 100
    assert len(r.records(PostureSample)) == 2
    assert len(r.records(Cue)) == 1
    assert len(r.problems) == 3
    assert any("torn last sample (30 of 56 bytes)" in p for p in r.problems)
    tables = path / "tables"
    assert set(r.skipped) == {str(stream), str(tables / "posture.csv"), str(tables / "cues.csv")}


def test_a_malformed_row_inside_a_table_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.skrec"
    _write(path, every_record())
    table = path / "tables" / "posture.csv"
    lines = table.read_text().splitlines()
    lines[1] = lines[1].replace("7.5", "seven")
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError) as err:
        RecordingReader(path).records("posture")
    assert str(err.value) == f"{table}, line 2, column 'trunk_lean_deg': bad value 'seven': " \
                             "could not convert string to float: 'seven'"
    lines[1] = "ann,3.1"
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptRecordingError, match=r"posture.csv, line 2: expected 4 cells, found 2"):
        RecordingReader(path).records("posture")


@pytest.mark.parametrize(("damage", "error", "message"), [
    (lambda m: m.write_text('{"format": "sensorkit-recording",\n "format_version": 1,,}'),
     CorruptRecordingError, r"meta.json, line 2: invalid JSON"),
    (lambda m: m.unlink(), RecordingError, r"not a sensorkit recording \(no meta.json\)"),
    (lambda m: m.write_text(json.dumps({"format": "sensorkit-recording", "format_version": 99})),
     RecordingError, r"format_version 99 is newer"),
    (lambda m: m.write_text(m.read_text().replace('"ann/lower_back.bin"', '"../../etc/passwd"')
                            .replace('streams/ann_lower_back.bin', '../../etc/passwd')),
     CorruptRecordingError, r"outside the recording"),
    (lambda m: m.write_text(m.read_text().replace('"sensors": [', '"sensors": [{"bad": 1}, ')),
     CorruptRecordingError, r"bad session metadata"),
    (lambda m: (m.parent / "streams" / "ann_lower_back.bin").unlink(),
     CorruptRecordingError, r"ann_lower_back.bin: missing \(listed in meta.json"),
    (lambda m: m.write_text(m.read_text().replace('"<f8"', '"<zz"', 1)),
     CorruptRecordingError, r"streams.ann/lower_back.dtype"),
])
def test_corrupt_metadata_gets_an_error_naming_the_file(tmp_path: Path, damage, error, message) -> None:
    path = tmp_path / "meta.skrec"
    _write(path, [])
    damage(path / "meta.json")
    with pytest.raises(error, match=message):
        RecordingReader(path)


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="not a recording directory"):
        RecordingReader(tmp_path / "nope.skrec")


# -- the async sink inside a real session -------------------------------------------------------


async def test_the_sink_records_a_whole_pipeline_session(tmp_path: Path) -> None:
    ann, bob = sensor("ann"), sensor("bob", Placement.LEFT_FOOT)
    info = SessionInfo("live", 0.0, (RunnerInfo("ann"), RunnerInfo("bob")), (ann, bob), "test")
    items = [x for pair in zip(ramp_blocks(ann, 50, 20), ramp_blocks(bob, 50, 20), strict=True) for x in pair]
    items.insert(10, Gap(ann.sensor_id, 1.0, 1.2, "test gap", 20))
    sink, other = RecordingSink(tmp_path / "live.skrec", info), CollectSink()
    stats = await Session(info, [ListSource([ann, bob], items)], {}, [sink, other]).run()

    assert not stats.errors
    assert sink.stats().samples_written == 2000 and sink.stats().write_errors == 0  # type: ignore[union-attr]
    r = RecordingReader(tmp_path / "live.skrec")
    assert r.closed and r.problems == []
    for s in (ann, bob):
        assert np.array_equal(r.samples(s.sensor_id).acc_g[:, 0], np.arange(1000.0))
    assert [m.kind for m in r.records(SessionMarker)] == [MarkerKind.START] * 2 + [MarkerKind.STOP] * 2
    assert r.gaps() == [Gap(ann.sensor_id, 1.0, 1.2, "test gap", 20)]


async def test_the_sink_refuses_to_start_where_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    sink = RecordingSink(blocker / "x.skrec", INFO)
    with pytest.raises(RecordingError, match="cannot create the recording"):
        async with sink:
            pass


def test_settings_name_recordings_after_start_time_and_session() -> None:
    info = SessionInfo("club run/3", 1_700_000_000.0, (), (), "test")
    path = RecordingSettings(directory=Path("out"), name="{session_id}-{start:%Y}").path_for(info)
    assert path == Path("out") / "club_run_3-2023.skrec"
    with pytest.raises(ValueError, match="not a valid name template"):
        RecordingSettings(name="{runner}")
    with pytest.raises(ValueError, match="flush_interval_s"):
        RecordingSettings(flush_interval_s=5.0)  # a crash could then lose more than a second


def test_a_newer_writers_extra_columns_and_tables_do_not_stop_an_older_reader(tmp_path: Path) -> None:
    path = tmp_path / "newer.skrec"
    with RecordingWriter(path, INFO, fsync=True) as w:
        w.write(PostureSample("ann", 1.0, 5.0, 1.0))
        w.set_note("shoe", "trail 2")
    table = path / "tables" / "posture.csv"
    table.write_text(table.read_text().replace("lateral_lean_deg\n", "lateral_lean_deg,new_thing\n")
                     .replace(",1.0\n", ",1.0,42\n"))
    (path / "tables" / "laps.csv").write_text("time_s,lap\n60.5,1\n")
    meta = json.loads((path / "meta.json").read_text())
    meta["tables"]["laps"] = {"file": "tables/laps.csv", "columns": ["time_s", "lap"]}
    meta["something_new"] = {"x": 1}
    (path / "meta.json").write_text(json.dumps(meta))

    r = RecordingReader(path)
    assert r.notes["shoe"] == "trail 2"
    assert r.records(PostureSample) == [PostureSample("ann", 1.0, 5.0, 1.0)]
    assert r.columns("posture")["new_thing"].tolist() == ["42"]
    assert r.columns("laps")["lap"].tolist() == ["1"]  # unknown table: text cells, no record type
    with pytest.raises(KeyError, match="no record type"):
        r.records("laps")


class _Tripwire(CollectSink):
    """Sets ``reached`` once ``samples`` samples went by."""

    def __init__(self, samples: int) -> None:
        super().__init__("tripwire")
        self.samples = samples
        self.reached = asyncio.Event()

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        seen = 0
        async for item in items:
            seen += len(item) if isinstance(item, SampleBlock) else 0
            if seen >= self.samples:
                self.reached.set()


async def test_a_hard_cancelled_session_still_closes_its_recording_with_everything_received(tmp_path: Path) -> None:
    ann = sensor("ann")
    info = SessionInfo("cancel", 0.0, (RunnerInfo("ann"),), (ann,), "test")
    sink, tripwire = RecordingSink(tmp_path / "c.skrec", info), _Tripwire(500)
    run = asyncio.create_task(Session(info, [ListSource([ann], ramp_blocks(ann, 400, 25), delay_s=0.002)],
                                      {}, [sink, tripwire]).run())
    await tripwire.reached.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    st = sink.stats()
    assert st is not None and st.samples_written == st.samples_received >= 500
    r = RecordingReader(tmp_path / "c.skrec")
    assert r.closed and np.array_equal(r.samples(ann.sensor_id).acc_g[:, 0], np.arange(st.samples_written))


def test_numpy_scalars_from_stages_are_written_as_plain_numbers(tmp_path: Path) -> None:
    path = tmp_path / "np.skrec"
    with RecordingWriter(path, INFO, config={"gain": np.float32(0.5), "where": Path("/x")}) as w:
        w.write(StepMetrics("ann", np.float64(1.25), Side.LEFT, cadence_spm=np.float32(170.5),  # type: ignore[arg-type]
                            impact_saturated=np.bool_(True)))  # type: ignore[arg-type]
        w.write(FatigueState("ann", 2.0, np.float64(30.0), True, {"cadence": np.float32(2.5)}))  # type: ignore[arg-type, dict-item]
        w.write(Calibration("ann", BACK.sensor_id, 0.0, tuple(np.eye(3).ravel()), "standing"))
    r = RecordingReader(path)
    assert r.records(StepMetrics) == [StepMetrics("ann", 1.25, Side.LEFT, cadence_spm=170.5, impact_saturated=True)]
    assert r.records(FatigueState)[0].components == {"cadence": 2.5}
    assert r.calibration()[0].sf_to_bf == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert r.config == {"gain": 0.5, "where": "/x"}
    assert "np." not in (path / "tables" / "steps.csv").read_text()
