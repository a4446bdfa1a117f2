"""Small measuring helpers shared by the performance benchmarks (CPU pinning, CPU time, RSS, load)."""

from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def pin_to_one_core(core: int | None = None) -> int:
    """Pin this process (and threads it starts later) to one CPU; returns the CPU number.

    Default: the highest-numbered CPU we may use (CPU 0 tends to take more interrupts).
    """
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[-1] if core is None else core
    os.sched_setaffinity(0, {cpu})
    return cpu


def cpu_s() -> float:
    """CPU seconds of this process, all threads (user + system)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    """Resident set size now (MB), from /proc (ru_maxrss is only the peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def load_avg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


@dataclass(slots=True)
class Clock:
    """Wall and CPU time since construction."""

    wall0: float = 0.0
    cpu0: float = 0.0

    def __post_init__(self) -> None:
        self.wall0 = time.perf_counter()
        self.cpu0 = cpu_s()

    def wall(self) -> float:
        return time.perf_counter() - self.wall0

    def cpu(self) -> float:
        return cpu_s() - self.cpu0


def percentiles_ms(values_s: Any, qs: tuple[float, ...] = (50, 90, 99, 100)) -> dict[str, float | int]:
    """``{"n", "p50_ms", ...}`` of seconds given in ``values_s`` (max as ``max_ms``)."""
    a = np.asarray(values_s, dtype=float)
    out: dict[str, float | int] = {"n": int(a.size)}
    if a.size == 0:
        return out
    for q in qs:
        key = "max_ms" if q == 100 else f"p{q:g}_ms"
        out[key] = round(float(np.percentile(a, q)) * 1e3, 3)
    return out


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            "load_avg": load_avg()}


def write_json(path: Path, data: dict[str, Any]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=_default) + "\n")


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)
