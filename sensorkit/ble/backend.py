"""Which bleak backend to use: the platform's (real radios) or one injected through ``backend=``.

sensorkit's BLE code is the same on real hardware and in tests; only this value differs.
``BleBackend()`` (both None) lets bleak pick the platform backend (BlueZ, CoreBluetooth,
WinRT); the bumble host in :mod:`sensorkit.ble.bumble` hands out one bound to an emulated
or HCI-attached controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner


@dataclass(frozen=True, slots=True)
class BleBackend:
    """A pair of bleak backend classes; None means the platform default."""

    client: type[BaseBleakClient] | None = None
    scanner: type[BaseBleakScanner] | None = None
    name: str = "platform"

    def make_client(self, device: Any, **kwargs: Any) -> BleakClient:
        return BleakClient(device, backend=self.client, **kwargs)

    def make_scanner(self, **kwargs: Any) -> BleakScanner:
        return BleakScanner(backend=self.scanner, **kwargs)


PLATFORM = BleBackend()
