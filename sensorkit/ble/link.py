"""One connection to one pod: bleak underneath, the callback edge, and the driver's GATT port.

The notification callback does the least possible work: it stamps the bytes with the
host clock and puts them on a bounded :class:`Channel` (oldest dropped and counted when
the decoder falls behind). Everything else happens in ``async for`` consumers.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from sensorkit.ble import uuids
from sensorkit.ble.backend import BleBackend
from sensorkit.ble.errors import wrap_ble_error
from sensorkit.errors import ProtocolError, SensorUnavailableError, SourceError
from sensorkit.pipeline.channel import Channel, OverflowPolicy
from sensorkit.pipeline.clock import HostClock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawPacket:
    """A notification as it left the radio: characteristic, host arrival time, bytes."""

    uuid: str
    arrival_s: float
    data: bytes


class PodLink:
    """An async context manager around one BleakClient connection (never re-entered)."""

    def __init__(
        self,
        device: BLEDevice | str,
        *,
        backend: BleBackend,
        clock: HostClock,
        label: str,
        queue_size: int = 512,
        connect_timeout_s: float = 10.0,
        on_drop: Callable[[RawPacket], None] | None = None,
    ) -> None:
        self.label = label
        self._device = device
        self._backend = backend
        self._clock = clock
        self._connect_timeout_s = connect_timeout_s
        self.packets: Channel[RawPacket] = Channel(
            f"ble:{label}", queue_size, OverflowPolicy.DROP_OLDEST, on_drop=on_drop
        )
        self._backlog: collections.deque[RawPacket] = collections.deque()
        self._client: BleakClient | None = None
        self.lost = asyncio.Event()
        self._entered = False
        self._subscribed: set[str] = set()

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError(f"{self.label}: PodLink is not reentrant")
        self._entered = True
        client = self._backend.make_client(
            self._device, disconnected_callback=self._on_disconnect, timeout=self._connect_timeout_s
        )
        try:
            await client.connect()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise wrap_ble_error(exc, f"connect to {self.label}") from exc
        self._client = client
        await self._negotiate_mtu(client)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        client, self._client = self._client, None
        self.packets.close()
        if client is not None and client.is_connected:
            try:
                await asyncio.wait_for(client.disconnect(), 5.0)
            except Exception as e:  # the link may already be gone; the exit reason matters more
                log.debug("%s: disconnect: %s", self.label, e)

    def _on_disconnect(self, _client: BleakClient) -> None:
        self.lost.set()
        self.packets.close()  # the consumer drains what arrived, then sees the end

    async def _negotiate_mtu(self, client: BleakClient) -> None:
        """BlueZ exchanges the MTU itself but reports 23 until asked (bleak's mtu_size example)."""
        acquire = getattr(client._backend, "_acquire_mtu", None)
        if acquire is not None:
            try:
                await acquire()
            except Exception as e:
                log.debug("%s: MTU query failed: %s", self.label, e)
        log.info("%s: connected, ATT MTU %d", self.label, client.mtu_size)

    # -- GattPort ---------------------------------------------------------------------------

    @property
    def client(self) -> BleakClient:
        if self._client is None:
            raise SensorUnavailableError(f"{self.label}: not connected")
        return self._client

    @property
    def mtu(self) -> int:
        return int(self.client.mtu_size)

    @property
    def name(self) -> str | None:
        if isinstance(self._device, BLEDevice):
            return self._device.name
        return None

    def service_uuids(self) -> list[str]:
        return [s.uuid for s in self.client.services]

    def has_characteristic(self, uuid: str) -> bool:
        return self.client.services.get_characteristic(uuid) is not None

    def _char(self, uuid: str) -> BleakGATTCharacteristic:
        ch = self.client.services.get_characteristic(uuid)
        if ch is None:
            raise ProtocolError(f"{self.label}: characteristic {uuid} not found (wrong profile?)")
        return ch

    async def _gatt(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except (ProtocolError, SourceError):
            raise
        except Exception as exc:
            raise wrap_ble_error(exc, f"{self.label}: {what}") from exc

    async def read(self, uuid: str) -> bytes:
        return bytes(await self._gatt(f"read {uuid}", self.client.read_gatt_char(self._char(uuid))))

    async def write(self, uuid: str, data: bytes, *, response: bool = True) -> None:
        await self._gatt(f"write {uuid}", self.client.write_gatt_char(self._char(uuid), data, response=response))

    async def subscribe(self, uuid: str) -> None:
        ch = self._char(uuid)
        now = self._clock.now_s
        packets = self.packets

        def edge(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
            if not packets.closed:
                packets.send_nowait(RawPacket(uuid, now(), bytes(data)))

        await self._gatt(f"subscribe {uuid}", self.client.start_notify(ch, edge))
        self._subscribed.add(uuid)

    async def expect(self, uuid: str, match: Callable[[bytes], bool], timeout_s: float) -> bytes:
        kept: list[RawPacket] = []
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    if self.lost.is_set():
                        raise SensorUnavailableError(f"{self.label}: link lost while waiting for a response")
                    pkt = await self._next_or_lost()
                    if pkt.uuid == uuid and match(pkt.data):
                        return pkt.data
                    kept.append(pkt)
        except TimeoutError as exc:
            raise SourceError(f"{self.label}: no response on {uuid} within {timeout_s:.0f} s") from exc
        finally:
            self._backlog.extend(kept)

    async def _next_or_lost(self) -> RawPacket:
        if self._backlog:
            return self._backlog.popleft()
        try:
            return await self.packets.receive()
        except StopAsyncIteration:  # the disconnect callback closes the queue
            raise SensorUnavailableError(f"{self.label}: link lost") from None

    async def stream(self) -> AsyncIterator[RawPacket]:
        """Packets (setup leftovers first) until the link is lost or closed."""
        while self._backlog:
            yield self._backlog.popleft()
        while True:
            try:
                yield await self._next_or_lost()
            except (SensorUnavailableError, StopAsyncIteration):
                return

    async def battery_pct(self) -> float | None:
        """Battery level from the standard Battery service, when the pod has one."""
        if self._client is None or not self.has_characteristic(uuids.BATTERY_LEVEL):
            return None
        try:
            data = await self.read(uuids.BATTERY_LEVEL)
        except (SourceError, ProtocolError) as e:
            log.debug("%s: battery read failed: %s", self.label, e)
            return None
        return float(data[0]) if data and data[0] <= 100 else None
