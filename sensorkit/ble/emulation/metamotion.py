"""Emulated MbientLab MetaMotion (BMI160): module/register commands, packed data, no timestamps."""

from __future__ import annotations

from typing import Any

import numpy as np
from bumble import gatt
from bumble.device import Connection

from sensorkit.ble import uuids
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Notification, StreamPlan
from sensorkit.ble.profiles import metamotion as mm

RATE_OF_CODE = {code: rate for rate, code in mm.ODR_CODES.items()}
ACC_RANGE_OF_CODE = {code: rng for rng, code in mm.ACC_RANGE_CODES.items()}
GYRO_RANGE_OF_CODE = {code: rng for rng, code in mm.GYRO_RANGE_CODES.items()}


class MetaMotionEmulator(EmulatedPeripheral):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: dict[tuple[int, int], bytes] = {}

    def services(self) -> list[gatt.Service]:
        props = gatt.Characteristic.Properties
        self.command_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.METAWEAR_COMMAND,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_command),
        )
        self.notify_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.METAWEAR_NOTIFY, props.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        return [gatt.Service(uuids.METAWEAR_SERVICE, [self.command_char, self.notify_char])]

    def advertised_uuids(self) -> list[str]:
        return [uuids.METAWEAR_SERVICE]

    def on_disconnected(self) -> None:
        self.state.clear()

    def _on(self, module: int, register: int) -> bool:
        return self.state.get((module, register), b"\x00")[:1] == b"\x01"

    def _on_command(self, connection: Connection, value: bytes) -> None:
        if len(value) < 3:
            return
        self.state[(value[0], value[1])] = bytes(value[2:])
        acc_running = (
            self._on(mm.ACC_MODULE, mm.POWER)
            and self._on(mm.ACC_MODULE, mm.DATA_ENABLE)
            and self._on(mm.ACC_MODULE, mm.ACC_PACKED)
        )
        if not acc_running:
            self.stop_stream()
            return
        if self.plan is not None:
            return
        acc_cfg = self.state.get((mm.ACC_MODULE, mm.CONFIG), bytes([0x28, 0x03]))
        rate = RATE_OF_CODE.get(acc_cfg[0], 100)
        acc_range = ACC_RANGE_OF_CODE.get(acc_cfg[1], 2)
        self.start_stream(StreamPlan(rate, 3, self._emitter(acc_range)))

    def _emitter(self, acc_range: float) -> Any:
        def emit(k: int, dev_t0: float, acc: np.ndarray, gyr: np.ndarray) -> list[Notification]:
            out: list[Notification] = []
            a = np.clip(np.round(acc * mm.acc_lsb_per_g(acc_range)), -32768, 32767).astype("<i2")
            out.append((self.notify_char, bytes([mm.ACC_MODULE, mm.ACC_PACKED]) + a.tobytes()))
            gyro_running = (
                self._on(mm.GYRO_MODULE, mm.POWER)
                and self._on(mm.GYRO_MODULE, mm.DATA_ENABLE)
                and self._on(mm.GYRO_MODULE, mm.GYRO_PACKED)
            )
            if gyro_running:
                cfg = self.state.get((mm.GYRO_MODULE, mm.CONFIG), bytes([0x28, 0x00]))
                lsb = mm.GYRO_LSB_PER_DPS[GYRO_RANGE_OF_CODE.get(cfg[1], 2000)]
                g = np.clip(np.round(gyr * lsb), -32768, 32767).astype("<i2")
                out.append((self.notify_char, bytes([mm.GYRO_MODULE, mm.GYRO_PACKED]) + g.tobytes()))
            return out

        return emit
