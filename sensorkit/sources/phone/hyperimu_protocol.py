"""HyperIMU CSV lines -> :class:`PhoneBatch`.

HyperIMU (ianovir; see its HIMUServer README) sends one CSV line per sample: three values per
enabled sensor, in the order of the app's settings, ended by CR LF or ``#``; a timestamp and
the MAC address can be prefixed, GPS latitude/longitude/altitude (and NMEA sentences)
appended. Nothing on the wire names the sensors, so their order comes from the settings.
Values are Android's: m/s^2, rad/s, uT. Its log files use the same lines after ``@`` header
lines (and may end lines with a comma).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sensorkit.sources.phone.batch import (
    DEG_PER_RAD,
    F64,
    STANDARD_GRAVITY_MPS2,
    Channel,
    ChannelData,
    GpsFix,
    PhoneBatch,
)

SENSORS: dict[str, tuple[Channel, float] | None] = {
    "accelerometer": (Channel.ACC, 1 / STANDARD_GRAVITY_MPS2),
    "linear_acceleration": (Channel.LINEAR_ACC, 1 / STANDARD_GRAVITY_MPS2),
    "gravity": (Channel.GRAVITY, 1 / STANDARD_GRAVITY_MPS2),
    "gyroscope": (Channel.GYR, DEG_PER_RAD),
    "magnetometer": (Channel.MAG, 1.0),
    "other": None,
}

_MAX_ABS = 1e300
"""Larger values are refused: finite, but a unit conversion (rad/s to deg/s) would overflow."""


def timestamp_to_s(v: float) -> float:
    """Epoch timestamps in s, ms, us or ns -> s (decided by magnitude; years 1973-2286)."""
    a = abs(v)
    if a >= 1e17:
        return v * 1e-9
    if a >= 1e14:
        return v * 1e-6
    if a >= 1e11:
        return v * 1e-3
    return v


@dataclass(frozen=True, slots=True)
class LineFormat:
    """What the app was told to send (mirrors :class:`HyperImuSettings`)."""

    sensors: tuple[str, ...] = ("accelerometer", "gyroscope")
    timestamp: bool = True
    mac_address: bool = False
    gps: bool = False
    separator: bytes = b"\r\n"

    def __post_init__(self) -> None:
        unknown = [s for s in self.sensors if s not in SENSORS]
        if unknown:
            raise ValueError(f"unknown HyperIMU sensors: {unknown}")

    @property
    def n_values(self) -> int:
        return 3 * len(self.sensors) + (1 if self.timestamp else 0) + (3 if self.gps else 0)


@dataclass(slots=True)
class ParsedLines:
    """Good lines of one read; ``device_s`` is None when the app sends no timestamp."""

    device_s: F64 | None
    values: F64  # (n, 3 * sensors)
    fixes: list[GpsFix] = field(default_factory=list)
    bad_lines: int = 0
    first_error: str = ""

    def __len__(self) -> int:
        return int(self.values.shape[0])


def split_lines(data: bytes, separator: bytes) -> list[bytes]:
    """Non-empty lines of a datagram or stream chunk (stray CR/LF around ``#`` tolerated)."""
    return [ln.strip(b"\r\n ,") for ln in data.split(separator) if ln.strip(b"\r\n ,")]


def parse_lines(lines: list[bytes], fmt: LineFormat) -> ParsedLines:
    """Parse CSV lines; malformed ones are counted, never raised."""
    rows: list[list[float]] = []
    times: list[float] = []
    fixes: list[GpsFix] = []
    bad = 0
    first_error = ""
    n_sensor_values = 3 * len(fmt.sensors)
    for line in lines:
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            bad += 1
            first_error = first_error or "not ASCII"
            continue
        tokens = [t.strip() for t in text.split(",") if t.strip()]
        if fmt.mac_address:
            tokens = [t for t in tokens if ":" not in t]
        try:
            nums = [float(t) for t in tokens[: fmt.n_values]]
        except ValueError:
            bad += 1
            first_error = first_error or f"not a number in {text[:60]!r}"
            continue
        extra = len(tokens) - fmt.n_values
        if len(nums) < fmt.n_values or (extra > 0 and not fmt.gps):
            bad += 1
            first_error = first_error or f"{len(tokens)} values, expected {fmt.n_values}"
            continue
        if not all(abs(v) <= _MAX_ABS for v in nums):  # NaN fails this too
            bad += 1
            first_error = first_error or "non-finite or out-of-range value"
            continue
        i = 0
        t = None
        if fmt.timestamp:
            t = timestamp_to_s(nums[0])
            i = 1
        rows.append(nums[i:i + n_sensor_values])
        if t is not None:
            times.append(t)
        if fmt.gps and t is not None:
            lat, lon = nums[i + n_sensor_values], nums[i + n_sensor_values + 1]
            if (lat, lon) != (0.0, 0.0):
                fixes.append(GpsFix(t, lat, lon))
    values = np.asarray(rows, dtype=np.float64).reshape(-1, n_sensor_values)
    dev = np.asarray(times, dtype=np.float64) if fmt.timestamp else None
    return ParsedLines(dev, values, fixes, bad, first_error)


def to_batch(parsed: ParsedLines, device_s: F64, fmt: LineFormat) -> PhoneBatch:
    """Split the value columns into channels in sensorkit units."""
    channels: dict[Channel, ChannelData] = {}
    for k, name in enumerate(fmt.sensors):
        spec = SENSORS[name]
        if spec is None or spec[0] in channels:
            continue
        ch, scale = spec
        channels[ch] = ChannelData(device_s, parsed.values[:, 3 * k:3 * k + 3] * scale)
    return PhoneBatch(channels, tuple(parsed.fixes))
