"""What every profile shares: decoded packets, stream timing, the GATT port and the driver base.

A profile module has two halves. The *decoder* is pure: bytes in, :class:`ImuPacket` or
:class:`SpeedReading` out, :class:`~sensorkit.errors.DecodeError` for anything malformed;
it never sees asyncio, so it is fuzzed and golden-tested on its own. The *driver* speaks
the device's start/stop protocol through a :class:`GattPort` (bleak underneath) and tells
the stream assembler how the device stamps time (:class:`StreamSpec`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from sensorkit.errors import DecodeError

F64 = NDArray[np.float64]
STANDARD_GRAVITY = 9.80665


@dataclass(frozen=True, slots=True, eq=False)
class ImuPacket:
    """Samples of one notification in the sensor frame and sensorkit units, on the device clock.

    ``stream`` names the device stream the samples belong to (Polar sends accelerometer and
    gyroscope frames separately; most devices send one ``"imu"`` stream). ``device_time_s``
    is the device's own stamp of sample ``ref_index`` (negative counts from the end), or None
    when the device sends no time at all. ``sequence`` is the raw (wrapping) packet counter.
    """

    stream: str
    acc_g: F64 | None = None
    gyr_dps: F64 | None = None
    mag_ut: F64 | None = None
    device_time_s: float | None = None
    ref_index: int = 0
    sequence: int | None = None

    def __len__(self) -> int:
        for a in (self.acc_g, self.gyr_dps, self.mag_ut):
            if a is not None:
                return int(a.shape[0])
        return 0


@dataclass(frozen=True, slots=True)
class SpeedReading:
    """One Running Speed and Cadence measurement, as the footpod sent it."""

    speed_mps: float
    cadence_per_min: int
    stride_length_m: float | None = None
    distance_m: float | None = None
    running: bool = False


Decoded = ImuPacket | SpeedReading


class Timing(StrEnum):
    """How a stream's sample times can be recovered."""

    DEVICE_CLOCK = "device_clock"
    """Packets carry a device timestamp: losses and drift are visible."""
    SEQUENCE = "sequence"
    """Packets carry a sequence number and a device timestamp (the DIY pod)."""
    ARRIVAL = "arrival"
    """Nothing but the nominal rate: time and loss are inferred from host arrival."""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """Timing facts of one device stream, known once streaming has started."""

    rate_hz: float
    timing: Timing
    clock_wrap_s: float | None = None
    """Device time wraps around after this many seconds (u32 counters); None: never."""
    sequence_wrap: int | None = None
    """Packet counter modulus (65536 for u16); None: no counter."""


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """What the device agreed to stream: the streams, their timing and the full scales."""

    streams: dict[str, StreamSpec]
    acc_range_g: float | None = None
    gyr_range_dps: float | None = None
    has_gyro: bool = False
    primary: str = "imu"
    """Stream whose samples define the block times (others are matched onto it)."""


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """What the user asked for (from the pod's config entry); drivers pick the nearest supported."""

    rate_hz: float | None = None
    acc_range_g: float | None = None
    gyr_range_dps: float | None = None


class GattPort(Protocol):
    """The few GATT operations drivers need; implemented over bleak by ``sensorkit.ble.link``."""

    @property
    def mtu(self) -> int: ...

    def has_characteristic(self, uuid: str) -> bool: ...

    async def read(self, uuid: str) -> bytes: ...

    async def write(self, uuid: str, data: bytes, *, response: bool = True) -> None: ...

    async def subscribe(self, uuid: str) -> None:
        """Enable notifications (or indications) and route them to the pod's queue."""
        ...

    async def expect(self, uuid: str, match: Callable[[bytes], bool], timeout_s: float) -> bytes:
        """Wait for a notification on ``uuid`` that ``match`` accepts; others are kept for later."""
        ...


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """Identity of a profile: how to recognise the device and what it can deliver."""

    name: str
    title: str
    service_uuid: str
    name_prefixes: tuple[str, ...] = ()
    service_advertised: bool = True
    kind: str = "imu"
    """``"imu"`` (sample blocks) or ``"speed"`` (speed readings)."""
    has_gyro: bool = False
    default_rate_hz: float = 100.0
    rates_hz: tuple[float, ...] = ()
    acc_ranges_g: tuple[float, ...] = ()
    gyr_ranges_dps: tuple[float, ...] = ()
    data_uuids: tuple[str, ...] = field(default=())


def nearest(options: Sequence[float], wanted: float | None, default: float) -> float:
    """The supported option closest to what was asked for (the default if nothing was)."""
    if not options:
        return default if wanted is None else wanted
    target = default if wanted is None else wanted
    return min(options, key=lambda o: (abs(o - target), o))


def at_least(options: Sequence[float], wanted: float | None, default: float) -> float:
    """The smallest supported full scale that covers what was asked for (clipping is worse)."""
    target = default if wanted is None else wanted
    fitting = [o for o in options if o >= target]
    return min(fitting) if fitting else max(options, default=target)


def require_length(data: bytes, minimum: int, what: str) -> None:
    """Raise DecodeError unless ``data`` holds at least ``minimum`` bytes."""
    if len(data) < minimum:
        raise DecodeError(f"{what}: {len(data)} bytes, need at least {minimum}")


def triples(raw: NDArray[np.generic], what: str) -> NDArray[np.float64]:
    """Reshape a flat sample array into (n, 3) float64, refusing a ragged tail."""
    if raw.size % 3:
        raise DecodeError(f"{what}: {raw.size} values is not a whole number of x,y,z samples")
    return raw.astype(np.float64).reshape(-1, 3)


class PodDriver(abc.ABC):
    """Device protocol: start and stop streaming, and the per-connection decoder.

    One driver instance lives for one connection; a reconnect makes a new one, so nothing
    learned from a dead link (a compression factor, a subscription) leaks into the next.
    """

    info: ClassVar[ProfileInfo]

    def __init__(self, request: StreamRequest) -> None:
        self.request = request

    @abc.abstractmethod
    async def start(self, port: GattPort) -> StreamFormat:
        """Subscribe (control points first), configure and start; return what was agreed."""

    @abc.abstractmethod
    async def stop(self, port: GattPort) -> None:
        """Stop streaming; best effort, the link may already be gone."""

    @abc.abstractmethod
    def decode(self, uuid: str, data: bytes) -> list[Decoded]:
        """Decode one notification; ``[]`` for frames that carry no samples (responses)."""
