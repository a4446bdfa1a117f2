"""Graceful stop on Ctrl-C and SIGTERM: the first asks the session to drain and flush, the second forces."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def run_with_signals(main: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run ``main(stop)``; SIGINT/SIGTERM set ``stop`` once, and cancel ``main`` the second time.

    A forced stop raises KeyboardInterrupt, which the command line turns into exit code 130.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.ensure_future(main(stop))
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            log.warning("%s: stopping, flushing recordings and sinks (send again to force)",
                        signal.Signals(signum).name)
            stop.set()
        else:
            log.error("%s again: forcing stop; the recording keeps what was flushed",
                      signal.Signals(signum).name)
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on the main thread / Windows
            pass
    try:
        return await task
    except asyncio.CancelledError:
        if signals_seen > 1 and task.cancelled():
            # Forced by a second signal: exit like an interrupt (code 130), not with a traceback.
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
