"""Pods in other processes, reached over HCI-over-TCP: the controllers run in one process, the
emulated pods' hosts in another, and sensorkit's host here. Nothing is shared but sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator

import numpy as np

from sensorkit.ble.bumble.host import BumbleCentral
from sensorkit.ble.emulation.harness import collect
from sensorkit.ble.settings import BleSettings, PodSettings
from sensorkit.ble.source import BlePodSource
from sensorkit.model import Placement
from sensorkit.pipeline.clock import HostClock

FAST = BleSettings(scan_timeout_s=5, reconnect_min_s=0.05, reconnect_max_s=1.0, health_interval_s=0.5)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    try:
        yield procs
    finally:
        for p in reversed(procs):  # pods first, then the controllers they talk to
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            if p.stdout is not None:
                p.stdout.close()


def start_pods(procs: list[subprocess.Popen[str]], pods: dict[str, int], *extra: str) -> subprocess.Popen[str]:
    """One process hosting the named pods, each a host on its own HCI port."""
    args = [a for name, port in pods.items() for a in ("--pod", f"{name}@tcp-client:127.0.0.1:{port}")]
    p = subprocess.Popen(
        [sys.executable, "-m", "sensorkit.ble.emulation", *args, "--motion", "counter", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    procs.append(p)
    return p


async def wait_ready(p: subprocess.Popen[str], count: int = 1) -> None:
    assert p.stdout is not None
    for _ in range(count):
        line = await asyncio.wait_for(asyncio.to_thread(p.stdout.readline), 30)
        assert line.startswith("ready"), line


def start_controllers(procs: list[subprocess.Popen[str]], module: str, ports: list[int]) -> None:
    args = [f"tcp-server:127.0.0.1:{p}" for p in ports]
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", module, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
        )
    )


async def test_a_pod_in_another_process_through_bumbles_controllers_app() -> None:
    host_port, pod_port = free_ports(2)
    with processes() as procs:
        start_controllers(procs, "bumble.apps.controllers", [host_port, pod_port])  # takes exactly two
        pod = start_pods(procs, {"SK Pod far": pod_port}, "--drift-ppm", "30")  # waits for the controllers
        await wait_ready(pod)
        async with BumbleCentral(transport=f"tcp-client:127.0.0.1:{host_port}") as central:
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
    ports = free_ports(4)
    names = {"SK Pod B": Placement.LOWER_BACK, "SK Pod L": Placement.LEFT_FOOT, "SK Pod R": Placement.RIGHT_FOOT}
    with processes() as procs:
        start_controllers(procs, "sensorkit.ble.emulation.radio", ports)
        pods = start_pods(
            procs, dict(zip(names, ports[1:], strict=True)), "--drop-every-s", "1.5", "--drop", "SK Pod R"
        )
        await wait_ready(pods, 3)
        async with BumbleCentral(transport=f"tcp-client:127.0.0.1:{ports[0]}") as central:
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
