"""Fewer event-loop wake-ups: a live loop polls for new events at most once per quantum.

Every pod's packet wakes the event loop: a BLE notification, or a simulated pod's timer. Pods
on independent connections spread those over the 40-ms packet interval, so 55 runners (165
pods) woke the loop ~1000 times a second, each time for one pod's 8 samples. On the 2-core VM a
wake-up from idle cost ~130 us of CPU beyond the work it did (the same session run on a virtual
clock, which never sleeps, cost 2.2x less CPU): caches and the core's idle state, not Python.
Holding each poll until ``quantum_s`` after the previous one handles everything that arrived
in the meantime in one wake-up. The price is up to ``quantum_s`` more delay per sample, which
the latency budget (50 ms beyond the algorithms' look-ahead) has to carry.

Ready callbacks never wait: the loop asks for a zero timeout then, and gets it at once.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable


class CoalescingSelector(selectors.DefaultSelector):
    """The platform's selector, sleeping out the rest of the quantum before a blocking poll."""

    def __init__(self, quantum_s: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if quantum_s < 0:
            raise ValueError("quantum_s must be >= 0")
        super().__init__()
        self.quantum_s = quantum_s
        self._clock = clock
        self._sleep = sleep
        self._last_wake_s = -float("inf")
        self.held = 0
        """Blocking polls that first slept out the rest of a quantum (how often coalescing applied)."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0:  # ready callbacks: never wait
            return super().select(timeout)
        hold_s = self._last_wake_s + self.quantum_s - self._clock()
        if hold_s > 0:
            self.held += 1
            self._sleep(hold_s)
            ready = super().select(0)
            if ready or (timeout is not None and timeout <= hold_s):  # events, or a timer now due
                self._last_wake_s = self._clock()
                return ready
            timeout = None if timeout is None else timeout - hold_s
        ready = super().select(timeout)
        self._last_wake_s = self._clock()
        return ready


def loop_factory(quantum_s: float) -> Callable[[], asyncio.AbstractEventLoop]:
    """A factory for :class:`asyncio.Runner`: the default loop, or one that coalesces wake-ups."""
    if quantum_s <= 0:
        return asyncio.new_event_loop
    return lambda: asyncio.SelectorEventLoop(CoalescingSelector(quantum_s))
