"""What every phone protocol parser produces: samples on the phone's clock, in sensorkit units.

Parsers (Sensor Logger JSON, phyphox buffers, HyperIMU CSV) only translate; everything that
depends on time - clock alignment, ordering, duplicates, gaps, GPS speed - happens once, in
:mod:`sensorkit.sources.phone.aligner`, for every app alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

STANDARD_GRAVITY_MPS2 = 9.80665
"""g as phone apps use it (Sensor Logger's documentation names this value)."""
DEG_PER_RAD = 180.0 / math.pi


class Channel(StrEnum):
    """A three-axis phone stream after conversion at the edge (sensor frame, Android signs)."""

    ACC = "acc"
    """Specific force including gravity, g (Android TYPE_ACCELEROMETER; at rest +1 g up)."""
    LINEAR_ACC = "linear_acc"
    """Acceleration without gravity, g; combined with GRAVITY into ACC when ACC is absent."""
    GRAVITY = "gravity"
    """The phone's gravity estimate, g (Android signs: +z when lying face up)."""
    GYR = "gyr"
    """Angular rate, deg/s."""
    MAG = "mag"
    """Magnetic field, uT."""


@dataclass(frozen=True, slots=True)
class GpsFix:
    """One location report. ``speed_mps``/``accuracy_m`` are None when the app marks them invalid."""

    device_s: float
    latitude_deg: float
    longitude_deg: float
    speed_mps: float | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class ChannelData:
    """Samples of one channel: ``device_s`` (n,) seconds on the phone clock, ``values`` (n, 3)."""

    device_s: F64
    values: F64

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.device_s, dtype=np.float64).reshape(-1)
        v = np.ascontiguousarray(self.values, dtype=np.float64).reshape(-1, 3)
        if v.shape[0] != t.shape[0]:
            raise ValueError(f"{t.shape[0]} times but {v.shape[0]} samples")
        object.__setattr__(self, "device_s", t)
        object.__setattr__(self, "values", v)

    def __len__(self) -> int:
        return int(self.device_s.shape[0])


def to_units(time_s: F64, values: F64, scale: float) -> tuple[ChannelData, int]:
    """The finite rows of ``values * scale`` (phone units to sensorkit's), and how many were dropped.

    A value near the float range (a damaged file, a hostile client) overflows to inf in the
    conversion (rad/s to deg/s): such a row is invalid like a non-number, dropped and counted,
    instead of a RuntimeWarning and an infinite sample.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        v = np.asarray(values, dtype=np.float64).reshape(-1, 3) * scale
    t = np.asarray(time_s, dtype=np.float64).reshape(-1)
    ok = np.isfinite(t) & np.isfinite(v).all(axis=1)
    return ChannelData(t[ok], v[ok]), int((~ok).sum())


@dataclass(frozen=True, slots=True)
class PhoneBatch:
    """One message (HTTP push, MQTT message, poll answer, datagram) from one phone.

    ``message_id`` lets duplicates be dropped (Sensor Logger's ``messageId``); ``session_id``
    changes when the phone starts a new recording (its counters restart).
    """

    channels: dict[Channel, ChannelData] = field(default_factory=dict)
    fixes: tuple[GpsFix, ...] = ()
    message_id: int | None = None
    session_id: str | None = None
    device_id: str | None = None
    battery_pct: float | None = None

    @property
    def latest_device_s(self) -> float | None:
        """Device time of the newest sample in the message: closest to when it was sent."""
        times = [float(c.device_s.max()) for c in self.channels.values() if len(c)]
        times += [f.device_s for f in self.fixes]
        return max(times) if times else None

    @property
    def n_samples(self) -> int:
        return sum(len(c) for c in self.channels.values())
