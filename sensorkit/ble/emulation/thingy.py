"""Emulated Nordic Thingy:52 motion service (raw data notifications, one sample each)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from bumble import gatt
from bumble.device import Connection

from sensorkit.ble import uuids
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Notification, StreamPlan
from sensorkit.ble.profiles import thingy52 as th


class ThingyEmulator(EmulatedPeripheral):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = struct.pack(th.CONFIG_FORMAT, 1000, 500, 500, 60, 0)

    def services(self) -> list[gatt.Service]:
        props = gatt.Characteristic.Properties
        self.config_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.THINGY_MOTION_CONFIG,
            props.READ | props.WRITE,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(read=lambda _c: self.config, write=self._on_config),
        )
        self.raw_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.THINGY_RAW, props.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        self.device.on("characteristic_subscription", self._on_subscription)
        return [gatt.Service(uuids.THINGY_MOTION_SERVICE, [self.config_char, self.raw_char])]

    def _on_config(self, connection: Connection, value: bytes) -> None:
        if len(value) == struct.calcsize(th.CONFIG_FORMAT):
            self.config = bytes(value)

    def _on_subscription(self, connection: Connection, characteristic: Any, notify: bool, indicate: bool) -> None:
        if characteristic is not self.raw_char:
            return
        if not notify:
            self.stop_stream()
            return
        rate = struct.unpack(th.CONFIG_FORMAT, self.config)[3]

        def emit(k: int, dev_t0: float, acc: np.ndarray, gyr: np.ndarray) -> list[Notification]:
            mag = np.array([[20.0, -5.0, 40.0]])
            v = np.hstack([acc * th.ACC_LSB_PER_G, gyr * th.GYR_LSB_PER_DPS, mag * th.MAG_LSB_PER_UT])
            return [(self.raw_char, np.clip(np.round(v), -32768, 32767).astype("<i2").tobytes())]

        self.start_stream(StreamPlan(rate, 1, emit))
