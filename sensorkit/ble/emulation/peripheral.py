"""Base of the emulated pods: a bumble GATT server with a drifting clock and injectable faults.

A pod advertises, accepts one central, serves its protocol (subclasses), and streams
samples of a :mod:`motion <sensorkit.ble.emulation.motion>` model taken on its own clock
grid: sample ``k`` is taken at device time ``k / rate`` since boot, the device clock runs
``drift_ppm`` fast and starts at ``clock_offset_s``. Faults (loss, jitter, reordering,
link drops, vanishing from range) are what a real radio and a real run do to the stream.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import numpy as np
from bumble import gatt
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.profiles.battery_service import BatteryService

from sensorkit.ble.emulation.motion import Motion, RunningMotion

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Faults:
    """What the air and the device do to the stream; all off by default."""

    loss: float = 0.0
    """Probability that a notification is lost."""
    jitter_s: float = 0.0
    """Extra delay, uniform in [0, jitter_s], before a notification leaves (order kept)."""
    reorder: float = 0.0
    """Probability that a notification is held back and sent after the next one."""
    drift_ppm: float = 0.0
    """Device clock rate error (positive: the device clock runs fast)."""
    clock_offset_s: float = 1000.0
    """Device clock reading at emulator start."""
    latency_s: float = 0.002
    """Fixed delay between the last sample of a packet and its notification."""
    corrupt: float = 0.0
    """Probability that a notification is cut short at a random length (a malformed frame)."""
    seed: int | None = None


class DeviceClock:
    """The pod's clock: ``device = offset + (true - t0) * (1 + drift)``."""

    def __init__(self, drift_ppm: float, offset_s: float, t0: float | None = None) -> None:
        self.rate = 1.0 + drift_ppm * 1e-6
        self.offset_s = offset_s
        self.t0 = time.monotonic() if t0 is None else t0

    def device_s(self, true_s: Any) -> Any:
        return self.offset_s + (np.asarray(true_s) - self.t0) * self.rate

    def true_s(self, device_s: Any) -> Any:
        return self.t0 + (np.asarray(device_s) - self.offset_s) / self.rate


Notification = tuple[gatt.Characteristic[Any], bytes]
Emitter = Callable[[int, float, np.ndarray, np.ndarray], Sequence[Notification]]
"""(first global sample index, device time of the first sample, acc (n,3) g, gyr (n,3) dps)
-> notifications for this tick."""


@dataclass(slots=True)
class StreamPlan:
    rate_hz: float
    samples_per_packet: int
    emit: Emitter


@dataclass(slots=True)
class PodStats:
    notifications: int = 0
    lost: int = 0
    reordered: int = 0
    corrupted: int = 0
    streams_started: int = 0
    connections: int = 0
    last_mtu: int = 23
    sent_per_char: dict[str, int] = field(default_factory=dict)


class EmulatedPeripheral(abc.ABC):
    """One emulated pod; an async context manager that owns its tasks in a TaskGroup."""

    def __init__(
        self,
        device: Device,
        *,
        name: str,
        faults: Faults | None = None,
        motion: Motion | None = None,
        battery_pct: int = 87,
        max_mtu: int = 247,
    ) -> None:
        self.device = device
        self.name = name
        self.faults = faults or Faults()
        self.motion: Motion = motion or RunningMotion()
        self.battery_pct = battery_pct
        self.max_mtu = max_mtu
        self.clock = DeviceClock(self.faults.drift_ppm, self.faults.clock_offset_s)
        self.stats = PodStats()
        self.connection: Connection | None = None
        self.plan: StreamPlan | None = None
        self._rng = random.Random(self.faults.seed)
        self._tg: asyncio.TaskGroup | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._advertising = False

    # -- what subclasses provide ------------------------------------------------------------

    @abc.abstractmethod
    def services(self) -> list[gatt.Service]:
        """The pod's GATT services (the battery service is added by the base)."""

    def advertised_uuids(self) -> list[str]:
        return []

    def on_connected(self, connection: Connection) -> None:  # noqa: B027 - optional hook
        """Hook: a central connected."""

    def on_disconnected(self) -> None:  # noqa: B027 - optional hook
        """Hook: the link went down (most devices forget every subscription here)."""

    # -- lifecycle --------------------------------------------------------------------------

    def advertising_data(self) -> bytes:
        fields: list[tuple[int, bytes]] = [
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
        ]
        for u in self.advertised_uuids():
            short = u.startswith("0000") and u.endswith("-0000-1000-8000-00805f9b34fb")
            if short:
                fields.append(
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        int(u[4:8], 16).to_bytes(2, "little"),
                    )
                )
            else:
                raw = bytes.fromhex(u.replace("-", ""))[::-1]
                fields.append((AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, raw))
        return bytes(AdvertisingData(fields))

    async def __aenter__(self) -> Self:
        if self._tg is not None:
            raise RuntimeError(f"{self.name}: not reentrant")
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self.device.add_services([*self.services(), BatteryService(lambda _c: self.battery_pct)])
        self.device.gatt_server.max_mtu = self.max_mtu
        self.device.on("connection", self._on_connection)
        await self.device.power_on()
        await self.advertise()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_stream()
        try:
            async with asyncio.timeout(2.0):  # an HCI peer that died must not hang the shutdown
                if self._advertising:
                    await self.device.stop_advertising()
                    self._advertising = False
                if self.connection is not None:
                    await self.connection.disconnect()
        except Exception as e:  # shutting down; the central may have gone first
            log.debug("%s: closing: %s", self.name, e)
        tg, self._tg = self._tg, None
        if tg is not None:
            await tg.__aexit__(exc_type, exc, tb)

    async def advertise(self) -> None:
        await self.device.start_advertising(
            advertising_data=self.advertising_data(),
            auto_restart=True,
            advertising_interval_min=20,
            advertising_interval_max=20,
        )
        self._advertising = True

    def _on_connection(self, connection: Connection) -> None:
        self.connection = connection
        self.stats.connections += 1
        connection.on("disconnection", lambda reason: self._on_disconnection(connection))
        connection.on("connection_att_mtu_update", lambda: setattr(self.stats, "last_mtu", connection.att_mtu))
        self.on_connected(connection)

    def _on_disconnection(self, connection: Connection) -> None:
        if self.connection is connection:
            self.connection = None
        self.stop_stream()
        self.on_disconnected()

    def spawn(self, coro: Any) -> None:
        """Run a coroutine in the pod's task group (GATT callbacks cannot await)."""
        if self._tg is None:
            coro.close()
            return
        self._tg.create_task(coro)

    # -- faults -----------------------------------------------------------------------------

    async def drop_link(self) -> None:
        """The link breaks (out of range for a moment); the pod advertises again at once."""
        if self.connection is not None:
            await self.connection.disconnect()

    async def vanish(self, seconds: float) -> float:
        """Leave range for ``seconds``: drop the link and stop advertising, then re-appear.

        Returns the monotonic time at which the pod advertised again.
        """
        if self._advertising:
            await self.device.stop_advertising()
            self._advertising = False
        await self.drop_link()
        await asyncio.sleep(seconds)
        back = time.monotonic()
        await self.advertise()
        return back

    # -- streaming --------------------------------------------------------------------------

    def true_time_of_index(self, index: Any, rate_hz: float) -> Any:
        """Host-monotonic time at which global sample ``index`` was taken (test truth)."""
        return self.clock.true_s(np.asarray(index, dtype=np.float64) / rate_hz)

    def start_stream(self, plan: StreamPlan) -> None:
        self.stop_stream()
        if self._tg is None or self.connection is None:
            return
        self.plan = plan
        self.stats.streams_started += 1
        self._stream_task = self._tg.create_task(self._stream(plan, self.connection))

    def stop_stream(self) -> None:
        task, self._stream_task = self._stream_task, None
        self.plan = None
        if task is not None and not task.done():
            task.cancel()

    async def notify(self, characteristic: gatt.Characteristic[Any], value: bytes, *, indicate: bool = False) -> None:
        conn = self.connection
        if conn is None:
            return
        if indicate:
            await self.device.indicate_subscriber(conn, characteristic, value)
        else:
            await self.device.notify_subscriber(conn, characteristic, value)
        key = str(characteristic.uuid)
        self.stats.sent_per_char[key] = self.stats.sent_per_char.get(key, 0) + 1

    async def _stream(self, plan: StreamPlan, conn: Connection) -> None:
        f = self.faults
        n = plan.samples_per_packet
        k = math.ceil(float(self.clock.device_s(time.monotonic())) * plan.rate_hz)
        held: list[Notification] = []
        while self.connection is conn:
            idx = np.arange(k, k + n, dtype=np.int64)
            dev_t = idx / plan.rate_hz
            t_true = self.clock.true_s(dev_t)
            due = float(t_true[-1]) + f.latency_s + (self._rng.uniform(0, f.jitter_s) if f.jitter_s else 0.0)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            acc, gyr = self.motion.sample(t_true, idx)
            for note in plan.emit(k, float(dev_t[0]), acc, gyr):
                if f.loss and self._rng.random() < f.loss:
                    self.stats.lost += 1
                    continue
                if f.reorder and not held and self._rng.random() < f.reorder:
                    held.append(note)
                    self.stats.reordered += 1
                    continue
                await self._send(note)
                while held:
                    await self._send(held.pop())
            k += n

    async def _send(self, note: Notification) -> None:
        char, value = note
        if self.faults.corrupt and len(value) > 1 and self._rng.random() < self.faults.corrupt:
            value = value[: self._rng.randrange(1, len(value))]
            self.stats.corrupted += 1
        await self.notify(char, value)
        self.stats.notifications += 1
