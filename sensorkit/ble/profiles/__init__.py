"""Device profiles: one small module per device, each with a pure decoder and a driver.

``PROFILES`` maps a profile name (as written in the config) to its driver class; the two
``detect_*`` functions recognise a device from its advertisement (for ``sensorkit scan``)
and, authoritatively, from its GATT services once connected.
"""

from __future__ import annotations

from collections.abc import Iterable

from sensorkit.ble import uuids
from sensorkit.ble.profiles.base import PodDriver, ProfileInfo
from sensorkit.ble.profiles.diy_pod import DiyPodDriver
from sensorkit.ble.profiles.metamotion import MetaMotionDriver
from sensorkit.ble.profiles.movesense import MovesenseAccDriver, MovesenseDriver
from sensorkit.ble.profiles.polar_pmd import PolarPmdDriver, PolarVerityDriver
from sensorkit.ble.profiles.rsc import RscDriver
from sensorkit.ble.profiles.thingy52 import Thingy52Driver

_DRIVERS: tuple[type[PodDriver], ...] = (
    PolarPmdDriver,
    PolarVerityDriver,
    MovesenseDriver,
    MovesenseAccDriver,
    MetaMotionDriver,
    Thingy52Driver,
    RscDriver,
    DiyPodDriver,
)
PROFILES: dict[str, type[PodDriver]] = {d.info.name: d for d in _DRIVERS}
"""Profile name -> driver class."""

# Order matters: name prefixes are more specific than shared services (H10 vs Verity).
_BY_NAME = [d for d in PROFILES.values() if d.info.name_prefixes]
_BY_SERVICE: list[type[PodDriver]] = [
    PolarPmdDriver,
    MovesenseDriver,
    MetaMotionDriver,
    Thingy52Driver,
    DiyPodDriver,
    RscDriver,
]


def profile_info(name: str) -> ProfileInfo:
    return PROFILES[name].info


def detect_from_advertisement(local_name: str | None, service_uuids: Iterable[str]) -> str | None:
    """Best guess from an advertisement: the name first (PMD is not advertised), then services."""
    if local_name:
        for d in _BY_NAME:
            if any(local_name.startswith(p) for p in d.info.name_prefixes):
                return d.info.name
    advertised = {u.lower() for u in service_uuids}
    for d in _BY_SERVICE:
        if d.info.service_uuid in advertised:
            return d.info.name
    return None


def detect_from_services(local_name: str | None, service_uuids: Iterable[str]) -> str | None:
    """Profile of a connected device from its GATT services; the name splits H10 from Verity."""
    present = {u.lower() for u in service_uuids}
    if uuids.PMD_SERVICE in present:
        if local_name and local_name.startswith("Polar Sense"):
            return PolarVerityDriver.info.name
        return PolarPmdDriver.info.name
    for d in _BY_SERVICE:
        if d.info.service_uuid in present:
            return d.info.name
    return None


__all__ = [
    "PROFILES",
    "PodDriver",
    "ProfileInfo",
    "detect_from_advertisement",
    "detect_from_services",
    "profile_info",
]
