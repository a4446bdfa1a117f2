"""Find nearby devices sensorkit can use (``sensorkit scan``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bleak import BleakScanner

from sensorkit.ble.backend import PLATFORM, BleBackend
from sensorkit.ble.errors import wrap_ble_error
from sensorkit.ble.profiles import PROFILES, detect_from_advertisement


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One advertiser: where, what it calls itself, how loud, and which profile it looks like."""

    address: str
    name: str | None
    rssi: int
    profile: str | None
    service_uuids: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return PROFILES[self.profile].info.title if self.profile else ""


async def scan(timeout_s: float = 5.0, backend: BleBackend = PLATFORM) -> list[ScanResult]:
    """Scan for ``timeout_s``; strongest first. Raises AdapterError when there is no Bluetooth."""
    try:
        if backend.scanner is None:
            found = await BleakScanner.discover(timeout_s, return_adv=True)
        else:
            found = await BleakScanner.discover(timeout_s, return_adv=True, backend=backend.scanner)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise wrap_ble_error(exc, "scan") from exc
    out = []
    for device, adv in found.values():
        name = adv.local_name or device.name
        profile = detect_from_advertisement(name, adv.service_uuids)
        out.append(ScanResult(device.address, name, adv.rssi, profile, tuple(adv.service_uuids)))
    return sorted(out, key=lambda r: (r.profile is None, -r.rssi, r.address))
