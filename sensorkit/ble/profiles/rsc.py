"""Running Speed and Cadence (Bluetooth SIG service 0x1814): footpods such as Stryd.

RSC Measurement (0x2A53): ``flags u8`` (bit0 stride length present, bit1 total distance
present, bit2 running), ``speed u16`` (1/256 m/s), ``cadence u8`` (1/min), then the optional
``stride length u16`` (1/100 m) and ``total distance u32`` (1/10 m).
"""

from __future__ import annotations

import struct
from typing import ClassVar

from sensorkit.ble import uuids
from sensorkit.ble.profiles.base import (
    Decoded,
    GattPort,
    PodDriver,
    ProfileInfo,
    SpeedReading,
    StreamFormat,
    StreamSpec,
    Timing,
    require_length,
)
from sensorkit.errors import DecodeError

STRIDE_PRESENT, DISTANCE_PRESENT, RUNNING = 0x01, 0x02, 0x04


def decode_measurement(data: bytes) -> SpeedReading:
    """One RSC Measurement notification."""
    require_length(data, 4, "RSC measurement")
    flags = data[0]
    speed_raw, cadence = struct.unpack_from("<HB", data, 1)
    need = 4 + (2 if flags & STRIDE_PRESENT else 0) + (4 if flags & DISTANCE_PRESENT else 0)
    if len(data) < need:
        raise DecodeError(f"RSC measurement: flags 0x{flags:02x} need {need} bytes, got {len(data)}")
    i = 4
    stride = distance = None
    if flags & STRIDE_PRESENT:
        stride = struct.unpack_from("<H", data, i)[0] / 100.0
        i += 2
    if flags & DISTANCE_PRESENT:
        distance = struct.unpack_from("<I", data, i)[0] / 10.0
    return SpeedReading(speed_raw / 256.0, cadence, stride, distance, bool(flags & RUNNING))


class RscDriver(PodDriver):
    info: ClassVar[ProfileInfo] = ProfileInfo(
        "rsc",
        "Running Speed and Cadence footpod",
        uuids.RSC_SERVICE,
        ("Stryd",),
        service_advertised=True,
        kind="speed",
        default_rate_hz=1.0,
        data_uuids=(uuids.RSC_MEASUREMENT,),
    )

    async def start(self, port: GattPort) -> StreamFormat:
        await port.subscribe(uuids.RSC_MEASUREMENT)
        return StreamFormat({"speed": StreamSpec(1.0, Timing.ARRIVAL)}, primary="speed")

    async def stop(self, port: GattPort) -> None:
        """Notifications end with the subscription; RSC has no stop command."""

    def decode(self, uuid: str, data: bytes) -> list[Decoded]:
        return [decode_measurement(data)]
