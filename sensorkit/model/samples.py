"""Raw data on the host timeline: sample blocks, gaps and speed readings.

Every time in sensorkit is seconds on one host timeline per session (``time_s``; 0 is the
session start, ``SessionInfo.start_unix_s`` maps it to wall-clock time). Sources align
device clocks onto it before anything leaves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def _as_f64(a: object, shape_tail: tuple[int, ...], name: str, n: int | None) -> F64:
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.shape[1:] != shape_tail or (n is not None and arr.shape[0] != n):
        want = ("n", *shape_tail) if n is None else (n, *shape_tail)
        raise ValueError(f"{name} has shape {arr.shape}, expected {want}")
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class SampleBlock:
    """Consecutive IMU samples of one sensor, in the sensor frame and sensorkit units.

    ``time_s`` (n,) is increasing host time; ``acc_g`` (n, 3) is specific force in g;
    ``gyr_dps`` (n, 3) angular rate in deg/s; ``mag_ut`` (n, 3) magnetic field in uT.
    Arrays are float64 and must not be mutated after construction.
    """

    sensor_id: str
    time_s: F64
    acc_g: F64
    gyr_dps: F64 | None = None
    mag_ut: F64 | None = None

    def __post_init__(self) -> None:
        t = _as_f64(self.time_s, (), "time_s", None)
        n = t.shape[0]
        object.__setattr__(self, "time_s", t)
        object.__setattr__(self, "acc_g", _as_f64(self.acc_g, (3,), "acc_g", n))
        if self.gyr_dps is not None:
            object.__setattr__(self, "gyr_dps", _as_f64(self.gyr_dps, (3,), "gyr_dps", n))
        if self.mag_ut is not None:
            object.__setattr__(self, "mag_ut", _as_f64(self.mag_ut, (3,), "mag_ut", n))

    @classmethod
    def trusted(cls, sensor_id: str, time_s: F64, acc_g: F64, gyr_dps: F64 | None = None,
                mag_ut: F64 | None = None) -> SampleBlock:
        """A block of arrays its producer made as contiguous float64 of the right shapes, unchecked.

        The checks are three quarters of the cost of a live 8-sample block; producers that build
        or slice the arrays themselves (the simulator, replay, ``slice``) skip them. Anything
        else goes through the constructor.
        """
        block = object.__new__(cls)
        # the slots' own setters: object.__setattr__ looks each name up first (~1/3 of the cost)
        set_sensor_id, set_time_s, set_acc_g, set_gyr_dps, set_mag_ut = _SLOT_SETTERS
        set_sensor_id(block, sensor_id)
        set_time_s(block, time_s)
        set_acc_g(block, acc_g)
        set_gyr_dps(block, gyr_dps)
        set_mag_ut(block, mag_ut)
        return block

    def __len__(self) -> int:
        return self.time_s.shape[0]  # a Python int already

    @property
    def start_s(self) -> float:
        t = self.time_s  # read per block on hot paths: no len(self) call inside
        return float(t[0]) if t.shape[0] else float("nan")

    @property
    def end_s(self) -> float:
        t = self.time_s
        return float(t[-1]) if t.shape[0] else float("nan")

    def slice(self, start: int, stop: int) -> SampleBlock:
        """Samples ``start:stop`` as a new block sharing memory with this one."""
        return SampleBlock.trusted(  # row slices of valid arrays are valid
            self.sensor_id,
            self.time_s[start:stop],
            self.acc_g[start:stop],
            None if self.gyr_dps is None else self.gyr_dps[start:stop],
            None if self.mag_ut is None else self.mag_ut[start:stop],
        )

    @staticmethod
    def concat(blocks: Sequence[SampleBlock]) -> SampleBlock:
        """Join blocks of one sensor; optional channels must be present in all or none."""
        if not blocks:
            raise ValueError("concat needs at least one block")
        sid = blocks[0].sensor_id

        def cat(name: str) -> F64 | None:
            parts = [getattr(b, name) for b in blocks]
            if all(p is None for p in parts):
                return None
            if any(p is None for p in parts):
                raise ValueError(f"{sid}: {name} present in some blocks only")
            return np.concatenate(parts)

        return SampleBlock.trusted(sid, np.concatenate([b.time_s for b in blocks]),  # joined valid arrays
                                   np.concatenate([b.acc_g for b in blocks]), cat("gyr_dps"), cat("mag_ut"))


_SLOT_SETTERS = tuple(SampleBlock.__dict__[f].__set__ for f in ("sensor_id", "time_s", "acc_g", "gyr_dps", "mag_ut"))
"""``__set__`` of each SampleBlock slot (frozen: assignment goes around the dataclass's guard)."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Samples that never arrived: recorded as a gap, never interpolated.

    ``lost_samples`` is the estimate from sequence numbers or timestamps, if known.
    """

    sensor_id: str
    start_s: float
    end_s: float
    reason: str
    lost_samples: int | None = None


@dataclass(frozen=True, slots=True)
class SpeedSample:
    """Speed from a footpod (RSC) or phone GPS; fields a source does not know are None."""

    sensor_id: str
    time_s: float
    speed_mps: float | None
    cadence_spm: float | None = None
    stride_length_m: float | None = None
    distance_m: float | None = None
    source: str = "rsc"
