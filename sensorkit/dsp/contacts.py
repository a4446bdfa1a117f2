"""What the step detectors report: one ground contact seen by one sensor."""

from __future__ import annotations

from dataclasses import dataclass

from sensorkit.model import Side


@dataclass(slots=True)
class Contact:
    """One foot contact from one sensor, in host time; treat as immutable.

    Not a frozen dataclass only for speed: a frozen one sets each of its ten fields through
    ``object.__setattr__`` (~17 k instructions a contact against ~5 k), and a detector makes one
    per step.

    ``next_ic_s`` is the next initial contact seen by the same sensor when it is known (the
    lower back sees every step, a shoe only its own foot). Fields a placement cannot measure are
    ``None``.
    """

    ic_s: float
    tc_s: float | None
    side: Side
    next_ic_s: float | None = None
    impact_g: float | None = None
    """Peak acceleration at the sensor after touchdown (g)."""
    loading_rate_gps: float | None = None
    """Slope between 20 % and 80 % of the rise to the impact peak (g/s)."""
    saturated: bool = False
    """The impact window touched the sensor's full scale: impact and loading rate are floors."""
    strike_angle_deg: float | None = None
    """Foot pitch at touchdown relative to foot-flat, > 0 toes up (heel first)."""
    vertical_oscillation_cm: float | None = None
    """Peak-to-peak vertical excursion of the pod over this step (lower back)."""
    side_confidence: float = 0.0
    """0..1, how sure the detector is about ``side`` (1 for a shoe pod)."""
    announced_only: bool = False
    """Not a contact: an IC the detector announced as open (final) whose stance was then
    rejected or cut by a gap. Fusion may already have ended a step there, so it stays a
    boundary for the steps around it (block invariance), but is no step itself."""
