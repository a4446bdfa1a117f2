"""Short garbage-collector pauses for a process that runs one live session.

A full (generation 2) collection walks every object the collector tracks. After start-up that
is every object numpy, scipy, aiohttp and pydantic made at import, hundreds of thousands that
live as long as the process, and each full collection stopped the event loop for 60-75 ms at
30 runners (``bench/live_capacity.py``): more than the whole 50 ms latency budget, all at once.
Freezing them once the session is assembled moves them to a permanent generation the collector
never walks again; objects made while running are collected as before (full collections then
took ~17 ms).

Only for a process that runs one session (the CLI, the capacity bench): frozen objects that
later become cyclic garbage are never freed, which a test suite building many sessions in one
process would notice.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect start-up garbage, then freeze what is left; returns the number of frozen objects."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
