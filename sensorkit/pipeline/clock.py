"""The session's host timeline: seconds since session start on the monotonic clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class HostClock:
    """Maps the monotonic clock to the host timeline (0 = session start) and to wall time.

    Live sources stamp arrivals with ``now_s()``; wall time is only for display and storage.
    """

    start_monotonic_s: float = field(default_factory=time.monotonic)
    start_unix_s: float = field(default_factory=time.time)

    def now_s(self) -> float:
        return time.monotonic() - self.start_monotonic_s

    def to_unix_s(self, time_s: float) -> float:
        return self.start_unix_s + time_s
