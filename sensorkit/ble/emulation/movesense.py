"""Emulated Movesense running the gatt_sensordata_app sample firmware."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from bumble import gatt
from bumble.device import Connection

from sensorkit.ble import uuids
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Notification, StreamPlan
from sensorkit.ble.profiles import movesense as ms
from sensorkit.ble.profiles.base import STANDARD_GRAVITY


class MovesenseEmulator(EmulatedPeripheral):
    """``SUBSCRIBE /Meas/Acc|IMU6/<rate>``; forgets every subscription when the link drops."""

    def services(self) -> list[gatt.Service]:
        props = gatt.Characteristic.Properties
        self.command_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.MOVESENSE_COMMAND,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_command),
        )
        self.data_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.MOVESENSE_DATA, props.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        return [gatt.Service(uuids.MOVESENSE_SERVICE, [self.command_char, self.data_char])]

    def _result(self, ref: int, code: int) -> None:
        self.spawn(self.notify(self.data_char, bytes([ms.RESULT, ref]) + struct.pack("<H", code)))

    def _on_command(self, connection: Connection, value: bytes) -> None:
        if len(value) < 2 or value[1] == 0:
            return
        cmd, ref = value[0], value[1]
        if cmd == ms.HELLO:
            self.spawn(self.notify(self.data_char, bytes([ms.RESULT, ref]) + b"Hello"))
        elif cmd == ms.UNSUBSCRIBE:
            self.stop_stream()
        elif cmd == ms.SUBSCRIBE:
            parts = bytes(value[2:]).decode("ascii", "replace").strip("/").split("/")
            ok = (
                len(parts) == 3
                and parts[0] == "Meas"
                and parts[1] in ("Acc", "IMU6")
                and parts[2].isdigit()
                and int(parts[2]) in ms.MovesenseDriver.info.rates_hz
            )
            if not ok:
                self._result(ref, 404)
                return
            imu6, rate = parts[1] == "IMU6", int(parts[2])
            per_sample = 24 if imu6 else 12
            n = max(1, min(round(rate * 0.04), (connection.att_mtu - 3 - 6) // per_sample))

            def emit(k: int, dev_t0: float, acc: np.ndarray, gyr: np.ndarray) -> list[Notification]:
                body = acc * STANDARD_GRAVITY
                if imu6:
                    body = np.vstack([body, gyr])
                ts_ms = round(dev_t0 * 1000) & 0xFFFFFFFF
                payload = struct.pack("<I", ts_ms) + body.astype("<f4").tobytes()
                return [(self.data_char, bytes([ms.DATA, ref]) + payload)]

            self._result(ref, 200)
            self.start_stream(StreamPlan(rate, n, emit))
