"""Emulated sensorkit DIY pod, per firmware_notes/diy_pod.md (the reference for real firmware)."""

from __future__ import annotations

from typing import Any

import numpy as np
from bumble import gatt
from bumble.device import Connection

from sensorkit.ble import uuids
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Notification, StreamPlan
from sensorkit.ble.profiles import diy_pod


def counts(values: np.ndarray, full_scale: float) -> np.ndarray:
    return np.clip(np.round(values * (32768.0 / full_scale)), -32768, 32767).astype(np.int16)


class DiyPodEmulator(EmulatedPeripheral):
    """Start/stop on an indicated control point; packed int16 blocks with sequence and µs time."""

    def services(self) -> list[gatt.Service]:
        self.data_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.DIY_DATA, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        self.control_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.DIY_CONTROL,
            gatt.Characteristic.Properties.WRITE | gatt.Characteristic.Properties.INDICATE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_control),
        )
        return [gatt.Service(uuids.DIY_SERVICE, [self.data_char, self.control_char])]

    def advertised_uuids(self) -> list[str]:
        return [uuids.DIY_SERVICE]

    def _on_control(self, connection: Connection, value: bytes) -> None:
        if value[:1] == bytes([diy_pod.OP_STOP]):
            self.stop_stream()
            self.spawn(self.notify(self.control_char, bytes([diy_pod.RESPONSE, diy_pod.OP_STOP, 0]), indicate=True))
            return
        try:
            cfg = diy_pod.parse_start_command(bytes(value))
        except Exception:
            self.spawn(self.notify(self.control_char, diy_pod.start_response(diy_pod.STATUS_BAD_OP), indicate=True))
            return
        if (
            cfg.rate_hz not in diy_pod.RATES_HZ
            or cfg.acc_range_g not in diy_pod.ACC_RANGES_G
            or cfg.gyr_range_dps not in diy_pod.GYR_RANGES_DPS
        ):
            self.spawn(self.notify(self.control_char, diy_pod.start_response(diy_pod.STATUS_BAD_PARAM), indicate=True))
            return
        n = diy_pod.samples_per_packet(connection.att_mtu, cfg.rate_hz)
        if n == 0:
            self.spawn(
                self.notify(self.control_char, diy_pod.start_response(diy_pod.STATUS_MTU_TOO_SMALL), indicate=True)
            )
            return
        agreed = diy_pod.DiyConfig(cfg.rate_hz, cfg.acc_range_g, cfg.gyr_range_dps, n)
        sequence = 0

        def emit(k: int, dev_t0: float, acc: np.ndarray, gyr: np.ndarray) -> list[Notification]:
            nonlocal sequence
            raw = np.hstack([counts(acc, agreed.acc_range_g), counts(gyr, agreed.gyr_range_dps)])
            packet = diy_pod.encode_packet(sequence, round(dev_t0 * 1e6), raw)
            sequence += 1
            return [(self.data_char, packet)]

        self.spawn(self._started(agreed, StreamPlan(cfg.rate_hz, n, emit)))

    async def _started(self, agreed: diy_pod.DiyConfig, plan: StreamPlan) -> None:
        await self.notify(self.control_char, diy_pod.start_response(diy_pod.STATUS_OK, agreed), indicate=True)
        self.start_stream(plan)
