"""A room full of emulated sensors on one in-process radio, for demos, benches and ``scan --emulated``."""

from __future__ import annotations

from contextlib import AsyncExitStack

from sensorkit.ble.backend import BleBackend
from sensorkit.ble.emulation.diy import DiyPodEmulator
from sensorkit.ble.emulation.metamotion import MetaMotionEmulator
from sensorkit.ble.emulation.movesense import MovesenseEmulator
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Faults
from sensorkit.ble.emulation.polar import PolarH10Emulator, PolarVerityEmulator
from sensorkit.ble.emulation.radio import LocalRadio
from sensorkit.ble.emulation.rsc import RscEmulator
from sensorkit.ble.emulation.thingy import ThingyEmulator
from sensorkit.ble.settings import PodSettings
from sensorkit.model import Placement

DEMO_DEVICES: tuple[tuple[type[EmulatedPeripheral], str], ...] = (
    (PolarH10Emulator, "Polar H10 5E450001"),
    (PolarVerityEmulator, "Polar Sense 5E45"),
    (MovesenseEmulator, "Movesense 2241"),
    (MetaMotionEmulator, "MetaWear"),
    (ThingyEmulator, "Thingy"),
    (RscEmulator, "Stryd 5E45"),
    (DiyPodEmulator, "SK Pod back"),
    (DiyPodEmulator, "SK Pod left"),
    (DiyPodEmulator, "SK Pod right"),
)


def demo_runner_pods() -> list[PodSettings]:
    """A runner wearing the three emulated DIY pods (lower back, both shoes)."""
    return [
        PodSettings(name="SK Pod back", placement=Placement.LOWER_BACK, profile="diy"),
        PodSettings(name="SK Pod left", placement=Placement.LEFT_FOOT, profile="diy"),
        PodSettings(name="SK Pod right", placement=Placement.RIGHT_FOOT, profile="diy"),
    ]


async def demo_pods(stack: AsyncExitStack, *, faults: Faults | None = None, max_mtu: int = 247) -> BleBackend:
    """Start every demo device and a central in ``stack``; return the backend that reaches them."""
    radio = LocalRadio()
    central = await stack.enter_async_context(radio.central())
    for cls, name in DEMO_DEVICES:
        await stack.enter_async_context(cls(radio.device(name), name=name, faults=faults, max_mtu=max_mtu))
    return central.backend
