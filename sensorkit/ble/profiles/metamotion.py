"""MbientLab MetaMotion / MetaWear (BMI160): accelerometer and gyroscope over the command service.

Command and data bytes are taken from MetaWear-SDK-Cpp (``accelerometer_bosch_register.h``,
``test/test_accelerometer_bmi160.py``, ``test/test_gyro_bmi160.py``): module 0x03 is the
accelerometer, 0x13 the gyroscope; register 1 powers the sensor, 2 enables the data
interrupt, 3 configures ``<odr|bw> <range>``; data arrives on ``…9006`` as
``03 04 x y z`` / ``13 05 x y z`` (int16 LE) or packed as three samples after ``03 1c`` /
``13 07``. Packets carry no timestamp: time comes from arrival and the nominal rate.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sensorkit.ble import uuids
from sensorkit.ble.profiles.base import (
    Decoded,
    GattPort,
    ImuPacket,
    PodDriver,
    ProfileInfo,
    StreamFormat,
    StreamRequest,
    StreamSpec,
    Timing,
    at_least,
    nearest,
    require_length,
)
from sensorkit.errors import DecodeError

ACC_MODULE, GYRO_MODULE = 0x03, 0x13
POWER, DATA_ENABLE, CONFIG = 0x01, 0x02, 0x03
ACC_DATA, ACC_PACKED = 0x04, 0x1C
GYRO_DATA, GYRO_PACKED = 0x05, 0x07
ODR_CODES = {12.5: 0x25, 25: 0x26, 50: 0x27, 100: 0x28, 200: 0x29, 400: 0x2A, 800: 0x2B}
ACC_RANGE_CODES = {2: 0x03, 4: 0x05, 8: 0x08, 16: 0x0C}
GYRO_RANGE_CODES = {2000: 0x00, 1000: 0x01, 500: 0x02, 250: 0x03, 125: 0x04}
GYRO_LSB_PER_DPS = {2000: 16.4, 1000: 32.8, 500: 65.6, 250: 131.2, 125: 262.4}


def acc_lsb_per_g(range_g: float) -> float:
    return 32768.0 / range_g


def decode_packet(data: bytes, acc_range_g: float, gyr_range_dps: float) -> ImuPacket | None:
    """One notification -> an ``"acc"`` or ``"gyr"`` packet; None for other modules' answers."""
    require_length(data, 2, "MetaWear notification")
    module, register = data[0], data[1]
    body = bytes(data[2:])
    if (module, register) in ((ACC_MODULE, ACC_DATA), (GYRO_MODULE, GYRO_DATA)):
        expected = 6
    elif (module, register) in ((ACC_MODULE, ACC_PACKED), (GYRO_MODULE, GYRO_PACKED)):
        expected = 18
    else:
        return None
    if len(body) != expected:
        raise DecodeError(f"MetaWear {module:02x} {register:02x}: {len(body)} bytes, expected {expected}")
    raw = np.frombuffer(body, "<i2").astype(np.float64).reshape(-1, 3)
    if module == ACC_MODULE:
        return ImuPacket("acc", acc_g=raw / acc_lsb_per_g(acc_range_g))
    lsb = GYRO_LSB_PER_DPS.get(int(gyr_range_dps))
    if lsb is None:
        raise ValueError(f"unsupported gyro range {gyr_range_dps}")
    return ImuPacket("gyr", gyr_dps=raw / lsb)


class MetaMotionDriver(PodDriver):
    """Configures, subscribes (packed) and powers accelerometer then gyroscope."""

    info: ClassVar[ProfileInfo] = ProfileInfo(
        "metamotion",
        "MbientLab MetaMotion",
        uuids.METAWEAR_SERVICE,
        ("MetaWear", "MetaMotion", "MMS", "MMR", "MMC"),
        service_advertised=True,
        has_gyro=True,
        default_rate_hz=100,
        rates_hz=(25, 50, 100, 200, 400, 800),
        acc_ranges_g=(2, 4, 8, 16),
        gyr_ranges_dps=(125, 250, 500, 1000, 2000),
        data_uuids=(uuids.METAWEAR_NOTIFY,),
    )

    def __init__(self, request: StreamRequest) -> None:
        super().__init__(request)
        self.acc_range_g = 16.0
        self.gyr_range_dps = 2000.0

    async def _send(self, port: GattPort, *commands: bytes) -> None:
        for c in commands:
            await port.write(uuids.METAWEAR_COMMAND, c, response=False)

    async def start(self, port: GattPort) -> StreamFormat:
        req = self.request
        rate = nearest(self.info.rates_hz, req.rate_hz, self.info.default_rate_hz)
        self.acc_range_g = at_least(self.info.acc_ranges_g, req.acc_range_g, 16)
        self.gyr_range_dps = at_least(self.info.gyr_ranges_dps, req.gyr_range_dps, 2000)
        odr = ODR_CODES[rate]
        await port.subscribe(uuids.METAWEAR_NOTIFY)
        await self._send(
            port,
            bytes([ACC_MODULE, CONFIG, odr, ACC_RANGE_CODES[int(self.acc_range_g)]]),
            bytes([GYRO_MODULE, CONFIG, odr, GYRO_RANGE_CODES[int(self.gyr_range_dps)]]),
            bytes([ACC_MODULE, ACC_PACKED, 1]),
            bytes([GYRO_MODULE, GYRO_PACKED, 1]),
            bytes([ACC_MODULE, DATA_ENABLE, 1, 0]),
            bytes([GYRO_MODULE, DATA_ENABLE, 1, 0]),
            bytes([ACC_MODULE, POWER, 1]),
            bytes([GYRO_MODULE, POWER, 1]),
        )
        spec = StreamSpec(float(rate), Timing.ARRIVAL)
        return StreamFormat(
            {"acc": spec, "gyr": spec},
            acc_range_g=self.acc_range_g,
            gyr_range_dps=self.gyr_range_dps,
            has_gyro=True,
            primary="acc",
        )

    async def stop(self, port: GattPort) -> None:
        await self._send(
            port,
            bytes([ACC_MODULE, POWER, 0]),
            bytes([GYRO_MODULE, POWER, 0]),
            bytes([ACC_MODULE, DATA_ENABLE, 0, 1]),
            bytes([GYRO_MODULE, DATA_ENABLE, 0, 1]),
            bytes([ACC_MODULE, ACC_PACKED, 0]),
            bytes([GYRO_MODULE, GYRO_PACKED, 0]),
        )

    def decode(self, uuid: str, data: bytes) -> list[Decoded]:
        packet = decode_packet(data, self.acc_range_g, self.gyr_range_dps)
        return [] if packet is None else [packet]
