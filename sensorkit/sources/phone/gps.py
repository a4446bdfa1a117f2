"""Phone GPS fixes -> speed and cumulative distance, with implausible fixes rejected.

Running GPS is noisy: a fix can jump tens of metres (urban canyon, first fix, tunnel exit).
A fix is rejected when its reported accuracy is poor or when reaching it would need a speed
no runner reaches; rejected fixes do not move the track, so one bad fix costs one fix, not a
phantom kilometre. The phone's own Doppler speed is preferred over position differences
when the app reports it: it is far less noisy at running speeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sensorkit.model import SpeedSample
from sensorkit.sources.phone.batch import GpsFix

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), m."""


def haversine_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance in metres (error < 0.5 % anywhere, far below GPS noise)."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp = p2 - p1
    dl = math.radians(lon2_deg - lon1_deg)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class GpsSettings:
    """Plausibility limits for running."""

    max_speed_mps: float = 12.0
    """Faster than any runner (43 km/h): a fix needing more is a jump, not running."""
    max_accuracy_m: float = 30.0
    """Fixes whose reported horizontal accuracy is worse than this are ignored."""
    min_move_m: float = 0.0
    """Moves shorter than this are not added to the distance (0 keeps every move)."""
    reanchor_after: int = 5
    """After this many consecutive too-fast fixes the track restarts at the newest fix (the
    earlier anchor was the bad one); no distance is added for the jump."""


class GpsTrack:
    """Turns a phone's fixes (host times already aligned) into :class:`SpeedSample`."""

    def __init__(self, sensor_id: str, settings: GpsSettings | None = None) -> None:
        self.sensor_id = sensor_id
        self.settings = settings or GpsSettings()
        self.distance_m = 0.0
        self.accepted = 0
        self.rejected = 0
        self._last: tuple[float, float, float] | None = None  # (time_s, lat, lon)
        self._too_fast = 0

    def update(self, fix: GpsFix, time_s: float) -> SpeedSample | None:
        """Speed sample for one fix at host time ``time_s``, or None if the fix was rejected."""
        s = self.settings
        lat, lon = fix.latitude_deg, fix.longitude_deg
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180) \
                or (lat == 0.0 and lon == 0.0):
            self.rejected += 1
            return None
        if fix.accuracy_m is not None and fix.accuracy_m > s.max_accuracy_m:
            self.rejected += 1
            return None
        speed = fix.speed_mps if fix.speed_mps is not None and 0 <= fix.speed_mps <= s.max_speed_mps else None
        if self._last is not None:
            t0, lat0, lon0 = self._last
            dt = time_s - t0
            if dt <= 0:
                self.rejected += 1  # duplicate or out of order: the track only moves forward
                return None
            d = haversine_m(lat0, lon0, lat, lon)
            if d / dt > s.max_speed_mps:
                self.rejected += 1
                self._too_fast += 1
                if self._too_fast >= s.reanchor_after:
                    self._last = (time_s, lat, lon)
                    self._too_fast = 0
                return None
            self._too_fast = 0
            if d >= s.min_move_m:
                self.distance_m += d
            if speed is None:
                speed = d / dt
        self._last = (time_s, lat, lon)
        self.accepted += 1
        return SpeedSample(self.sensor_id, time_s, speed, distance_m=self.distance_m, source="gps")
