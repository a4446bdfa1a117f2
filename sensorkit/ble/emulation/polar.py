"""Emulated Polar H10 and Verity Sense speaking PMD as polar-ble-sdk expects it.

Modelled traps: the PMD service is not advertised (only the name and heart rate service);
answers go out as indications on the control point, so a client that writes before
enabling them never hears back; a settings answer that does not fit the link MTU is
refused with ``ERROR_INVALID_MTU``; frames are sized to the MTU; Verity Sense sends
delta-compressed accelerometer (type 1, milli-g * factor) and gyroscope (type 0) frames.
"""

from __future__ import annotations

import math
import struct
from typing import Any, ClassVar

import numpy as np
from bumble import gatt
from bumble.device import Connection

from sensorkit.ble import uuids
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Notification, StreamPlan
from sensorkit.ble.profiles import polar_pmd as pmd

Settings = dict[int, list[int]]


def encode_settings(settings: Settings) -> bytes:
    out = bytearray()
    for sid, values in settings.items():
        out += bytes([sid, len(values)])
        for v in values:
            out += int(v).to_bytes(pmd.SETTING_SIZES[sid], "little", signed=v < 0)
    return bytes(out)


def encode_delta_frame(samples: np.ndarray, resolution_bits: int = 16) -> bytes:
    """Reference sample + one delta block (the inverse of ``decode_delta_frames``)."""
    s = np.asarray(samples, dtype=np.int64)
    n, channels = s.shape
    size = math.ceil(resolution_bits / 8)
    out = bytearray()
    for c in range(channels):
        out += int(s[0, c]).to_bytes(size, "little", signed=True)
    if n > 1:
        deltas = np.diff(s, axis=0)
        peak = int(np.max(np.abs(deltas)))
        width = max(1, (peak.bit_length() + 1) if peak else 1)
        out += bytes([width, n - 1])
        values = deltas.reshape(-1) & ((1 << width) - 1)
        bits = ((values[:, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(-1)
        out += np.packbits(bits, bitorder="little").tobytes()
    return bytes(out)


class PolarH10Emulator(EmulatedPeripheral):
    """Raw type-1 (int16 milli-g) accelerometer frames; ECG is advertised but not streamed."""

    features: ClassVar[bytes] = bytes([0x0F, 0x05, 0x00])
    available: ClassVar[dict[int, Settings]] = {
        pmd.ACC: {pmd.RATE: [25, 50, 100, 200], pmd.RESOLUTION: [16], pmd.RANGE: [2, 4, 8]},
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.active: dict[int, dict[int, int]] = {}
        self.control_writes_unheard = 0

    def services(self) -> list[gatt.Service]:
        props = gatt.Characteristic.Properties
        self.control_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.PMD_CONTROL,
            props.READ | props.WRITE | props.INDICATE,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(read=lambda _c: self.features, write=self._on_control),
        )
        self.data_char: gatt.Characteristic[Any] = gatt.Characteristic(
            uuids.PMD_DATA, props.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        return [gatt.Service(uuids.PMD_SERVICE, [self.control_char, self.data_char])]

    def advertised_uuids(self) -> list[str]:
        return [uuids.sig16(0x180D)]  # heart rate: the PMD service is NOT advertised

    def on_disconnected(self) -> None:
        self.active.clear()  # a dropped link stops every measurement

    def _subscribed_to_control(self, connection: Connection) -> bool:
        subs = self.device.gatt_server.subscribers.get(connection) or {}
        cccd = subs.get(self.control_char.handle)
        return bool(cccd and cccd[0] & 0x02)

    def _answer(self, connection: Connection, response: bytes) -> None:
        if not self._subscribed_to_control(connection):
            self.control_writes_unheard += 1  # the real device's answer is lost the same way
            return
        self.spawn(self.notify(self.control_char, response, indicate=True))

    def _on_control(self, connection: Connection, value: bytes) -> None:
        if len(value) < 2:
            self._answer(connection, bytes([0xF0, value[0] if value else 0, 0, 4, 0]))
            return
        op, mtype = value[0], value[1]
        head = bytes([0xF0, op, mtype])
        if mtype not in self.available:
            self._answer(connection, head + bytes([2, 0]))
            return
        if op == pmd.OP_GET_SETTINGS:
            body = encode_settings(self.available[mtype])
            if len(head) + 2 + len(body) > connection.att_mtu - 3:
                self._answer(connection, head + bytes([pmd.STATUS_INVALID_MTU, 0]))
            else:
                self._answer(connection, head + bytes([0, 0]) + body)
        elif op == pmd.OP_START:
            self._start(connection, mtype, bytes(value[2:]), head)
        elif op == pmd.OP_STOP:
            self.active.pop(mtype, None)
            self._answer(connection, head + bytes([0, 0]))
            self._restream()
        else:
            self._answer(connection, head + bytes([1, 0]))

    def _start(self, connection: Connection, mtype: int, params: bytes, head: bytes) -> None:
        if mtype in self.active:
            self._answer(connection, head + bytes([pmd.STATUS_ALREADY_IN_STATE, 0]))
            return
        try:
            asked = {k: v[0] for k, v in pmd.parse_settings(params).items()}
        except Exception:
            self._answer(connection, head + bytes([5, 0]))
            return
        for sid, value in asked.items():
            if value not in self.available[mtype].get(sid, [value]):
                code = {pmd.RATE: 8, pmd.RESOLUTION: 7, pmd.RANGE: 9}.get(sid, 5)
                self._answer(connection, head + bytes([code, 0]))
                return
        self.active[mtype] = asked
        self._answer(connection, head + bytes([0, 0]) + self.start_params(mtype, asked))
        self._restream()

    def start_params(self, mtype: int, asked: dict[int, int]) -> bytes:
        return b""

    def _restream(self) -> None:
        acc = self.active.get(pmd.ACC)
        if acc is None or self.connection is None:
            self.stop_stream()
            return
        rate = acc[pmd.RATE]
        n = self.samples_per_frame(self.connection.att_mtu, rate)
        self.start_stream(StreamPlan(rate, n, self.emit))

    def samples_per_frame(self, mtu: int, rate: int) -> int:
        return max(1, min((mtu - 3 - 10) // 6, round(rate * 0.1)))

    def frame_header(self, mtype: int, frame_type: int, last_sample_device_s: float) -> bytes:
        return bytes([mtype]) + struct.pack("<Q", round(last_sample_device_s * 1e9)) + bytes([frame_type])

    def emit(self, k: int, dev_t0: float, acc: np.ndarray, gyr: np.ndarray) -> list[Notification]:
        cfg = self.active.get(pmd.ACC)
        if cfg is None:
            return []
        rate = cfg[pmd.RATE]
        last = dev_t0 + (acc.shape[0] - 1) / rate
        mg = np.clip(np.round(acc * 1000), -32768, 32767).astype("<i2")
        return [(self.data_char, self.frame_header(pmd.ACC, 0x01, last) + mg.tobytes())]


class PolarVerityEmulator(PolarH10Emulator):
    """Compressed accelerometer and gyroscope frames with scale factors in the start answer."""

    features: ClassVar[bytes] = bytes([0x0F, 0x6E, 0x02])
    available: ClassVar[dict[int, Settings]] = {
        pmd.ACC: {
            pmd.RATE: [26, 52, 104, 208, 416],
            pmd.RESOLUTION: [16],
            pmd.RANGE: [2, 4, 8, 16],
            pmd.CHANNELS: [3],
        },
        pmd.GYRO: {
            pmd.RATE: [26, 52, 104, 208, 416],
            pmd.RESOLUTION: [16],
            pmd.RANGE: [250, 500, 1000, 2000],
            pmd.CHANNELS: [3],
        },
    }

    def factor(self, mtype: int) -> float:
        rng = self.active[mtype][pmd.RANGE]
        # ACC: milli-g per count; GYRO: deg/s per count (as float32 on the wire)
        value = rng * 1000 / 32768 if mtype == pmd.ACC else rng / 32768
        return float(np.float32(value))

    def start_params(self, mtype: int, asked: dict[int, int]) -> bytes:
        return bytes([pmd.FACTOR, 1]) + struct.pack("<f", self.factor(mtype))

    def samples_per_frame(self, mtu: int, rate: int) -> int:
        # worst case 16-bit deltas: 10 header + 6 reference + 2 block header + 6 per delta
        return max(1, min((mtu - 3 - 18) // 6 + 1, round(rate * 0.1)))

    def emit(self, k: int, dev_t0: float, acc: np.ndarray, gyr: np.ndarray) -> list[Notification]:
        out: list[Notification] = []
        for mtype, values, ftype in ((pmd.ACC, acc * 1000, 0x81), (pmd.GYRO, gyr, 0x80)):
            cfg = self.active.get(mtype)
            if cfg is None:
                continue
            last = dev_t0 + (values.shape[0] - 1) / cfg[pmd.RATE]
            counts = np.clip(np.round(values / self.factor(mtype)), -32768, 32767)
            out.append((self.data_char, self.frame_header(mtype, ftype, last) + encode_delta_frame(counts)))
        return out
