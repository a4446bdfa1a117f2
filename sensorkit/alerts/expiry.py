"""When is a cue too old to deliver? "Now" on the host timeline, live or replayed.

Cue expiry is data time. Live, "now" is the host clock; in a replay or an accelerated
simulation the host clock means nothing to the data, so "now" is the newest data time the
sink has seen. With both, the later wins: a stalled source cannot make a stale cue look fresh.
"""

from __future__ import annotations

import math
from collections.abc import Callable


class CueClock:
    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._seen_s = -math.inf

    @property
    def live(self) -> bool:
        return self._clock is not None

    def see(self, time_s: float) -> None:
        """Note the data time of an item that reached the sink."""
        if time_s > self._seen_s:
            self._seen_s = time_s

    def now_s(self) -> float:
        host = self._clock() if self._clock is not None else -math.inf
        return max(host, self._seen_s)

    def host_s(self) -> float | None:
        """Host-clock time for latency accounting (None when not live)."""
        return self._clock() if self._clock is not None else None
