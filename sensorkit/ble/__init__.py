"""Bluetooth LE pods: profiles, links, reconnecting sessions and the BLE source.

``build_ble_sources(runners, clock, backend=None, settings=None)`` is what ``sensorkit run``
calls; ``backend`` is the only thing that differs between real radios and the emulated ones
of :mod:`sensorkit.ble.emulation` (which, with :mod:`sensorkit.ble.bumble`, needs the dev
dependency bumble and is never imported from here).
"""

from sensorkit.ble.backend import PLATFORM, BleBackend
from sensorkit.ble.scan import ScanResult, scan
from sensorkit.ble.settings import BleSettings, PodSettings, RunnerPods
from sensorkit.ble.source import BlePodSource, build_ble_sources

__all__ = [
    "PLATFORM",
    "BleBackend",
    "BlePodSource",
    "BleSettings",
    "PodSettings",
    "RunnerPods",
    "ScanResult",
    "build_ble_sources",
    "scan",
]
