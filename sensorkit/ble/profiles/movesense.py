"""Movesense with the ``gatt_sensordata_app`` sample firmware: Acc and IMU6 streams.

From the firmware (samples/gatt_sensordata_app/GATTSensorDataClient.cpp) and its clients:
commands ``[cmd, ref != 0, data]`` (HELLO 0, SUBSCRIBE 1 + ASCII resource path, UNSUBSCRIBE 2);
notifications ``01 ref <u16 LE HTTP-like result>`` or ``02 ref <payload>``. Payloads are the
firmware's binary form of the whiteboard data: ``u32 LE timestamp (ms, of the FIRST sample)``
then float32 vectors; IMU6 puts all accelerometer vectors before all gyroscope vectors
(``IMU6Data.ArrayAcc`` then ``ArrayGyro``). Movesense reports acceleration in m/s².
"""

from __future__ import annotations

import struct
from typing import ClassVar

import numpy as np

from sensorkit.ble import uuids
from sensorkit.ble.profiles.base import (
    STANDARD_GRAVITY,
    Decoded,
    GattPort,
    ImuPacket,
    PodDriver,
    ProfileInfo,
    StreamFormat,
    StreamSpec,
    Timing,
    nearest,
    require_length,
)
from sensorkit.errors import DecodeError, ProtocolError

HELLO, SUBSCRIBE, UNSUBSCRIBE = 0, 1, 2
RESULT, DATA = 1, 2
REFERENCE = 99
CLOCK_WRAP_S = 2**32 / 1000.0
RESPONSE_TIMEOUT_S = 5.0


def subscribe_command(reference: int, path: str) -> bytes:
    """``01 ref /Meas/IMU6/104``."""
    if not 0 < reference < 256:
        raise ValueError("reference must be 1..255")
    return bytes([SUBSCRIBE, reference]) + path.encode("ascii")


def parse_result(data: bytes) -> tuple[int, int]:
    """``01 ref <u16 result>`` -> (reference, result code)."""
    require_length(data, 4, "Movesense result")
    if data[0] != RESULT:
        raise DecodeError(f"Movesense result: type {data[0]}, expected {RESULT}")
    return data[1], struct.unpack_from("<H", data, 2)[0]


def _vectors(payload: bytes, groups: int, what: str) -> tuple[float, np.ndarray]:
    require_length(payload, 4, what)
    body = len(payload) - 4
    if body <= 0 or body % (12 * groups):
        raise DecodeError(f"{what}: {body} bytes after the timestamp is not whole samples")
    (ts_ms,) = struct.unpack_from("<I", payload, 0)
    values = np.frombuffer(payload, "<f4", body // 4, 4).astype(np.float64)
    if not np.isfinite(values).all():
        raise DecodeError(f"{what}: non-finite values")
    return ts_ms / 1000.0, values.reshape(groups, -1, 3)


def decode_acc(payload: bytes) -> ImuPacket:
    """``/Meas/Acc`` payload -> acceleration in g, stamped at its first sample."""
    t, v = _vectors(payload, 1, "Movesense Acc")
    return ImuPacket("imu", acc_g=v[0] / STANDARD_GRAVITY, device_time_s=t, ref_index=0)


def decode_imu6(payload: bytes) -> ImuPacket:
    """``/Meas/IMU6`` payload -> acceleration (g) and angular rate (deg/s)."""
    t, v = _vectors(payload, 2, "Movesense IMU6")
    return ImuPacket("imu", acc_g=v[0] / STANDARD_GRAVITY, gyr_dps=v[1].copy(), device_time_s=t, ref_index=0)


class MovesenseDriver(PodDriver):
    """Subscribes ``/Meas/IMU6/<rate>``, again on every connection.

    The firmware drops all subscriptions when the link drops, so nothing survives a reconnect.
    """

    info: ClassVar[ProfileInfo] = ProfileInfo(
        "movesense",
        "Movesense (gatt_sensordata_app)",
        uuids.MOVESENSE_SERVICE,
        ("Movesense",),
        service_advertised=False,
        has_gyro=True,
        default_rate_hz=104,
        rates_hz=(13, 26, 52, 104, 208, 416, 833, 1666),
        data_uuids=(uuids.MOVESENSE_DATA,),
    )
    with_gyro: ClassVar[bool] = True

    def path(self, rate_hz: int) -> str:
        return f"/Meas/{'IMU6' if self.with_gyro else 'Acc'}/{rate_hz}"

    async def start(self, port: GattPort) -> StreamFormat:
        per_sample = 24 if self.with_gyro else 12
        if port.mtu - 3 < 2 + 4 + per_sample:
            raise ProtocolError(
                f"Movesense {self.path(0).rsplit('/', 1)[0]} needs an ATT MTU of at least "
                f"{9 + per_sample} for one sample per notification; the link has {port.mtu}"
            )
        await port.subscribe(uuids.MOVESENSE_DATA)
        rate = int(nearest(self.info.rates_hz, self.request.rate_hz, self.info.default_rate_hz))
        command = subscribe_command(REFERENCE, self.path(rate))
        await port.write(uuids.MOVESENSE_COMMAND, command, response=True)
        raw = await port.expect(
            uuids.MOVESENSE_DATA,
            lambda b: len(b) >= 4 and b[0] == RESULT and b[1] == REFERENCE,
            RESPONSE_TIMEOUT_S,
        )
        _, code = parse_result(raw)
        if code >= 400:
            raise ProtocolError(f"Movesense refused {self.path(rate)}: result {code}")
        spec = StreamSpec(float(rate), Timing.DEVICE_CLOCK, clock_wrap_s=CLOCK_WRAP_S)
        # Range is the firmware default (not settable through this sample app).
        return StreamFormat({"imu": spec}, acc_range_g=8.0, has_gyro=self.with_gyro)

    async def stop(self, port: GattPort) -> None:
        await port.write(uuids.MOVESENSE_COMMAND, bytes([UNSUBSCRIBE, REFERENCE]), response=True)

    def decode(self, uuid: str, data: bytes) -> list[Decoded]:
        require_length(data, 2, "Movesense notification")
        if data[0] == RESULT:
            return []
        if data[0] != DATA:
            raise DecodeError(f"Movesense notification: unknown type {data[0]}")
        if data[1] != REFERENCE:
            return []  # someone else's subscription
        payload = bytes(data[2:])
        return [decode_imu6(payload) if self.with_gyro else decode_acc(payload)]


class MovesenseAccDriver(MovesenseDriver):
    """Accelerometer only (``/Meas/Acc``): half the bytes on the air."""

    info: ClassVar[ProfileInfo] = ProfileInfo(
        "movesense_acc",
        "Movesense accelerometer",
        uuids.MOVESENSE_SERVICE,
        (),
        service_advertised=False,
        has_gyro=False,
        default_rate_hz=104,
        rates_hz=(13, 26, 52, 104, 208, 416, 833, 1666),
        data_uuids=(uuids.MOVESENSE_DATA,),
    )
    with_gyro: ClassVar[bool] = False
