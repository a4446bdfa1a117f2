"""Pods end to end on a real BLE host stack: emulated peripherals (bumble GATT servers) reached by
sensorkit's unchanged bleak code through the bumble-backed backend, on an in-process radio.

No timing assertions here: latencies and rates are measured in bench/ble_throughput.py.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner

from sensorkit.ble import uuids
from sensorkit.ble.backend import PLATFORM, BleBackend
from sensorkit.ble.emulation.diy import DiyPodEmulator
from sensorkit.ble.emulation.harness import collect
from sensorkit.ble.emulation.metamotion import MetaMotionEmulator
from sensorkit.ble.emulation.motion import CounterMotion
from sensorkit.ble.emulation.movesense import MovesenseEmulator
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Faults
from sensorkit.ble.emulation.polar import PolarH10Emulator, PolarVerityEmulator
from sensorkit.ble.emulation.radio import LocalRadio
from sensorkit.ble.emulation.rsc import RscEmulator
from sensorkit.ble.emulation.thingy import ThingyEmulator
from sensorkit.ble.scan import scan
from sensorkit.ble.settings import BleSettings, PodSettings
from sensorkit.ble.source import BlePodSource
from sensorkit.errors import AdapterError
from sensorkit.model import Placement, RunnerInfo, SampleBlock, SessionInfo, SpeedSample
from sensorkit.pipeline.clock import HostClock
from sensorkit.pipeline.session import Session
from tests.support.sources import CollectSink

BACK, LEFT, RIGHT = Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT
FAST = BleSettings(scan_timeout_s=3, reconnect_min_s=0.05, reconnect_max_s=1.0, health_interval_s=0.5)


@asynccontextmanager
async def world(
    *pods: tuple[type[EmulatedPeripheral], str, dict[str, Any]], mtu: int = 247
) -> AsyncIterator[tuple[BleBackend, dict[str, EmulatedPeripheral]]]:
    """A radio, a central (preferred MTU ``mtu``) and the given emulated pods, all advertising."""
    radio = LocalRadio()
    async with AsyncExitStack() as stack:
        central = await stack.enter_async_context(radio.central(preferred_mtu=mtu))
        made = {}
        for cls, name, kwargs in pods:
            made[name] = await stack.enter_async_context(cls(radio.device(name), name=name, **kwargs))
        yield central.backend, made


def source(backend: BleBackend, runner: str, *pods: PodSettings, **kwargs: Any) -> BlePodSource:
    return BlePodSource(
        runner, list(pods), HostClock(), backend=backend, settings=kwargs.pop("settings", FAST), seed=1, **kwargs
    )


async def test_every_profile_streams_in_sensorkit_units() -> None:
    """Nine devices of six protocols, three runners, all at once; profiles auto-detected where
    the device is recognisable, sensor-frame units at the edge (acc ~ 1 g at rest + motion)."""
    devices = [
        (PolarH10Emulator, "Polar H10 0001", {}),
        (MovesenseEmulator, "Movesense 0002", {}),
        (MetaMotionEmulator, "MetaWear", {}),
        (PolarVerityEmulator, "Polar Sense 0004", {}),
        (ThingyEmulator, "Thingy", {}),
        (RscEmulator, "Stryd", {}),
        (DiyPodEmulator, "SK Pod 7", {}),
        (DiyPodEmulator, "SK Pod 8", {}),
        (DiyPodEmulator, "SK Pod 9", {}),
    ]
    async with world(*devices) as (backend, _):
        sources = [
            source(
                backend,
                "a",
                PodSettings(name="Polar H10 0001", placement=BACK),
                PodSettings(name="Movesense 0002", placement=LEFT, profile="movesense"),
                PodSettings(name="MetaWear", placement=RIGHT),
            ),
            source(
                backend,
                "b",
                PodSettings(name="Polar Sense 0004", placement=BACK),
                PodSettings(name="Thingy", placement=LEFT, profile="thingy52"),
                PodSettings(name="Stryd", placement=RIGHT, cadence_per_stride=True),
            ),
            source(
                backend,
                "c",
                PodSettings(name="SK Pod 7", placement=BACK),
                PodSettings(name="SK Pod 8", placement=LEFT),
                PodSettings(name="SK Pod 9", placement=RIGHT),
            ),
        ]
        results = await asyncio.gather(*(collect(s, 3.0) for s in sources))
    got = {}
    for r in results:
        got.update({i.sensor_id: r for i in r.items})
    expect_gyro = {
        "a/lower_back": False,
        "a/left_foot": True,
        "a/right_foot": True,
        "b/lower_back": True,
        "b/left_foot": True,
        "c/lower_back": True,
        "c/left_foot": True,
        "c/right_foot": True,
    }
    for sid, has_gyro in expect_gyro.items():
        s = got[sid].samples(sid)
        assert s is not None and len(s) > 20, sid
        assert 0.7 < float(np.mean(s.acc_g[:, 2])) < 1.5, sid  # the emulated runner's vertical axis
        assert (s.gyr_dps is not None and np.isfinite(s.gyr_dps).mean() > 0.8) == has_gyro, sid
        assert got[sid].time_ordered(sid), sid
        health = got[sid].health(sid)
        assert health and health[-1].connected and health[-1].battery_pct == 87.0, sid
        assert health[-1].decode_errors == 0 and health[-1].clock_residual_ms is not None, sid
    speed = got["b/right_foot"].speed("b/right_foot")
    assert speed and isinstance(speed[0], SpeedSample)
    assert speed[-1].speed_mps == pytest.approx(3.5, abs=0.01) and speed[-1].cadence_spm == 172.0
    assert speed[-1].stride_length_m == pytest.approx(1.22)


@pytest.mark.parametrize("mtu", [23, 247])
async def test_diy_pod_fills_the_negotiated_mtu_and_loses_nothing(mtu: int) -> None:
    async with world((DiyPodEmulator, "SK Pod", {"motion": CounterMotion()}), mtu=mtu) as (backend, pods):
        got = await collect(source(backend, "r", PodSettings(name="SK Pod", placement=LEFT)), 2.0)
    s = got.samples("r/left_foot")
    assert s is not None
    index = np.round(s.acc_g[:, 0] * 32768 / 16).astype(int)
    assert np.all(np.diff(index) == 1)  # every sample once, in order
    per_packet = 1 if mtu == 23 else 8
    assert pods["SK Pod"].stats.notifications * per_packet >= len(s)
    assert pods["SK Pod"].stats.last_mtu == mtu


async def test_polar_at_mtu_23_is_refused_clearly_and_the_pod_gives_up() -> None:
    async with world((PolarH10Emulator, "Polar H10 0001", {}), mtu=23) as (backend, _):
        src = source(backend, "r", PodSettings(name="Polar H10 0001", placement=BACK))
        got = await collect(src, 1.5)
    assert not got.blocks("r/lower_back")
    failed = src.pods[0].counters.failed
    assert failed is not None and "invalid MTU" in failed and "MTU exchange" in failed
    assert got.health("r/lower_back")[-1].connected is False


async def test_pmd_answers_only_after_control_point_indications_are_on() -> None:
    """The trap: write before enabling indications and the answer is lost; the driver subscribes first."""
    async with world(
        (PolarH10Emulator, "Polar H10 0001", {}),
    ) as (backend, pods):
        (seen,) = await scan(1.0, backend)
        assert seen.profile == "polar_h10" and uuids.PMD_SERVICE not in seen.service_uuids  # found by name
        device = await BleakScanner.find_device_by_address(seen.address, timeout=3, backend=backend.scanner)
        assert device is not None
        async with BleakClient(device, backend=backend.client) as client:
            await client.write_gatt_char(uuids.PMD_CONTROL, bytes([1, 2]), response=True)
        assert pods["Polar H10 0001"].control_writes_unheard == 1
        got = await collect(source(backend, "r", PodSettings(name="Polar H10 0001", placement=BACK)), 1.5)
    assert got.blocks("r/lower_back")


async def test_three_drifting_pods_agree_on_one_timeline() -> None:
    """Three pods, clocks 40 ppm apart with different offsets and 0-25 ms jitter: every sample's
    host time is within a few ms of when the emulated pod really took it."""
    specs = [("SK Pod B", BACK, -30.0, 17.5), ("SK Pod L", LEFT, 10.0, 3.2e5), ("SK Pod R", RIGHT, 45.0, 88.0)]
    devices = [
        (
            DiyPodEmulator,
            name,
            {"motion": CounterMotion(), "faults": Faults(drift_ppm=ppm, clock_offset_s=off, jitter_s=0.025, seed=i)},
        )
        for i, (name, _, ppm, off) in enumerate(specs)
    ]
    async with world(*devices) as (backend, pods):
        clock = HostClock()
        src = BlePodSource(
            "r",
            [PodSettings(name=n, placement=p, rate_hz=208) for n, p, _, _ in specs],
            clock,
            backend=backend,
            settings=FAST,
        )
        got = await collect(src, 4.0)
    for name, placement, _, _ in specs:
        sid = f"r/{placement.value}"
        s = got.samples(sid)
        assert s is not None and len(s) > 400
        tail = s.slice(len(s) // 2, len(s))  # after the fit has seen a couple of seconds
        index = np.round(tail.acc_g[:, 0] * 32768 / 16).astype(np.int64)
        pod = pods[name]
        # the counter wraps at 2**15: recover the global index near the first one
        start = int(np.round(pod.clock.device_s(clock.start_monotonic_s + tail.time_s[0]) * 208))
        index = index + ((start - index) // 32768 + ((start - index) % 32768 > 16384)) * 32768
        true_s = pod.true_time_of_index(index, 208) - clock.start_monotonic_s
        error_ms = (tail.time_s - true_s) * 1e3
        assert np.percentile(np.abs(error_ms), 95) < 8.0, (name, np.percentile(np.abs(error_ms), 95))
        assert got.health(sid)[-1].clock_residual_ms is not None


async def test_loss_jitter_reordering_and_corruption_are_counted_not_crashed() -> None:
    faults = Faults(loss=0.08, reorder=0.1, jitter_s=0.01, corrupt=0.05, seed=7)
    async with world(
        (DiyPodEmulator, "SK Pod", {"motion": CounterMotion(), "faults": faults}),
    ) as (backend, pods):
        src = source(backend, "r", PodSettings(name="SK Pod", placement=LEFT))
        got = await collect(src, 3.0)
    sid = "r/left_foot"
    s = got.samples(sid)
    assert s is not None and got.time_ordered(sid)
    index = np.round(s.acc_g[:, 0] * 32768 / 16).astype(int)
    assert np.all(np.diff(index) > 0)  # no duplicates, nothing out of order
    gaps = got.gaps(sid)
    lost_in_gaps = sum(g.lost_samples or 0 for g in gaps)
    missing = int(index[-1] - index[0] + 1 - len(index))
    assert missing == lost_in_gaps > 0  # every missing sample is in a recorded gap, none invented
    h = src.pods[0].health()  # the final counters (health records are published every 0.5 s)
    stats = pods["SK Pod"].stats
    assert h.decode_errors >= 1 and stats.corrupted >= h.decode_errors
    assert h.lost_samples == lost_in_gaps and h.gaps == len(gaps)


async def test_pods_come_back_after_drops_and_resubscribe() -> None:
    """A DIY pod drops its link, a Movesense (which forgets subscriptions on every drop) leaves
    range for a second: both stream again, each hole is one recorded gap, reconnects are counted."""
    devices = [(DiyPodEmulator, "SK Pod", {"motion": CounterMotion()}), (MovesenseEmulator, "Movesense 7", {})]
    async with world(*devices) as (backend, pods):
        src = source(
            backend, "r", PodSettings(name="SK Pod", placement=LEFT), PodSettings(name="Movesense 7", placement=RIGHT)
        )

        async def trouble() -> None:
            await asyncio.sleep(1.2)
            await pods["SK Pod"].drop_link()
            await pods["Movesense 7"].vanish(1.0)

        got = await collect(src, 4.5, during=trouble)
    for sid, name in (("r/left_foot", "SK Pod"), ("r/right_foot", "Movesense 7")):
        h = got.health(sid)[-1]
        assert h.connected and h.reconnects == 1, sid
        assert pods[name].stats.streams_started == 2, sid  # it was told to stream again
        disconnects = [g for g in got.gaps(sid) if g.reason == "disconnected"]
        assert len(disconnects) == 1 and (disconnects[0].lost_samples or 0) > 0, sid
        blocks = got.blocks(sid)
        assert blocks[-1].end_s > disconnects[0].end_s, sid
    s = got.samples("r/left_foot")
    assert s is not None
    index = np.round(s.acc_g[:, 0] * 32768 / 16).astype(int)
    (gap,) = [g for g in got.gaps("r/left_foot") if g.reason == "disconnected"]
    assert int(np.max(np.diff(index))) - 1 == gap.lost_samples  # the gap counts exactly what was missed


async def test_ble_source_runs_inside_a_session() -> None:
    async with world(
        (DiyPodEmulator, "SK Pod", {}),
    ) as (backend, _):
        src = source(backend, "alice", PodSettings(name="SK Pod", placement=BACK))
        info = SessionInfo("s1", 0.0, (RunnerInfo("alice"),), tuple(src.sensors), "test")
        sink = CollectSink(queue_size=64)
        stop = asyncio.Event()
        session = Session(info, [src], {}, [sink])

        async def stopper() -> None:
            await asyncio.sleep(1.5)
            stop.set()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(stopper())
            stats = await session.run(stop)
    assert stats.errors == {} or all(v == 0 for v in stats.errors.values())
    assert any(isinstance(i, SampleBlock) for i in sink.items) and sink.flushed


@pytest.mark.skipif(
    os.path.exists("/run/dbus/system_bus_socket") or os.path.exists("/var/run/dbus/system_bus_socket"),
    reason="this host has a D-Bus system bus; the no-adapter path needs a machine without BlueZ",
)
async def test_without_bluetooth_the_source_fails_fast_with_one_clear_error() -> None:
    src = BlePodSource("r", [PodSettings(name="x", placement=BACK)], HostClock(), backend=PLATFORM)
    with pytest.raises(AdapterError, match="no usable Bluetooth adapter"):
        async with src:
            pass


async def test_source_shuts_down_even_when_nobody_reads_any_more() -> None:
    """A stalled pipeline fills the source's queue; leaving must still stop the pods and disconnect."""
    async with world(
        (DiyPodEmulator, "SK Pod", {}),
    ) as (backend, pods):
        src = source(backend, "r", PodSettings(name="SK Pod", placement=LEFT), out_queue_size=4)
        async with asyncio.timeout(20):
            async with src:
                await src.pods[0].streaming.wait()
                await asyncio.sleep(0.5)  # nobody reads: the pod's consumer now waits for room
        assert pods["SK Pod"].plan is None  # told to stop (or the link closed): not streaming on
