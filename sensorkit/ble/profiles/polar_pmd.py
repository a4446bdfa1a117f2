"""Polar Measurement Data (H10 chest strap, Verity Sense): frames, control point and driver.

Byte layouts follow polar-ble-sdk (``PmdDataFrame.kt``, ``AccData.kt``, ``GyrData.kt``,
``BlePMDClient.parseDeltaFramesAll``, ``PmdSetting.kt``, ``PmdControlPointResponse.kt``):

* data frame ``[type][u64 LE ns since 2000-01-01, stamps the LAST sample][frame type][payload]``;
  frame type bit 7 = delta compressed, low 7 bits = encoding;
* compressed payload: one reference sample (``ceil(res/8)`` bytes per channel, signed LE),
  then blocks ``[bit width][count][count * channels * width bits, LSB first]`` of
  sign-extended deltas, each added to the previous sample;
* control point answers as an indication ``F0 op type status more params...``.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

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
    triples,
)
from sensorkit.errors import DecodeError, ProtocolError

log = logging.getLogger(__name__)

# Measurement types and control-point op codes
ECG, PPG, ACC, PPI, GYRO, MAG, SDK_MODE = 0, 1, 2, 3, 5, 6, 9
OP_GET_SETTINGS, OP_START, OP_STOP = 1, 2, 3
# Setting ids and their field sizes in bytes
SETTING_SIZES = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4, 6: 16}
RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR = 0, 1, 2, 3, 4, 5
STATUS_NAMES = (
    "success",
    "invalid op code",
    "invalid measurement type",
    "not supported",
    "invalid length",
    "invalid parameter",
    "already in state",
    "invalid resolution",
    "invalid sample rate",
    "invalid range",
    "invalid MTU",
    "invalid number of channels",
    "invalid state",
    "device in charger",
    "disk full",
)
STATUS_ALREADY_IN_STATE, STATUS_INVALID_MTU = 6, 10
RESPONSE_TIMEOUT_S = 5.0

I64 = NDArray[np.int64]


# -- control point -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PmdResponse:
    op: int
    measurement: int
    status: int
    more: bool
    params: bytes

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status] if self.status < len(STATUS_NAMES) else f"status {self.status}"


def parse_features(data: bytes) -> set[int]:
    """Measurement types from a control-point read (``0F <feature bits>``)."""
    require_length(data, 2, "PMD features")
    if data[0] != 0x0F:
        raise DecodeError(f"PMD features: first byte 0x{data[0]:02x}, expected 0x0f")
    bits = int.from_bytes(data[1:], "little")
    return {i for i in range(bits.bit_length()) if bits >> i & 1}


def parse_response(data: bytes) -> PmdResponse:
    """A control-point indication ``F0 op type status more params...``."""
    require_length(data, 4, "PMD response")
    if data[0] != 0xF0:
        raise DecodeError(f"PMD response: first byte 0x{data[0]:02x}, expected 0xf0")
    ok = data[3] == 0
    more = ok and len(data) > 4 and data[4] != 0
    return PmdResponse(data[1], data[2], data[3], more, bytes(data[5:]) if ok else b"")


def parse_settings(params: bytes) -> dict[int, list[int]]:
    """``[setting id][count][count values]...`` -> {id: values}; factor values stay raw bits."""
    out: dict[int, list[int]] = {}
    i = 0
    while i < len(params):
        if i + 2 > len(params):
            raise DecodeError("PMD settings: truncated setting header")
        sid, count = params[i], params[i + 1]
        size = SETTING_SIZES.get(sid)
        if size is None:
            raise DecodeError(f"PMD settings: unknown setting id {sid}")
        i += 2
        end = i + count * size
        if end > len(params):
            raise DecodeError(f"PMD settings: setting {sid} needs {count * size} bytes")
        signed = sid == RANGE_MILLIUNIT
        out[sid] = [int.from_bytes(params[j : j + size], "little", signed=signed) for j in range(i, end, size)]
        i = end
    return out


def factor_of(settings: Mapping[int, list[int]]) -> float | None:
    """The IEEE-754 scale factor a start response carries, if any."""
    values = settings.get(FACTOR)
    if not values:
        return None
    return float(struct.unpack("<f", struct.pack("<I", values[0] & 0xFFFFFFFF))[0])


def start_command(measurement: int, selected: Mapping[int, int]) -> bytes:
    """``02 type (id 01 value)...`` for the selected settings (factor is never sent)."""
    out = bytearray([OP_START, measurement])
    for sid, value in selected.items():
        if sid == FACTOR:
            continue
        out += bytes([sid, 1]) + int(value).to_bytes(SETTING_SIZES[sid], "little")
    return bytes(out)


# -- data frames ---------------------------------------------------------------------------


def _sign_extend(values: I64, bits: int) -> I64:
    if bits <= 0:
        return values
    sign = np.int64(1) << np.int64(bits - 1)
    return (values ^ sign) - sign


def decode_delta_frames(payload: bytes, channels: int, resolution_bits: int) -> I64:
    """Reference sample plus delta blocks -> (n, channels) integers (vectorised per block)."""
    ref_size = math.ceil(resolution_bits / 8)
    head = channels * ref_size
    require_length(payload, head, "PMD compressed frame")
    ref = np.array(
        [int.from_bytes(payload[c * ref_size : (c + 1) * ref_size], "little", signed=True) for c in range(channels)],
        dtype=np.int64,
    )
    rows = [ref[None, :]]
    i = head
    while i < len(payload):
        if i + 2 > len(payload):
            raise DecodeError("PMD compressed frame: truncated block header")
        width, count = payload[i], payload[i + 1]
        i += 2
        if width > 32:
            raise DecodeError(f"PMD compressed frame: delta width {width} bits")
        nbits = width * count * channels
        nbytes = (nbits + 7) // 8
        if i + nbytes > len(payload):
            raise DecodeError("PMD compressed frame: truncated delta block")
        if width == 0 or count == 0:
            deltas = np.zeros((count, channels), dtype=np.int64)
        else:
            bits = np.unpackbits(np.frombuffer(payload, np.uint8, nbytes, i), bitorder="little")[:nbits]
            weights = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
            values = bits.reshape(-1, width).astype(np.int64) @ weights
            deltas = _sign_extend(values, width).reshape(count, channels)
        i += nbytes
        rows.append(deltas)
    out = np.cumsum(np.concatenate(rows), axis=0)
    if resolution_bits == 32:  # float bit patterns: deltas wrap like the SDK's Int arithmetic
        out = (out + 2**31) % 2**32 - 2**31
    return out


def _raw_ints(payload: bytes, width: int) -> I64:
    if width == 3:
        if len(payload) % 3:
            raise DecodeError("PMD raw frame: length not a multiple of 3 bytes")
        b = np.frombuffer(payload, np.uint8).reshape(-1, 3).astype(np.int64)
        return _sign_extend(b[:, 0] | b[:, 1] << 8 | b[:, 2] << 16, 24)
    dtype = {1: "<i1", 2: "<i2"}[width]
    if len(payload) % width:
        raise DecodeError(f"PMD raw frame: length not a multiple of {width} bytes")
    return np.frombuffer(payload, dtype).astype(np.int64)


def decode_frame(data: bytes, factors: Mapping[int, float]) -> ImuPacket | None:
    """One PMD data notification -> samples (acc in g, gyro in deg/s); None for other types.

    ``factors`` holds the scale factor each measurement's start response announced.
    """
    require_length(data, 10, "PMD frame")
    mtype = data[0]
    (ts_ns,) = struct.unpack_from("<Q", data, 1)
    ftype = data[9]
    compressed, enc = bool(ftype & 0x80), ftype & 0x7F
    payload = bytes(data[10:])
    factor = factors.get(mtype, 1.0)
    t = ts_ns * 1e-9
    if mtype == ACC:
        if compressed:
            if enc not in (0, 1):
                raise DecodeError(f"PMD ACC: compressed frame type {enc} not supported")
            raw = decode_delta_frames(payload, 3, 16).astype(np.float64)
            # type 0 is in g after the factor; type 1 in mG (factor 1 means "already mG")
            acc = raw * factor if enc == 0 else raw * factor / 1000.0
        else:
            if enc not in (0, 1, 2):
                raise DecodeError(f"PMD ACC: raw frame type {enc} not supported")
            acc = triples(_raw_ints(payload, enc + 1), "PMD ACC") / 1000.0
        if acc.shape[0] == 0:
            raise DecodeError("PMD ACC: frame without samples")
        return ImuPacket("acc", acc_g=acc, device_time_s=t, ref_index=-1)
    if mtype == GYRO:
        if not compressed or enc not in (0, 1):
            raise DecodeError(f"PMD GYRO: frame type 0x{ftype:02x} not supported")
        if enc == 0:
            gyr = decode_delta_frames(payload, 3, 16).astype(np.float64) * factor
        else:
            bits = decode_delta_frames(payload, 3, 32).astype(np.int32)
            with np.errstate(invalid="ignore"):  # signalling-NaN patterns: refused just below
                gyr = bits.view(np.float32).astype(np.float64) * factor
            if not np.isfinite(gyr).all():  # a corrupted frame; NaN would poison the AHRS
                raise DecodeError("PMD GYRO: non-finite values in a float frame")
        return ImuPacket("gyr", gyr_dps=gyr, device_time_s=t, ref_index=-1)
    return None  # ECG, PPG, magnetometer...: not used by sensorkit


# -- driver --------------------------------------------------------------------------------


class PolarPmdDriver(PodDriver):
    """Start/stop over the PMD control point; Verity Sense adds a gyroscope stream."""

    info: ClassVar[ProfileInfo] = ProfileInfo(
        "polar_h10",
        "Polar H10",
        uuids.PMD_SERVICE,
        ("Polar H10",),
        service_advertised=False,
        has_gyro=False,
        default_rate_hz=200,
        rates_hz=(25, 50, 100, 200),
        acc_ranges_g=(2, 4, 8),
        data_uuids=(uuids.PMD_DATA,),
    )
    measurements: ClassVar[tuple[int, ...]] = (ACC,)

    def __init__(self, request: StreamRequest) -> None:
        super().__init__(request)
        self._factors: dict[int, float] = {}
        self._ranges: dict[int, float | None] = {}

    async def _command(self, port: GattPort, payload: bytes) -> PmdResponse:
        op, mtype = payload[0], payload[1]
        await port.write(uuids.PMD_CONTROL, payload, response=True)
        raw = await port.expect(
            uuids.PMD_CONTROL,
            lambda b: len(b) >= 3 and b[0] == 0xF0 and b[1] == op and b[2] == mtype,
            RESPONSE_TIMEOUT_S,
        )
        resp = parse_response(raw)
        params = resp.params
        while resp.more:  # long answers come in several indications
            raw = await port.expect(uuids.PMD_CONTROL, lambda b: len(b) >= 3 and b[0] == 0xF0, RESPONSE_TIMEOUT_S)
            resp = parse_response(raw)
            params += resp.params
        return PmdResponse(resp.op, resp.measurement, resp.status, False, params)

    def _check(self, resp: PmdResponse, what: str, mtu: int) -> None:
        if resp.status == 0:
            return
        hint = ""
        if resp.status == STATUS_INVALID_MTU:
            hint = f" (link MTU is {mtu}: PMD needs an MTU exchange; the settings answer alone is 27 bytes)"
        raise ProtocolError(f"{self.info.title}: {what} refused: {resp.status_name}{hint}")

    async def _start_one(self, port: GattPort, mtype: int) -> StreamSpec:
        req = self.request
        settings_resp = await self._command(port, bytes([OP_GET_SETTINGS, mtype]))
        self._check(settings_resp, f"settings of measurement {mtype}", port.mtu)
        avail = parse_settings(settings_resp.params)
        selected: dict[int, int] = {}
        rate = int(nearest(avail.get(RATE, []), req.rate_hz, self.info.default_rate_hz))
        selected[RATE] = rate
        if RESOLUTION in avail:
            selected[RESOLUTION] = max(avail[RESOLUTION])
        if RANGE in avail:
            wanted = req.acc_range_g if mtype == ACC else req.gyr_range_dps
            selected[RANGE] = int(at_least(avail[RANGE], wanted, 8 if mtype == ACC else 2000))
        if CHANNELS in avail:
            selected[CHANNELS] = max(avail[CHANNELS])
        resp = await self._command(port, start_command(mtype, selected))
        if resp.status == STATUS_ALREADY_IN_STATE:  # left running by an earlier session
            await self._command(port, bytes([OP_STOP, mtype]))
            resp = await self._command(port, start_command(mtype, selected))
        self._check(resp, f"start of measurement {mtype}", port.mtu)
        factor = factor_of(parse_settings(resp.params)) if resp.params else None
        self._factors[mtype] = factor if factor is not None else 1.0
        self._ranges[mtype] = float(selected.get(RANGE, 0)) or None
        return StreamSpec(float(rate), Timing.DEVICE_CLOCK)

    async def start(self, port: GattPort) -> StreamFormat:
        features = parse_features(await port.read(uuids.PMD_CONTROL))
        missing = [m for m in self.measurements if m not in features]
        if missing:
            raise ProtocolError(f"{self.info.title}: device does not offer PMD measurement(s) {missing}")
        # Trap: indications on the control point must be on before the first write.
        await port.subscribe(uuids.PMD_CONTROL)
        await port.subscribe(uuids.PMD_DATA)
        streams = {}
        for mtype in self.measurements:
            streams["acc" if mtype == ACC else "gyr"] = await self._start_one(port, mtype)
        return StreamFormat(
            streams,
            acc_range_g=self._ranges.get(ACC),
            gyr_range_dps=self._ranges.get(GYRO),
            has_gyro=GYRO in self.measurements,
            primary="acc",
        )

    async def stop(self, port: GattPort) -> None:
        for mtype in self.measurements:
            await port.write(uuids.PMD_CONTROL, bytes([OP_STOP, mtype]), response=True)

    def decode(self, uuid: str, data: bytes) -> list[Decoded]:
        if uuid != uuids.PMD_DATA:
            if data and data[0] != 0xF0:
                log.info("%s: control point event %s", self.info.title, bytes(data).hex())
            return []
        packet = decode_frame(data, self._factors)
        return [] if packet is None else [packet]


class PolarVerityDriver(PolarPmdDriver):
    """Verity Sense: compressed accelerometer frames plus a gyroscope stream."""

    info: ClassVar[ProfileInfo] = ProfileInfo(
        "polar_verity",
        "Polar Verity Sense",
        uuids.PMD_SERVICE,
        ("Polar Sense",),
        service_advertised=False,
        has_gyro=True,
        default_rate_hz=52,
        rates_hz=(26, 52, 104, 208, 416),
        acc_ranges_g=(2, 4, 8, 16),
        gyr_ranges_dps=(250, 500, 1000, 2000),
        data_uuids=(uuids.PMD_DATA,),
    )
    measurements: ClassVar[tuple[int, ...]] = (ACC, GYRO)
