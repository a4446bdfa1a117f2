"""A bumble BLE host acting as central, and the bleak backend classes bound to it.

The controller is either emulated in this process on a :class:`bumble.link.LocalLink`
(peripherals on the same link are reachable) or reached over an HCI transport such as
``tcp-client:127.0.0.1:9001`` (another process runs the controllers: bumble's
``apps.controllers`` or :mod:`sensorkit.ble.emulation.radio`).

    async with BumbleCentral(link=link) as central:
        source = BlePodSource(..., backend=central.backend)
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from types import TracebackType
from typing import Any, Self

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import Transport, open_transport
from bumble.transport.common import AsyncPipeSink

from sensorkit.ble.backend import BleBackend
from sensorkit.ble.bumble.client import BumbleBleakClient
from sensorkit.ble.bumble.scanner import BumbleBleakScanner
from sensorkit.errors import AdapterError

log = logging.getLogger(__name__)
_ids = itertools.count(1)


class BumbleCentral:
    """Owns one bumble Device (the host side) for the lifetime of the context."""

    def __init__(
        self,
        *,
        link: LocalLink | None = None,
        transport: str | None = None,
        address: str = "F0:F0:F0:F0:F0:01",
        preferred_mtu: int = 247,
        name: str = "sensorkit",
    ) -> None:
        if (link is None) == (transport is None):
            raise ValueError("give exactly one of link= (in-process) or transport= (HCI spec)")
        self._link = link
        self._transport_spec = transport
        self._transport: Transport | None = None
        self.address = address
        self.preferred_mtu = preferred_mtu
        self.open_timeout_s = 10.0
        self.name = name
        self._scanners = 0
        self._device: Device | None = None
        self.connect_lock = asyncio.Lock()
        """A controller has one LE connection attempt in flight at a time; OS stacks queue the
        rest, so this host does too."""
        n = next(_ids)
        attrs: dict[str, Any] = {"central": self}
        self.backend = BleBackend(
            client=type(f"BumbleBleakClient{n}", (BumbleBleakClient,), attrs),
            scanner=type(f"BumbleBleakScanner{n}", (BumbleBleakScanner,), attrs),
            name=f"bumble:{transport or 'local-link'}",
        )

    @property
    def device(self) -> Device:
        if self._device is None:
            raise RuntimeError("BumbleCentral used outside its context")
        return self._device

    async def __aenter__(self) -> Self:
        if self._device is not None:
            raise RuntimeError("BumbleCentral is not reentrant")
        if self._link is not None:
            controller = Controller("sensorkit-central", link=self._link, public_address=self.address)
            device = Device(
                name=self.name,
                address=Address(self.address),
                host=Host(controller, AsyncPipeSink(controller)),
            )
        else:
            assert self._transport_spec is not None
            self._transport = await self._open(self._transport_spec)
            device = Device.with_hci(self.name, Address(self.address), self._transport.source, self._transport.sink)
        try:
            async with asyncio.timeout(self.open_timeout_s):
                await device.power_on()
        except TimeoutError as exc:
            if self._transport is not None:
                await self._transport.close()
            raise AdapterError(f"the controller ({self._transport_spec or 'local link'}) does not answer") from exc
        self._device = device
        return self

    async def _open(self, spec: str) -> Transport:
        """Open the HCI transport, waiting a little for a controller process that is starting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.open_timeout_s
        while True:
            try:
                return await open_transport(spec)
            except ConnectionRefusedError as exc:
                if loop.time() > deadline:
                    raise AdapterError(f"cannot open HCI transport {spec!r}: {exc}") from exc
                await asyncio.sleep(0.05)
            except (OSError, ValueError) as exc:
                raise AdapterError(f"cannot open HCI transport {spec!r}: {exc}") from exc

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        device, self._device = self._device, None
        try:
            if device is not None:
                await self._shutdown(device)
        finally:
            if self._transport is not None:
                await self._transport.close()
                self._transport = None

    async def _shutdown(self, device: Device) -> None:
        try:
            async with asyncio.timeout(2.0):  # a controller that died must not hang the exit
                for conn in list(device.connections.values()):
                    try:
                        await conn.disconnect()
                    except Exception as e:  # a dead link must not hide the real exit reason
                        log.debug("disconnect on close: %s", e)
                if self._scanners:
                    await device.stop_scanning()
                await device.power_off()
        except TimeoutError:
            log.debug("controller did not answer during shutdown")

    async def acquire_scanning(self) -> None:
        """Scanning is shared: the first scanner starts it, the last one stops it."""
        self._scanners += 1
        if self._scanners == 1:
            await self.device.start_scanning(active=True, filter_duplicates=False)

    async def release_scanning(self) -> None:
        self._scanners = max(0, self._scanners - 1)
        if self._scanners == 0 and self._device is not None:
            await self._device.stop_scanning()
