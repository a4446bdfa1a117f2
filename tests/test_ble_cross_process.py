"""Pods in other processes, reached over HCI-over-TCP: the controllers run in one process, the
emulated pods' hosts in another, and sensorkit's host here. Nothing is shared but sockets."""

from __future__ import annotations

import asyncio

import numpy as np

from sensorkit.ble.bumble.host import BumbleCentral
from sensorkit.ble.emulation.harness import collect
from sensorkit.ble.emulation.processes import EmulatedPodsProcess
from sensorkit.ble.settings import BleSettings, PodSettings
from sensorkit.ble.source import BlePodSource
from sensorkit.model import Placement
from sensorkit.pipeline.clock import HostClock

FAST = BleSettings(scan_timeout_s=5, reconnect_min_s=0.05, reconnect_max_s=1.0, health_interval_s=0.5)


async def test_a_pod_in_another_process_through_bumbles_controllers_app() -> None:
    # bumble's own controllers app takes exactly two HCI transports: sensorkit's host and one pod
    with EmulatedPodsProcess(
        ["SK Pod far"], "--motion", "counter", "--drift-ppm", "30", controllers="bumble.apps.controllers"
    ) as world:
        await asyncio.to_thread(world.wait_ready)
        async with BumbleCentral(transport=world.host_transport) as central:
            src = BlePodSource(
                "r",
                [PodSettings(name="SK Pod far", placement=Placement.LEFT_FOOT)],
                HostClock(),
                backend=central.backend,
                settings=FAST,
            )
            got = await collect(src, 2.0)
    s = got.samples("r/left_foot")
    assert s is not None and len(s) > 200
    index = np.round(s.acc_g[:, 0] * 32768 / 16).astype(int)
    assert np.all(np.diff(index) == 1) and got.time_ordered("r/left_foot")
    assert got.health("r/left_foot")[-1].connected


async def test_three_pods_in_another_process_stream_at_once_and_survive_drops() -> None:
    names = {"SK Pod B": Placement.LOWER_BACK, "SK Pod L": Placement.LEFT_FOOT, "SK Pod R": Placement.RIGHT_FOOT}
    with EmulatedPodsProcess(
        list(names), "--motion", "counter", "--drop-every-s", "1.5", "--drop", "SK Pod R"
    ) as world:
        await asyncio.to_thread(world.wait_ready)
        async with BumbleCentral(transport=world.host_transport) as central:
            src = BlePodSource(
                "r",
                [PodSettings(name=n, placement=pl) for n, pl in names.items()],
                HostClock(),
                backend=central.backend,
                settings=FAST,
            )
            got = await collect(src, 3.5)
    for placement in names.values():
        sid = f"r/{placement.value}"
        s = got.samples(sid)
        assert s is not None and len(s) > 300, sid
        assert got.time_ordered(sid), sid
    right = got.health("r/right_foot")[-1]
    assert right.reconnects >= 1  # the peripheral-side drops fired bleak's disconnected callback
    assert [g for g in got.gaps("r/right_foot") if g.reason == "disconnected"]
