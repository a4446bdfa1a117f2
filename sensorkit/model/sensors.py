"""Who wears what where: sensor identity and placement.

Axis conventions (every module follows these; units are converted at the edges only):

* **Sensor frame (SF)** - the axes a device reports, right-handed, after conversion to
  sensorkit units. Nothing is assumed about how a pod is clipped on.
* **Body frame (BF)** - found by mounting calibration (``sensorkit.dsp``):
  ``x`` forward (anterior, direction of travel), ``y`` left, ``z`` up. A pod at rest
  reads ``acc_g ~= (0, 0, +1)`` in BF (specific force: gravity appears as +1 g up).
* **Foot frame** (shoe pods) - BF of the foot: ``x`` toward the toes, ``y`` left, ``z`` up
  out of the sole.
* Angular rate is right-handed about each axis in deg/s. Angles reported to users carry their
  sign in the name's docstring: ``trunk_lean_deg`` > 0 is forward flexion,
  ``lateral_lean_deg`` > 0 leans to the runner's right, ``strike_angle_deg`` > 0 is toes up
  at contact (heel first).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Placement(StrEnum):
    """Where a sensor is worn."""

    LOWER_BACK = "lower_back"
    LEFT_FOOT = "left_foot"
    RIGHT_FOOT = "right_foot"
    PHONE = "phone"


class PhoneWear(StrEnum):
    """Where a phone is carried; it changes which signals are usable."""

    POCKET = "pocket"
    ARMBAND = "armband"
    WAIST = "waist"
    HAND = "hand"


class Side(StrEnum):
    """Body side of a step or foot."""

    LEFT = "left"
    RIGHT = "right"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """Identity of one sensor stream within a session.

    ``sensor_id`` is unique within a session (for example ``"alice/lower_back"``).
    Ranges are the configured full scale, used to flag saturation; ``None`` if unknown.
    """

    sensor_id: str
    runner: str
    placement: Placement
    sampling_rate_hz: float
    device: str = "unknown"
    address: str | None = None
    has_gyro: bool = True
    has_mag: bool = False
    acc_range_g: float | None = None
    gyr_range_dps: float | None = None
    phone_wear: PhoneWear | None = None

    def __post_init__(self) -> None:
        if self.sampling_rate_hz <= 0:
            raise ValueError(f"{self.sensor_id}: sampling_rate_hz must be > 0")
        if (self.placement is Placement.PHONE) != (self.phone_wear is not None):
            raise ValueError(f"{self.sensor_id}: phone_wear is required for phones and only for phones")


@dataclass(frozen=True, slots=True)
class RunnerInfo:
    """A runner in a session. ``body_mass_kg`` turns accelerations into loads when known."""

    name: str
    body_mass_kg: float | None = None
    shoe: str | None = None
