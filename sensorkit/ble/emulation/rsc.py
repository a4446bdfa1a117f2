"""Emulated Running Speed and Cadence footpod (advertises 0x1814, 1 Hz measurements)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from bumble import gatt
from bumble.device import Connection

from sensorkit.ble import uuids
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Notification, StreamPlan
from sensorkit.ble.profiles import rsc


class RscEmulator(EmulatedPeripheral):
    """Speed 3.5 m/s, 86 strides/min, 1.22 m strides; distance accumulates."""

    speed_mps = 3.5
    cadence = 86
    stride_m = 1.22

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.distance_m = 0.0

    def services(self) -> list[gatt.Service]:
        props = gatt.Characteristic.Properties
        self.measurement: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.RSC_MEASUREMENT, props.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        feature = gatt.Characteristic(
            uuids.RSC_FEATURE, props.READ, gatt.Characteristic.READABLE, struct.pack("<H", 0x0003)
        )
        self.device.on("characteristic_subscription", self._on_subscription)
        return [gatt.Service(uuids.RSC_SERVICE, [self.measurement, feature])]

    def advertised_uuids(self) -> list[str]:
        return [uuids.RSC_SERVICE]

    def _on_subscription(self, connection: Connection, characteristic: Any, notify: bool, indicate: bool) -> None:
        if characteristic is not self.measurement:
            return
        if not notify:
            self.stop_stream()
            return

        def emit(k: int, dev_t0: float, acc: np.ndarray, gyr: np.ndarray) -> list[Notification]:
            self.distance_m += self.speed_mps
            flags = rsc.STRIDE_PRESENT | rsc.DISTANCE_PRESENT | rsc.RUNNING
            data = struct.pack(
                "<BHBHI",
                flags,
                round(self.speed_mps * 256),
                self.cadence,
                round(self.stride_m * 100),
                round(self.distance_m * 10),
            )
            return [(self.measurement, data)]

        self.start_stream(StreamPlan(1.0, 1, emit))
