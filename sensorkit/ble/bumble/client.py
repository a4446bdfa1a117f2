"""bleak client backend over a bumble host: real GATT client, real ATT, emulated radio.

Behaves like BlueZ where sensorkit depends on it: an MTU exchange right after connecting
(up to the host's preferred MTU; BlueZ always asks for 517), notifications preferred over
indications when a characteristic has both, and the disconnected callback fired only for
disconnections the client did not ask for.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuidlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.device import Connection, Peer
from bumble.gatt_client import CharacteristicProxy

if TYPE_CHECKING:
    from sensorkit.ble.bumble.host import BumbleCentral

log = logging.getLogger(__name__)

_PROPERTY_NAMES = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)


def uuid_str(u: core.UUID) -> str:
    """Bumble UUID -> bleak's normalised lower-case 128-bit string."""
    return str(uuidlib.UUID(bytes=bytes(reversed(u.uuid_128_bytes))))


def to_address(target: BLEDevice | str) -> hci.Address:
    if isinstance(target, BLEDevice) and isinstance(target.details, hci.Address):
        return target.details
    text = target.address if isinstance(target, BLEDevice) else target
    return hci.Address(text, hci.Address.RANDOM_DEVICE_ADDRESS)


class BumbleBleakClient(BaseBleakClient):
    """One connection from the bound :class:`BumbleCentral` to a peripheral."""

    central: ClassVar[BumbleCentral]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._target = to_address(address_or_ble_device)
        self._device_name = address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        self._conn: Connection | None = None
        self._peer: Peer | None = None
        self._chars: dict[int, CharacteristicProxy[bytes]] = {}
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}
        self._closing = False

    # -- connection ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._device_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return int(self._conn.att_mtu) if self._conn is not None else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._conn is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if pair:
            log.debug("pairing is not supported by the bumble backend; connecting without it")
        device = self.central.device
        try:
            async with self.central.connect_lock:
                conn = await asyncio.wait_for(device.connect(self._target, timeout=self._timeout), self._timeout + 1)
        except (TimeoutError, core.TimeoutError, core.CommandTimeoutError) as exc:
            with_cancel = device.is_le_connecting
            if with_cancel:
                await device.cancel_connection()
            raise BleakDeviceNotFoundError(self.address, f"{self.address} did not answer") from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"connection to {self.address} failed: {exc}") from exc
        self._conn = conn
        self._closing = False
        conn.on(conn.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            self._peer = Peer(conn)
            if self.central.preferred_mtu > att.ATT_DEFAULT_MTU:
                await self._peer.request_mtu(self.central.preferred_mtu)
            self.services = await self._discover()
        except BaseException:
            await self.disconnect()
            raise

    def _on_disconnection(self, reason: int) -> None:
        was_ours = self._closing
        self._conn = None
        self._peer = None
        self._chars.clear()
        self._subscriptions.clear()
        if not was_ours and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        conn = self._conn
        if conn is None:
            return
        self._closing = True
        try:
            await conn.disconnect()
        except core.BaseBumbleError as exc:
            log.debug("disconnect from %s: %s", self.address, exc)
        finally:
            self._conn = None
            self._peer = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not supported by the bumble backend")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not supported by the bumble backend")

    # -- discovery ------------------------------------------------------------------------

    async def _discover(self) -> BleakGATTServiceCollection:
        peer = self._need_peer()
        collection = BleakGATTServiceCollection()
        for svc in await peer.discover_services():
            bs = BleakGATTService(svc, svc.handle, uuid_str(svc.uuid))
            collection.add_service(bs)
            for ch in await svc.discover_characteristics():
                props = [name for bit, name in _PROPERTY_NAMES if int(ch.properties) & bit]
                bc = BleakGATTCharacteristic(
                    ch,
                    ch.handle,
                    uuid_str(ch.uuid),
                    props,  # type: ignore[arg-type]
                    self._max_write_without_response,
                    bs,
                )
                collection.add_characteristic(bc)
                self._chars[ch.handle] = ch
                for d in await ch.discover_descriptors():
                    collection.add_descriptor(BleakGATTDescriptor(d, d.handle, uuid_str(d.type), bc))
        return collection

    def _max_write_without_response(self) -> int:
        return self.mtu_size - 3

    def _need_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError(f"not connected to {self.address}")
        return self._peer

    # -- I/O ------------------------------------------------------------------------------

    async def _att(self, coro: Any) -> Any:
        try:
            return await coro
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(int(exc.error_code)) from exc
        except (core.BaseBumbleError, TimeoutError) as exc:
            raise BleakError(f"{self.address}: {exc}") from exc

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        value = await self._att(self._need_peer().read_value(characteristic.handle))
        return bytearray(value)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._att(self._need_peer().read_value(descriptor.handle)))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        await self._att(self._need_peer().write_value(characteristic.handle, bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        await self._att(self._need_peer().write_value(descriptor.handle, bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        proxy = self._chars.get(characteristic.handle)
        if proxy is None:
            raise BleakError(f"characteristic {characteristic.uuid} not found")

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscriptions[characteristic.handle] = deliver
        await self._att(proxy.subscribe(deliver, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        proxy = self._chars.get(characteristic.handle)
        deliver = self._subscriptions.pop(characteristic.handle, None)
        if proxy is not None and deliver is not None:
            await self._att(proxy.unsubscribe(deliver))
