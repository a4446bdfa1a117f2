"""The sensorkit DIY pod (firmware_notes/diy_pod.md): packed int16 blocks with sequence and time.

Data notification: ``[u16 LE sequence][u32 LE device time of the first sample, µs]`` then
``N x [ax ay az gx gy gz]`` int16 LE (6 + 12N bytes). Control point (write + indicate):
``01 <rate u16> <acc range g u8> <gyro range dps u16>`` starts, ``02`` stops; the pod answers
``F0 <op> <status> [<rate u16> <acc range u8> <gyro range u16> <samples per packet u8>]``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
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
from sensorkit.errors import DecodeError, ProtocolError

OP_START, OP_STOP = 0x01, 0x02
RESPONSE = 0xF0
STATUS_OK, STATUS_BAD_OP, STATUS_BAD_PARAM, STATUS_MTU_TOO_SMALL = 0, 1, 2, 3
STATUS_NAMES = {1: "unknown op code", 2: "invalid parameter", 3: "MTU too small for one sample"}
HEADER = struct.Struct("<HI")
SAMPLE_BYTES = 12
RATES_HZ = (52, 104, 208, 416)
ACC_RANGES_G = (2, 4, 8, 16)
GYR_RANGES_DPS = (250, 500, 1000, 2000)
CLOCK_WRAP_S = 2**32 / 1e6
RESPONSE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class DiyConfig:
    rate_hz: int
    acc_range_g: int
    gyr_range_dps: int
    samples_per_packet: int = 0


def start_command(cfg: DiyConfig) -> bytes:
    return struct.pack("<BHBH", OP_START, cfg.rate_hz, cfg.acc_range_g, cfg.gyr_range_dps)


def parse_start_command(data: bytes) -> DiyConfig:
    if len(data) != 6 or data[0] != OP_START:
        raise DecodeError("DIY start command: expected 6 bytes starting 01")
    _, rate, acc, gyr = struct.unpack("<BHBH", data)
    return DiyConfig(rate, acc, gyr)


def start_response(status: int, cfg: DiyConfig | None = None) -> bytes:
    head = bytes([RESPONSE, OP_START, status])
    if cfg is None:
        return head
    tail = struct.pack("<HBHB", cfg.rate_hz, cfg.acc_range_g, cfg.gyr_range_dps, cfg.samples_per_packet)
    return head + tail


def parse_start_response(data: bytes) -> tuple[int, DiyConfig | None]:
    require_length(data, 3, "DIY start response")
    if data[0] != RESPONSE or data[1] != OP_START:
        raise DecodeError("DIY start response: wrong header")
    status = data[2]
    if status != STATUS_OK:
        return status, None
    if len(data) != 9:
        raise DecodeError(f"DIY start response: {len(data)} bytes, expected 9")
    rate, acc, gyr, n = struct.unpack_from("<HBHB", data, 3)
    return status, DiyConfig(rate, acc, gyr, n)


def samples_per_packet(mtu: int, rate_hz: int, latency_s: float = 0.04) -> int:
    """What a pod sends per notification: ~40 ms of samples, as many as the MTU allows."""
    fit = (mtu - 3 - HEADER.size) // SAMPLE_BYTES
    return max(0, min(fit, max(1, round(rate_hz * latency_s))))


def encode_packet(sequence: int, device_time_us: int, raw: np.ndarray) -> bytes:
    """Pack (n, 6) int16 counts; the reference encoder firmware and emulator share."""
    block = np.ascontiguousarray(raw, dtype="<i2")
    if block.ndim != 2 or block.shape[1] != 6:
        raise ValueError("raw must have shape (n, 6)")
    return HEADER.pack(sequence & 0xFFFF, device_time_us & 0xFFFFFFFF) + block.tobytes()


def decode_packet(data: bytes, acc_range_g: float, gyr_range_dps: float) -> ImuPacket:
    """One data notification -> samples in g and deg/s, stamped at the first sample."""
    require_length(data, HEADER.size + SAMPLE_BYTES, "DIY pod packet")
    body = len(data) - HEADER.size
    if body % SAMPLE_BYTES:
        raise DecodeError(f"DIY pod packet: {body} data bytes is not whole samples")
    seq, t_us = HEADER.unpack_from(data, 0)
    raw = np.frombuffer(data, "<i2", body // 2, HEADER.size).astype(np.float64).reshape(-1, 6)
    return ImuPacket(
        "imu",
        acc_g=raw[:, 0:3] * (acc_range_g / 32768.0),
        gyr_dps=raw[:, 3:6] * (gyr_range_dps / 32768.0),
        device_time_s=t_us / 1e6,
        ref_index=0,
        sequence=seq,
    )


class DiyPodDriver(PodDriver):
    info: ClassVar[ProfileInfo] = ProfileInfo(
        "diy",
        "sensorkit DIY pod",
        uuids.DIY_SERVICE,
        ("SK Pod",),
        service_advertised=True,
        has_gyro=True,
        default_rate_hz=208,
        rates_hz=RATES_HZ,
        acc_ranges_g=ACC_RANGES_G,
        gyr_ranges_dps=GYR_RANGES_DPS,
        data_uuids=(uuids.DIY_DATA,),
    )

    def __init__(self, request: StreamRequest) -> None:
        super().__init__(request)
        self.config = DiyConfig(208, 16, 2000)

    async def start(self, port: GattPort) -> StreamFormat:
        req = self.request
        wanted = DiyConfig(
            int(nearest(RATES_HZ, req.rate_hz, 208)),
            int(at_least(ACC_RANGES_G, req.acc_range_g, 16)),
            int(at_least(GYR_RANGES_DPS, req.gyr_range_dps, 2000)),
        )
        await port.subscribe(uuids.DIY_CONTROL)  # indications on before the first write
        await port.subscribe(uuids.DIY_DATA)
        await port.write(uuids.DIY_CONTROL, start_command(wanted), response=True)
        raw = await port.expect(
            uuids.DIY_CONTROL,
            lambda b: len(b) >= 3 and b[0] == RESPONSE and b[1] == OP_START,
            RESPONSE_TIMEOUT_S,
        )
        status, cfg = parse_start_response(raw)
        if cfg is None:
            reason = STATUS_NAMES.get(status, f"status {status}")
            raise ProtocolError(f"DIY pod refused to start: {reason} (link MTU {port.mtu})")
        self.config = cfg
        spec = StreamSpec(float(cfg.rate_hz), Timing.SEQUENCE, clock_wrap_s=CLOCK_WRAP_S, sequence_wrap=65536)
        return StreamFormat(
            {"imu": spec},
            acc_range_g=float(cfg.acc_range_g),
            gyr_range_dps=float(cfg.gyr_range_dps),
            has_gyro=True,
        )

    async def stop(self, port: GattPort) -> None:
        await port.write(uuids.DIY_CONTROL, bytes([OP_STOP]), response=True)

    def decode(self, uuid: str, data: bytes) -> list[Decoded]:
        if uuid != uuids.DIY_DATA:
            return []
        return [decode_packet(data, self.config.acc_range_g, self.config.gyr_range_dps)]
