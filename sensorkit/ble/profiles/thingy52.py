"""Nordic Thingy:52 raw motion: accelerometer, gyroscope and compass in fixed point.

From the firmware (Nordic-Thingy52-FW ``source/modules/m_motion.c``): the driver gets
16Q16 values and shifts them right by the integer bits of each quantity before sending,
so acceleration is Q6.10 (g * 1024), angular rate Q11.5 (deg/s * 32) and the compass Q12.4
(uT * 16); ``raw`` (…0406) is 9 int16 LE, one sample per notification, no timestamp. The
motion processing rate is the 4th field of the 9-byte config (…0401): pedometer, temperature
and compass intervals (u16 ms), MPU frequency (u16 Hz, 5..200), wake-on-motion (u8).
"""

from __future__ import annotations

import struct
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
    StreamSpec,
    Timing,
)
from sensorkit.errors import DecodeError

ACC_LSB_PER_G = 1024.0
GYR_LSB_PER_DPS = 32.0
MAG_LSB_PER_UT = 16.0
CONFIG_FORMAT = "<HHHHB"
MIN_RATE_HZ, MAX_RATE_HZ = 5, 200


def decode_raw(data: bytes) -> ImuPacket:
    """18-byte raw motion notification -> one sample of acc (g), gyro (deg/s), compass (uT)."""
    if len(data) != 18:
        raise DecodeError(f"Thingy raw motion: {len(data)} bytes, expected 18")
    v = np.frombuffer(data, "<i2").astype(np.float64)
    return ImuPacket(
        "imu",
        acc_g=v[None, 0:3] / ACC_LSB_PER_G,
        gyr_dps=v[None, 3:6] / GYR_LSB_PER_DPS,
        mag_ut=v[None, 6:9] / MAG_LSB_PER_UT,
    )


def config_with_rate(current: bytes, rate_hz: int) -> bytes:
    """The device's config with only the motion processing frequency replaced."""
    if len(current) != struct.calcsize(CONFIG_FORMAT):
        raise DecodeError(f"Thingy motion config: {len(current)} bytes, expected 9")
    pedo, temp, compass, _, wom = struct.unpack(CONFIG_FORMAT, current)
    return struct.pack(CONFIG_FORMAT, pedo, temp, compass, rate_hz, wom)


class Thingy52Driver(PodDriver):
    info: ClassVar[ProfileInfo] = ProfileInfo(
        "thingy52",
        "Nordic Thingy:52",
        uuids.THINGY_MOTION_SERVICE,
        ("Thingy",),
        service_advertised=False,
        has_gyro=True,
        default_rate_hz=100,
        rates_hz=(),
        data_uuids=(uuids.THINGY_RAW,),
    )

    async def start(self, port: GattPort) -> StreamFormat:
        wanted = self.request.rate_hz or self.info.default_rate_hz
        rate = int(min(max(round(wanted), MIN_RATE_HZ), MAX_RATE_HZ))
        config = await port.read(uuids.THINGY_MOTION_CONFIG)
        await port.write(uuids.THINGY_MOTION_CONFIG, config_with_rate(config, rate), response=True)
        await port.subscribe(uuids.THINGY_RAW)
        # Full scales are not exposed over BLE; the Q-format limits are ±32 g, ±1024 deg/s.
        return StreamFormat({"imu": StreamSpec(float(rate), Timing.ARRIVAL)}, has_gyro=True)

    async def stop(self, port: GattPort) -> None:
        """Raw notifications stop when unsubscribed; nothing to write."""

    def decode(self, uuid: str, data: bytes) -> list[Decoded]:
        return [decode_raw(data)]
