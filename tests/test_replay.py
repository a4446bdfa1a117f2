"""Replay: a recording goes back through the live pipeline with identical results at any speed."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pytest

from sensorkit.errors import SourceError
from sensorkit.model import (
    BusItem,
    EventKind,
    Gap,
    Placement,
    PostureSample,
    RunnerInfo,
    SampleBlock,
    SensorHealth,
    SensorInfo,
    SessionInfo,
    Side,
    SourceItem,
    SpeedSample,
    StepEvent,
)
from sensorkit.pipeline.contracts import RecordStage
from sensorkit.pipeline.session import Session
from sensorkit.sources.base import Source
from sensorkit.sources.replay import YIELD_EVERY_ITEMS, ReplaySource
from sensorkit.store.recording import RecordingReader, RecordingWriter
from sensorkit.store.recording.sink import RecordingSink
from tests.support.sources import ListSource

BACK = SensorInfo("ann/lower_back", "ann", Placement.LOWER_BACK, 200.0)
LEFT = SensorInfo("ann/left_foot", "ann", Placement.LEFT_FOOT, 100.0, has_mag=True)
RIGHT = SensorInfo("ann/right_foot", "ann", Placement.RIGHT_FOOT, 52.0, has_gyro=False)
INFO = SessionInfo("orig", 1_700_000_000.0, (RunnerInfo("ann"),), (BACK, LEFT, RIGHT), "test")


def _stream(info: SensorInfo, duration_s: float, offset_s: float, per_block: int, seed: int,
            gap: tuple[float, float] | None = None) -> list[SourceItem]:
    """Blocks of ``per_block`` samples (as a pod would deliver them), optionally with a gap."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * info.sampling_rate_hz)
    t = offset_s + np.arange(n) / info.sampling_rate_hz
    acc = np.stack([np.sin(2 * np.pi * 1.4 * t), np.cos(t), 1 + 0.1 * np.sin(3 * t)], axis=1)
    acc += rng.normal(0, 0.05, acc.shape)
    gyr, mag = rng.normal(0, 50, (n, 3)), rng.normal(0, 40, (n, 3))
    segments = [np.arange(n)] if gap is None else [np.flatnonzero(t <= gap[0]), np.flatnonzero(t >= gap[1])]
    out: list[SourceItem] = []
    for k, idx in enumerate(segments):
        if k:  # samples missing between the segments: the source reports a gap
            out.append(Gap(info.sensor_id, float(t[segments[0][-1]]), float(t[idx[0]]), "link lost"))
        for i in range(0, len(idx), per_block):
            j = idx[i:i + per_block]
            out.append(SampleBlock(info.sensor_id, t[j], acc[j], gyr[j] if info.has_gyro else None,
                                   mag[j] if info.has_mag else None))
    return out


def _session_items(duration_s: float = 6.0) -> list[SourceItem]:
    """Three pods at different rates and phases, a gap on one, speed and health readings."""
    streams = [_stream(BACK, duration_s, 0.0013, 9, 1, gap=(2.0, 2.7)),
               _stream(LEFT, duration_s, 0.004, 5, 2), _stream(RIGHT, duration_s, 0.011, 3, 3)]
    items: list[SourceItem] = []
    for group in zip(*[s[:min(map(len, streams))] for s in streams], strict=True):
        items.extend(group)
    items += [x for s in streams for x in s[min(map(len, streams)):]]
    items += [SpeedSample("ann/left_foot", k * 1.0, 3.0 + k / 10) for k in range(int(duration_s))]
    items += [SensorHealth("ann", BACK.sensor_id, Placement.LOWER_BACK, k + 0.5, True, samples=k)
              for k in range(int(duration_s))]
    return items


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "orig.skrec"
    with RecordingWriter(path, INFO) as w:
        w.write_many(_session_items())
    return path


async def _collect(source: ReplaySource) -> list[SourceItem]:
    async with source:
        return [item async for item in source.items()]


def _fingerprint(items: list[SourceItem]) -> list[object]:
    """Exact identity of a sequence of items (arrays by their bytes)."""
    out: list[object] = []
    for x in items:
        if isinstance(x, SampleBlock):
            out.append((x.sensor_id, x.time_s.tobytes(), x.acc_g.tobytes(),
                        None if x.gyr_dps is None else x.gyr_dps.tobytes(),
                        None if x.mag_ut is None else x.mag_ut.tobytes()))
        else:
            out.append(repr(x))
    return out


def _blocks_of(items: list[SourceItem], sensor_id: str) -> list[SampleBlock]:
    return [b for b in items if isinstance(b, SampleBlock) and b.sensor_id == sensor_id]


def _release_time(x: SourceItem) -> float:
    if isinstance(x, SampleBlock):
        return x.end_s
    return x.end_s if isinstance(x, Gap) else x.time_s


async def test_replay_is_a_source_whose_sensors_come_from_the_metadata(recording: Path) -> None:
    src = ReplaySource(recording)
    assert isinstance(src, Source)
    assert list(src.sensors) == [BACK, LEFT, RIGHT]
    assert src.info == INFO
    again = src.replay_info()
    assert again.session_id == "orig-replay" and again.notes["replay_of"] == str(recording)
    assert again.sensors == INFO.sensors and again.start_unix_s == INFO.start_unix_s


async def test_replay_yields_exactly_the_items_the_live_pipeline_received(recording: Path) -> None:
    items = await _collect(ReplaySource(recording, speed=math.inf))
    assert _fingerprint(items) == _fingerprint(_session_items())  # same blocks, same order
    for b in items:
        if isinstance(b, SampleBlock):  # blocks keep the SampleBlock invariants
            arrays = [a for a in (b.time_s, b.acc_g, b.gyr_dps, b.mag_ut) if a is not None]
            assert all(a.dtype == np.float64 and a.flags.c_contiguous and len(a) == len(b) for a in arrays)
            assert b.acc_g.shape == (len(b), 3)


async def test_on_a_grid_every_sample_comes_back_in_time_order(recording: Path) -> None:
    items = await _collect(ReplaySource(recording, speed=math.inf, block_s=0.04))
    reader = RecordingReader(recording)
    for s in INFO.sensors:
        got = SampleBlock.concat(_blocks_of(items, s.sensor_id))
        want = reader.samples(s.sensor_id)
        assert _fingerprint([got]) == _fingerprint([want])
    times = [_release_time(x) for x in items]
    assert times == sorted(times)
    assert sum(isinstance(x, Gap) for x in items) == 1
    assert sum(isinstance(x, SpeedSample) for x in items) == 6
    assert sum(isinstance(x, SensorHealth) for x in items) == 6


async def test_blocks_follow_a_fixed_grid_and_never_straddle_a_gap(recording: Path) -> None:
    items = await _collect(ReplaySource(recording, speed=math.inf, block_s=0.05))
    blocks = [b for b in items if isinstance(b, SampleBlock)]
    assert all(math.floor(b.start_s / 0.05) == math.floor(b.end_s / 0.05) for b in blocks)
    k = next(i for i, x in enumerate(items) if isinstance(x, Gap))
    gap = items[k]
    assert isinstance(gap, Gap)
    back = [(i, b) for i, b in enumerate(items)
            if isinstance(b, SampleBlock) and b.sensor_id == BACK.sensor_id]
    before = [b for i, b in back if i < k]
    after = [b for i, b in back if i > k]
    assert before[-1].end_s <= gap.start_s and after[0].start_s >= gap.end_s


async def test_the_same_items_come_out_at_any_speed(recording: Path) -> None:
    at_max = await _collect(ReplaySource(recording, speed=math.inf))
    at_1000 = await _collect(ReplaySource(recording, speed=1000.0))
    assert _fingerprint(at_1000) == _fingerprint(at_max)
    window = await _collect(ReplaySource(recording, speed=1.0, start_s=3.0, end_s=3.3))
    in_window = [x for x in at_max if 3.0 <= _release_time(x) < 3.3 and not isinstance(x, SampleBlock)]
    assert [x for x in window if not isinstance(x, SampleBlock)] == in_window
    samples = [b for b in window if isinstance(b, SampleBlock)]
    assert min(b.start_s for b in samples) >= 3.0 and max(b.end_s for b in samples) < 3.3


async def test_a_subset_of_sensors_and_health_can_be_left_out(recording: Path) -> None:
    items = await _collect(ReplaySource(recording, speed=math.inf, sensor_ids=["ann/left_foot"],
                                        include_health=False))
    assert {getattr(x, "sensor_id", None) for x in items} == {"ann/left_foot"}
    assert not any(isinstance(x, SensorHealth) for x in items)
    assert all(b.mag_ut is not None for b in items if isinstance(b, SampleBlock))


async def test_full_speed_still_lets_other_tasks_run(tmp_path: Path) -> None:
    path = tmp_path / "long.skrec"
    with RecordingWriter(path, INFO) as w:
        w.write_many(_stream(BACK, 120.0, 0.0, 8, 4))
    src = ReplaySource(path, speed=math.inf)
    seen: list[float] = []

    async def ticker() -> None:
        while True:
            seen.append(src.position_s)
            await asyncio.sleep(0)

    async with src, asyncio.TaskGroup() as tg:
        tick = tg.create_task(ticker())
        n = 0
        async for _ in src.items():  # a consumer that never awaits anything else
            n += 1
        tick.cancel()
    assert n == 3000
    assert len(set(seen)) >= n // YIELD_EVERY_ITEMS  # the ticker ran all along the replay


async def test_bad_arguments_are_rejected_clearly(recording: Path) -> None:
    with pytest.raises(ValueError, match="speed must be > 0"):
        ReplaySource(recording, speed=0)
    with pytest.raises(ValueError, match="block_s"):
        ReplaySource(recording, block_s=math.inf)
    with pytest.raises(SourceError, match=r"no sensor \['ann/phone'\]"):
        ReplaySource(recording, sensor_ids=["ann/phone"])
    src = ReplaySource(recording)
    with pytest.raises(SourceError, match="async with"):
        await anext(src.items())
    async with src:
        with pytest.raises(SourceError, match="entered twice"):
            await src.__aenter__()


# -- equivalence through the whole pipeline -----------------------------------------------------


class UpwardZeroCrossings:
    """A chunk-invariant stage: an event at every upward zero crossing of each pod's forward acc."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def update(self, item: BusItem) -> list[StepEvent]:
        if not isinstance(item, SampleBlock) or not len(item):
            return []
        x = np.concatenate([[self.last.get(item.sensor_id, 0.0)], item.acc_g[:, 0]])
        self.last[item.sensor_id] = float(x[-1])
        up = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
        placement = INFO.sensor(item.sensor_id).placement
        return [StepEvent("ann", float(item.time_s[i]), EventKind.INITIAL_CONTACT, Side.UNKNOWN,
                          item.sensor_id, placement) for i in up]

    def finish(self) -> list[StepEvent]:
        return []


class BlockMeans:
    """A stage that depends on block boundaries and order: the mean forward acc of every block."""

    def update(self, item: BusItem) -> list[PostureSample]:
        if isinstance(item, SampleBlock) and len(item):
            return [PostureSample("ann", item.end_s, float(item.acc_g[:, 0].mean()))]
        return []

    def finish(self) -> list[PostureSample]:
        return []


async def _run(source: Source, path: Path) -> RecordingReader:
    info = INFO if not isinstance(source, ReplaySource) else source.replay_info()
    stages: list[RecordStage] = [UpwardZeroCrossings(), BlockMeans()]
    await Session(info, [source], {"ann": stages}, [RecordingSink(path, info)]).run()
    return RecordingReader(path)


def _same_records(a: RecordingReader, b: RecordingReader, cls: type) -> bool:
    return a.records(cls) == b.records(cls)


async def test_replayed_metrics_equal_the_live_runs_at_any_speed(tmp_path: Path) -> None:
    live = await _run(ListSource(list(INFO.sensors), _session_items(8.0)), tmp_path / "live.skrec")
    assert len(live.records(StepEvent)) > 20
    for name, speed in (("max", math.inf), ("x1000", 1000.0)):
        replayed = await _run(ReplaySource(live.path, speed=speed), tmp_path / f"{name}.skrec")
        assert replayed.info.session_id == "orig-replay"
        assert _same_records(replayed, live, StepEvent), name
        assert _same_records(replayed, live, PostureSample), name  # even block-dependent results
        assert replayed.gaps() == live.gaps()
        for s in INFO.sensors:
            assert _fingerprint([replayed.samples(s.sensor_id)]) == _fingerprint([live.samples(s.sensor_id)])


async def test_on_a_grid_chunk_invariant_stages_still_match_the_live_run(tmp_path: Path) -> None:
    live = await _run(ListSource(list(INFO.sensors), _session_items(8.0)), tmp_path / "live.skrec")
    for name, speed in (("max", math.inf), ("x1000", 1000.0)):
        replayed = await _run(ReplaySource(live.path, speed=speed, block_s=0.04), tmp_path / f"{name}.skrec")
        assert sorted(map(repr, replayed.records(StepEvent))) == sorted(map(repr, live.records(StepEvent)))
        assert not _same_records(replayed, live, PostureSample)  # block means differ on another grid


async def test_a_sensor_listed_without_a_stream_replays_its_records_only(tmp_path: Path) -> None:
    path = tmp_path / "nostream.skrec"
    with RecordingWriter(path, INFO) as w:
        w.write_many(_stream(BACK, 1.0, 0.0, 10, 1))
        w.write(Gap(RIGHT.sensor_id, 0.2, 0.4, "never connected"))
    (path / "streams" / "ann_right_foot.bin").unlink()
    meta = json.loads((path / "meta.json").read_text())
    del meta["streams"][RIGHT.sensor_id]
    (path / "meta.json").write_text(json.dumps(meta))
    items = await _collect(ReplaySource(path, speed=math.inf))
    assert [x for x in items if not isinstance(x, SampleBlock)] == [Gap(RIGHT.sensor_id, 0.2, 0.4, "never connected")]
    assert sum(len(b) for b in items if isinstance(b, SampleBlock)) == 200
