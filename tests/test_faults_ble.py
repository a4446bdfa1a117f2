"""Faults of the BLE pods, end to end: emulated pods (bumble GATT servers) reached by sensorkit's
unchanged bleak code through the bumble-backed backend, inside a real Session that records.

Each test states the documented outcome (RELIABILITY.md): no crash, every hole recorded as a
gap with what it swallowed, nothing the source accepted lost on the way to the recording, a
clear log line. A full-length storm (a drop every 5 s for 10 minutes) is bench/soak_ble_storm.py;
the storm here is the same fault, shortened.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sensorkit.ble.backend import BleBackend
from sensorkit.ble.emulation.diy import DiyPodEmulator
from sensorkit.ble.emulation.motion import CounterMotion
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, StreamPlan
from sensorkit.ble.emulation.radio import LocalRadio
from sensorkit.ble.settings import BleSettings, PodSettings
from sensorkit.ble.source import BlePodSource
from sensorkit.model import Gap, Placement, RunnerInfo, SampleBlock, SensorHealth, SessionInfo, SourceItem
from sensorkit.pipeline.clock import HostClock
from sensorkit.pipeline.session import Session, SessionStats
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.sink import RecordingSink
from tests.support.sources import observed

FAST = BleSettings(scan_timeout_s=2, reconnect_min_s=0.05, reconnect_max_s=1.0, health_interval_s=0.5)
LEFT, RIGHT = Placement.LEFT_FOOT, Placement.RIGHT_FOOT
RANGE_G = 16.0


@asynccontextmanager
async def pods(*names: str, cls: type[EmulatedPeripheral] = DiyPodEmulator
               ) -> AsyncIterator[tuple[BleBackend, dict[str, EmulatedPeripheral]]]:
    """One in-process radio, a central and DIY pods whose acc x counts samples (loss is visible)."""
    radio = LocalRadio()
    async with AsyncExitStack() as stack:
        central = await stack.enter_async_context(radio.central(preferred_mtu=247))
        made = {}
        for name in names:
            made[name] = await stack.enter_async_context(
                cls(radio.device(name), name=name, motion=CounterMotion(RANGE_G)))
        yield central.backend, made


class Counted:
    """The source as the session sees it, counting the samples it hands over."""

    def __init__(self, source: BlePodSource) -> None:
        self.source = source
        self.sensors = source.sensors
        self.samples: Counter[str] = Counter()

    async def __aenter__(self) -> Counted:
        await self.source.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.source.__aexit__(*exc)

    def items(self) -> AsyncIterator[SourceItem]:
        return observed(self.source.items(), self._count)

    def _count(self, item: SourceItem) -> None:
        if isinstance(item, SampleBlock):
            self.samples[item.sensor_id] += len(item)


@dataclass
class Outcome:
    recording: RecordingReader
    stats: SessionStats
    health: dict[str, SensorHealth]
    """Each pod's counters as the session ended (its last health record is up to 0.5 s older)."""
    handed_over: Counter[str]
    """Samples per sensor the source handed to the session (the rest came after the stop)."""
    leaked_tasks: set[asyncio.Task[Any]]


async def record_session(backend: BleBackend, placements: dict[str, Placement], path: Path, seconds: float,
                         trouble: Callable[[], Awaitable[None]] | None = None,
                         settings: BleSettings = FAST) -> Outcome:
    """Runner "r" wears the named pods; a real Session records them for ``seconds`` while
    ``trouble`` runs (cancelled at the end if still going), then stops as on SIGTERM."""
    before = asyncio.all_tasks()
    source = BlePodSource("r", [PodSettings(name=n, placement=p) for n, p in placements.items()], HostClock(),
                          backend=backend, settings=settings, seed=1)
    info = SessionInfo("faults", 0.0, (RunnerInfo("r"),), tuple(source.sensors), "test")
    counted = Counted(source)
    session = Session(info, [counted], {}, [RecordingSink(path, info)])
    stop = asyncio.Event()

    async def stopper() -> None:
        await asyncio.sleep(seconds)
        stop.set()

    async with asyncio.timeout(seconds + 60), asyncio.TaskGroup() as tg:  # a hang fails, never blocks CI
        helper = tg.create_task(trouble()) if trouble is not None else None
        tg.create_task(stopper())
        stats = await session.run(stop)
        if helper is not None:
            helper.cancel()
    await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() - before if not t.done() and not _emulator_task(t)}
    return Outcome(RecordingReader(path), stats, {p.sensor.sensor_id: p.health() for p in source.pods},
                   counted.samples, leaked)


def _emulator_task(task: asyncio.Task[Any]) -> bool:
    """Tasks of the emulated pods' own stack (bumble), which outlive the session on purpose."""
    code = getattr(task.get_coro(), "cr_code", None)
    where = code.co_filename if code is not None else ""
    return "/bumble/" in where or "/ble/emulation/" in where


def sample_index(rec: RecordingReader, sid: str) -> np.ndarray:
    """The pod's global sample counter, unwrapped from acc x (mod 2**15)."""
    raw = np.round(rec.samples(sid).acc_g[:, 0] * 32768 / RANGE_G).astype(np.int64)
    steps = np.diff(raw) % 32768
    return np.concatenate([[raw[0]], raw[0] + np.cumsum(steps)]) if raw.size else raw


def gaps_of(rec: RecordingReader, sid: str) -> list[Gap]:
    return [g for g in rec.gaps() if g.sensor_id == sid]


def assert_every_hole_is_a_gap(rec: RecordingReader, sid: str) -> int:
    """Samples never repeat or run backwards; every missing one is counted in a recorded gap."""
    index = sample_index(rec, sid)
    assert np.all(np.diff(index) > 0), "duplicated or reordered samples"
    assert np.all(np.diff(rec.samples(sid).time_s) > 0), "host time runs backwards"
    missing = int(index[-1] - index[0] + 1 - index.size)
    lost_in_gaps = sum(g.lost_samples or 0 for g in gaps_of(rec, sid) if g.end_s <= rec.samples(sid).end_s)
    assert missing == lost_in_gaps, (missing, lost_in_gaps, gaps_of(rec, sid))
    return missing


async def test_a_disconnect_storm_costs_only_the_samples_the_drops_swallowed(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A drop every second for 12 s (the bench: every 5 s for 10 min): each drop is one reconnect
    and one recorded gap counting exactly the samples it swallowed; the other pod never notices;
    everything the source accepted is in the recording; no task outlives the session."""
    drops = 12

    async def storm() -> None:
        await asyncio.sleep(1.5)
        for _ in range(drops):
            await made["storm"].drop_link()
            await asyncio.sleep(1.0)

    caplog.set_level(logging.INFO, logger="sensorkit.ble")
    async with pods("storm", "steady") as (backend, made):
        out = await record_session(backend, {"storm": LEFT, "steady": RIGHT}, tmp_path / "storm.skrec",
                                   1.5 + drops + 1.5, storm)
    rec, storm_id, steady_id = out.recording, "r/left_foot", "r/right_foot"
    assert not out.leaked_tasks, out.leaked_tasks
    assert not out.stats.errors, out.stats.errors
    reconnects = out.health[storm_id].reconnects
    assert reconnects == made["storm"].stats.connections - 1 >= drops - 2  # a drop mid-reconnect is a no-op
    disconnects = [g for g in gaps_of(rec, storm_id) if g.reason == "disconnected"]
    assert len(disconnects) == reconnects
    assert all((g.lost_samples or 0) > 0 for g in disconnects)
    lost = assert_every_hole_is_a_gap(rec, storm_id)
    assert lost == out.health[storm_id].lost_samples > 0
    for sid in (storm_id, steady_id):  # everything handed over is recorded; only post-stop samples are not
        assert rec.sample_count(sid) == out.handed_over[sid] <= out.health[sid].samples
    # The pod streamed to the end: the last second of the session has its samples.
    assert rec.samples(storm_id).end_s > rec.samples(steady_id).end_s - 1.0
    assert assert_every_hole_is_a_gap(rec, steady_id) == 0 and not gaps_of(rec, steady_id)
    assert out.health[steady_id].reconnects == 0
    lost_lines = [r for r in caplog.records if r.levelno == logging.WARNING and "link lost" in r.getMessage()]
    assert len(lost_lines) == reconnects, [r.getMessage() for r in caplog.records][-20:]


async def test_a_pod_that_never_returns_is_a_gap_to_the_end_and_the_others_stream_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sensorkit.ble")

    async def gone_for_good() -> None:
        await asyncio.sleep(2.0)
        await made["lost"].vanish(3600.0)

    async with pods("lost", "steady") as (backend, made):
        out = await record_session(backend, {"lost": LEFT, "steady": RIGHT}, tmp_path / "lost.skrec", 6.0,
                                   gone_for_good)
    rec, lost_id, steady_id = out.recording, "r/left_foot", "r/right_foot"
    assert not out.leaked_tasks and not out.stats.errors
    assert not out.health[lost_id].connected and out.health[lost_id].reconnects == 0
    last_sample = rec.samples(lost_id).end_s
    steady_end = rec.samples(steady_id).end_s
    assert steady_end > last_sample + 3.0 and not gaps_of(rec, steady_id)  # the other pod streamed on
    (gap,) = gaps_of(rec, lost_id)
    assert gap.reason == "disconnected" and gap.start_s == pytest.approx(last_sample)
    assert gap.end_s >= steady_end - 0.5  # the hole reaches the end of the session
    assert (gap.lost_samples or 0) == pytest.approx((gap.end_s - gap.start_s) * 208, rel=0.05, abs=3)
    health = [h for h in rec.records("health") if h.sensor_id == lost_id]
    assert health[-1].connected is False and any(h.connected for h in health)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("link lost" in m for m in messages) and any("not seen within" in m for m in messages)


class JumpyDiyPod(DiyPodEmulator):
    """A DIY pod whose device clock is stepped by ``jump_s`` (NTP-style correction or a reboot)
    while its samples and sequence numbers go on without a break."""

    jump_s = 0.0

    def start_stream(self, plan: StreamPlan) -> None:
        emit = plan.emit

        def stepped(k: int, dev_t0: float, acc: np.ndarray, gyr: np.ndarray) -> Any:
            return emit(k, dev_t0 + self.jump_s, acc, gyr)

        super().start_stream(StreamPlan(plan.rate_hz, plan.samples_per_packet, stepped))


@pytest.mark.parametrize("jump_s", [5.0, -900.0], ids=["forward_5s", "back_900s"])
async def test_a_device_clock_jump_is_recorded_and_never_claims_loss_or_breaks_the_timeline(
        tmp_path: Path, jump_s: float, caplog: pytest.LogCaptureFixture) -> None:
    async def jump() -> None:
        await asyncio.sleep(3.0)  # long enough for the clock fit to settle
        made["jumpy"].jump_s = jump_s  # type: ignore[attr-defined]

    caplog.set_level(logging.WARNING)
    async with pods("jumpy", cls=JumpyDiyPod) as (backend, made):
        out = await record_session(backend, {"jumpy": LEFT}, tmp_path / "jump.skrec", 7.0, jump)
    rec, sid = out.recording, "r/left_foot"
    assert not out.leaked_tasks and not out.stats.errors
    assert assert_every_hole_is_a_gap(rec, sid) == 0  # no sample lost, none claimed lost
    t = rec.samples(sid).time_s
    assert np.max(np.diff(t)) < 0.5  # the host timeline has no jump: the device clock's step is absorbed
    assert [g.reason for g in gaps_of(rec, sid)] == ["clock jump"]
    assert out.health[sid].reconnects == 0
    assert any("jump" in r.getMessage() for r in caplog.records)
