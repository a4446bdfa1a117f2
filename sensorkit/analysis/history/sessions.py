"""One history entry per runner per recording: date, time, distance, shoe. No DSP re-run.

Recordings already hold the live run's records (steps, speed), so a history of hundreds of
sessions reads in seconds. Only a recording without step records (recorded with metrics
off) is analysed with the live stages.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sensorkit.analysis.history.settings import HistorySettings
from sensorkit.errors import SensorkitError
from sensorkit.model import Placement, SessionInfo
from sensorkit.store.recording import RecordingReader

log = logging.getLogger(__name__)

MAX_STEP_GAP_S = 2.0
"""Steps further apart than this are a stop: the time between does not count as running."""
MIN_UNIX_S = 1e8
"""Start times before 1973 mean "unknown" (CSV imports start at 0)."""


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """A runner's session as the history counts it."""

    path: str
    session_id: str
    runner: str
    start_unix_s: float | None
    """Wall-clock start; None when the input did not record one."""
    duration_s: float
    running_s: float
    distance_m: float | None
    distance_from: str
    """``gps``, ``footpod``, ``estimate`` (steps x step length) or ``none``."""
    shoe: str | None
    steps: int


def find_recordings(directories: Iterable[Path]) -> list[Path]:
    """Every ``*.skrec`` under the folders (sorted; a recording's own subfolders are not searched)."""
    found: list[Path] = []
    for d in directories:
        if d.suffix == ".skrec":
            found.append(d)
            continue
        if not d.is_dir():
            log.warning("history: %s is not a folder; skipped", d)
            continue
        found += [p for p in d.rglob("*.skrec") if p.is_dir() and not any(q.suffix == ".skrec" for q in p.parents)]
    return sorted(set(found))


def running_time_s(step_times: np.ndarray) -> float:
    """Sum of the intervals between consecutive steps, leaving out stops (> MAX_STEP_GAP_S)."""
    t = np.sort(step_times[np.isfinite(step_times)])
    if len(t) < 2:
        return 0.0
    d = np.diff(t)
    return float(d[d <= MAX_STEP_GAP_S].sum())


def distance_from_speed(speed: Mapping[str, np.ndarray]) -> tuple[float | None, str]:
    """Distance from speed readings: their cumulative distance, else integrated speed."""
    if not len(speed.get("time_s", ())):
        return None, "none"
    source = "gps" if np.any(speed["source"] == "gps") else "footpod"
    order = np.argsort(speed["time_s"], kind="stable")
    t, v, d = speed["time_s"][order], speed["speed_mps"][order], speed["distance_m"][order]
    d = d[np.isfinite(d)]
    if len(d) >= 2:
        return float(np.clip(np.diff(d), 0.0, None).sum()), source  # a reset counter restarts at 0
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    if len(t) >= 2:
        dt = np.diff(t)
        keep = dt <= 5.0
        return float(np.sum(dt[keep] * (v[1:] + v[:-1])[keep] / 2.0)), source
    return None, "none"


def _shoe(info: SessionInfo, runner: str, settings: HistorySettings, config_shoes: Mapping[str, str]) -> str | None:
    feet = (Placement.LEFT_FOOT, Placement.RIGHT_FOOT)
    for s in info.sensors_of(runner):
        if s.placement in feet:
            for key in (s.address, s.device, s.sensor_id):
                if key and key in settings.shoe_pods:
                    return settings.shoe_pods[key]
    recorded = next((r.shoe for r in info.runners if r.name == runner), None)
    return recorded or config_shoes.get(runner) or settings.default_shoe


def _by_runner(cols: dict[str, np.ndarray], runner: str) -> dict[str, np.ndarray]:
    if "runner" not in cols or not len(cols["runner"]):
        return {k: v[:0] for k, v in cols.items()}
    keep = cols["runner"] == runner
    return {k: v[keep] for k, v in cols.items()}


def _columns(reader: RecordingReader, table: str) -> dict[str, np.ndarray]:
    return reader.columns(table) if table in reader.tables else {}


def read_entries(path: Path, settings: HistorySettings, config_shoes: Mapping[str, str] | None = None
                 ) -> list[SessionEntry]:
    """The history entries of one recording (one per runner)."""
    with RecordingReader(path) as reader:
        info = reader.info
        steps_all = _columns(reader, "steps")
        speed_all = _columns(reader, "speed")
        analysed: Any = None
        if not len(steps_all.get("time_s", ())):
            from sensorkit.analysis.session import analyze_path

            analysed = analyze_path(str(path))
        out = []
        for r in info.runners:
            sensors = info.sensors_of(r.name)
            if analysed is not None:
                step_t = analysed.runner(r.name).steps["time_s"]
            else:
                step_t = _by_runner(steps_all, r.name).get("time_s", np.empty(0)).astype(np.float64)
            ids = {s.sensor_id for s in sensors}
            speed: dict[str, np.ndarray] = {}
            if speed_all:
                keep = np.isin(speed_all["sensor_id"], list(ids))
                speed = {k: v[keep] for k, v in speed_all.items()}
            dist, how = distance_from_speed(speed)
            if dist is None and len(step_t):
                dist, how = len(step_t) * settings.step_length_m, "estimate"
            first, last = math.inf, -math.inf
            for s in sensors:
                n = reader.sample_count(s.sensor_id) if s.sensor_id in reader.sensor_ids else 0
                if n:
                    t = reader.raw(s.sensor_id)["time_s"]
                    first, last = min(first, float(t[0])), max(last, float(t[n - 1]))
            duration = last - first if math.isfinite(first) else running_time_s(step_t)
            start = info.start_unix_s if info.start_unix_s > MIN_UNIX_S else None
            out.append(SessionEntry(str(path), info.session_id, r.name, start, duration, running_time_s(step_t),
                                    dist, how, _shoe(info, r.name, settings, config_shoes or {}), len(step_t)))
        return out


def scan(settings: HistorySettings, config_shoes: Mapping[str, str] | None = None,
         paths: Iterable[Path] | None = None) -> tuple[list[SessionEntry], list[str]]:
    """Entries of every recording found, and one message per recording that could not be read."""
    entries: list[SessionEntry] = []
    problems: list[str] = []
    for p in find_recordings(paths if paths is not None else settings.directories):
        try:
            entries += read_entries(p, settings, config_shoes)
        except (SensorkitError, OSError, KeyError, ValueError) as exc:
            problems.append(f"{p}: skipped: {exc}")
    entries.sort(key=lambda e: (e.start_unix_s or 0.0, e.path, e.runner))
    return entries, problems
