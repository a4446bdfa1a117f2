"""What the dashboard shows, kept as the latest value per runner plus short ring buffers.

Fed from two places that speak the same fields: pipeline records in a local session
(:meth:`DashboardState.observe`) and MQTT payloads in team mode (``sensorkit.dashboard.team``).
Every change bumps one version counter, so the broadcaster can send each browser only what
changed since its last tick (:meth:`delta`) and a new browser everything (:meth:`snapshot`).
Memory is bounded: history by data time and a hard point cap, cues by count, runners by count.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sensorkit.dashboard.settings import DashboardSettings
from sensorkit.model import (
    Cue,
    FatigueState,
    MarkerKind,
    PostureSample,
    RollingMetrics,
    SensorHealth,
    SessionMarker,
    StepMetrics,
    to_row,
)

SERIES: tuple[str, ...] = ("cadence_spm", "contact_time_ms", "impact_g", "trunk_lean_deg", "fatigue_score")
"""Chart series per runner, in the order of a history row after its time."""

TILE_FIELDS: tuple[str, ...] = (
    "cadence_spm", "contact_time_ms", "flight_time_ms", "duty_factor", "impact_g", "loading_rate_gps",
    "vertical_oscillation_cm", "trunk_lean_deg", "lateral_lean_deg", "balance_left_pct", "rearfoot_pct",
    "midfoot_pct", "forefoot_pct", "speed_mps", "distance_m", "steps", "window_s", "moving",
)
"""RollingMetrics fields shown on tiles and in the detail view (MQTT metrics carry the same)."""

SENSOR_FIELDS: tuple[str, ...] = (
    "sensor_id", "placement", "connected", "packets", "samples", "lost_samples", "gaps", "reconnects",
    "decode_errors", "queue_drops", "battery_pct", "clock_residual_ms",
)
MAX_TEXT = 200
MAX_SENSORS_PER_RUNNER = 16
MAX_COMPONENTS = 16


def _num(v: Any, digits: int = 2) -> Any:
    """JSON-friendly numbers: rounded floats, None for NaN/inf (JSON has neither)."""
    if isinstance(v, bool) or v is None or isinstance(v, int | str):
        return v
    if isinstance(v, float):
        return round(v, digits) if math.isfinite(v) else None
    return v


@dataclass(slots=True)
class RunnerState:
    """One runner's latest values; ``v_*`` are the versions at which each part last changed."""

    name: str
    metrics: dict[str, Any] = field(default_factory=dict)
    lean_deg: float | None = None
    strike: str | None = None
    fatigue: dict[str, Any] | None = None
    unix_s: float | None = None
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: list[dict[str, Any]] = field(default_factory=list)
    gateway: str = ""
    online: bool = True
    stopped: bool = False
    last_cue: dict[str, Any] | None = None
    cues: int = 0
    history: dict[int, list[Any]] = field(default_factory=dict)
    """Whole data-time seconds (unix) -> [version, *SERIES values]."""
    v_tile: int = 0
    v_sensors: int = 0


class DashboardState:
    """The dashboard's model; synchronous and cheap per update (it runs on the event loop)."""

    def __init__(self, settings: DashboardSettings | None = None, *, title: str = "sensorkit",
                 mode: str = "local", system: Callable[[], dict[str, Any]] | None = None) -> None:
        self.settings = s = settings or DashboardSettings()
        self.title = title
        self.mode = mode
        self.version = 0
        self.runners: dict[str, RunnerState] = {}
        self.cues: collections.deque[dict[str, Any]] = collections.deque(maxlen=s.cue_feed_size)
        self.ignored_runners = 0
        self._ignored_names: set[str] = set()
        self._max_points = int(s.history_s * 4)
        self._system = system
        self.extra_status: dict[str, Any] = {}
        """Status of whatever feeds the state (the MQTT subscriber adds its counters here)."""

    # -- changes -------------------------------------------------------------------------------

    def _bump(self) -> int:
        self.version += 1
        return self.version

    def runner(self, name: str) -> RunnerState | None:
        """The runner's state, created on first sight unless ``max_runners`` are shown already."""
        r = self.runners.get(name)
        if r is None:
            if len(self.runners) >= self.settings.max_runners:
                if name not in self._ignored_names and len(self._ignored_names) < 10_000:
                    self._ignored_names.add(name)
                    self.ignored_runners = len(self._ignored_names)
                return None
            r = self.runners[name] = RunnerState(name)
        return r

    def _touch(self, r: RunnerState, unix_s: float | None) -> None:
        r.v_tile = self._bump()
        if unix_s is not None and math.isfinite(unix_s) and (r.unix_s is None or unix_s > r.unix_s):
            r.unix_s = unix_s

    def _history(self, r: RunnerState, unix_s: float, values: Mapping[str, Any]) -> None:
        if not math.isfinite(unix_s):
            return
        x = math.floor(unix_s)
        row = r.history.get(x)
        if row is None:
            row = r.history[x] = [0, *([None] * len(SERIES))]
        for i, name in enumerate(SERIES, start=1):
            v = values.get(name)
            if v is not None:
                row[i] = _num(v)
        row[0] = self.version
        newest = r.unix_s if r.unix_s is not None else unix_s
        cutoff = newest - self.settings.history_s
        while r.history:
            first = next(iter(r.history))
            if first >= cutoff and len(r.history) <= self._max_points:
                break
            del r.history[first]

    def metrics(self, runner: str, unix_s: float, row: Mapping[str, Any]) -> None:
        """Rolling metrics (a RollingMetrics row or an MQTT metrics payload)."""
        r = self.runner(runner)
        if r is None:
            return
        r.metrics = {k: _num(row.get(k)) for k in TILE_FIELDS if k in row}
        r.metrics["metrics_unix_s"] = _num(unix_s, 3)
        self._touch(r, unix_s)
        self._history(r, unix_s, row)

    def fatigue_state(self, runner: str, unix_s: float, score: float, baseline_ready: bool,
                      components: Mapping[str, float]) -> None:
        r = self.runner(runner)
        if r is None:
            return
        s = self.settings
        level = ("warmup" if not baseline_ready else "fading" if score >= s.fading_score
                 else "watch" if score >= s.watch_score else "ok")
        comps = dict(list(components.items())[:MAX_COMPONENTS])
        r.fatigue = {"score": _num(score, 1), "baseline_ready": bool(baseline_ready), "level": level,
                     "components": {str(k)[:40]: _num(v, 1) for k, v in comps.items()}}
        self._touch(r, unix_s)
        if baseline_ready:
            self._history(r, unix_s, {"fatigue_score": score})

    def posture(self, runner: str, unix_s: float, lean_deg: float) -> None:
        r = self.runner(runner)
        if r is None:
            return
        r.lean_deg = _num(lean_deg, 1)
        self._touch(r, unix_s)

    def step(self, runner: str, unix_s: float, strike: str) -> None:
        r = self.runner(runner)
        if r is None:
            return
        if strike != r.strike:
            r.strike = strike[:20]
            self._touch(r, unix_s)

    def cue(self, runner: str, unix_s: float, row: Mapping[str, Any]) -> None:
        r = self.runner(runner)
        if r is None:
            return
        v = self._bump()
        cue = {"id": v, "runner": runner, "unix_s": _num(unix_s), "kind": str(row.get("kind", ""))[:40],
               "text": str(row.get("text", ""))[:MAX_TEXT], "priority": row.get("priority"),
               "metric": str(row.get("metric", ""))[:40], "value": _num(row.get("value")),
               "baseline": _num(row.get("baseline"))}
        self.cues.append(cue)
        r.last_cue = cue
        r.cues += 1
        self._touch(r, unix_s)

    def sensor(self, runner: str, row: Mapping[str, Any]) -> None:
        r = self.runner(runner)
        if r is None:
            return
        sid = str(row.get("sensor_id", ""))[:80]
        if sid not in r.sensors and len(r.sensors) >= MAX_SENSORS_PER_RUNNER:
            return
        r.sensors[sid] = {k: _num(row.get(k)) for k in SENSOR_FIELDS} | {"sensor_id": sid}
        r.v_sensors = self._bump()

    def runner_status(self, runner: str, *, online: bool, gateway: str = "", stopped: bool | None = None,
                      queues: list[dict[str, Any]] | None = None) -> None:
        r = self.runner(runner)
        if r is None:
            return
        r.online = online
        r.gateway = gateway[:80] or r.gateway
        if stopped is not None:
            r.stopped = stopped
        if queues is not None:
            self.runner_queues(runner, queues)
        self._touch(r, None)

    def runner_queues(self, runner: str, queues: list[dict[str, Any]]) -> None:
        """The runner's pipeline queues (fill, drops); a change is sent with the sensors."""
        r = self.runners.get(runner)
        if r is None:
            return
        rows = [{k: _num(q.get(k)) for k in ("name", "fill", "maxsize", "max_fill", "dropped")} for q in queues[:8]]
        if rows != r.queues:
            r.queues = rows
            r.v_sensors = self._bump()

    # -- local pipeline records ----------------------------------------------------------------

    def observe(self, item: Any, start_unix_s: float) -> None:
        """A pipeline record; ``start_unix_s`` maps its host time to wall time for the charts."""
        runner = getattr(item, "runner", None)
        if runner is None:
            return
        unix_s = start_unix_s + float(getattr(item, "time_s", 0.0))
        if isinstance(item, RollingMetrics):
            self.metrics(runner, unix_s, to_row(item))
        elif isinstance(item, PostureSample):
            self.posture(runner, unix_s, item.trunk_lean_deg)
        elif isinstance(item, FatigueState):
            self.fatigue_state(runner, unix_s, item.score, item.baseline_ready, item.components)
        elif isinstance(item, StepMetrics):
            self.step(runner, unix_s, item.strike_class.value)
        elif isinstance(item, Cue):
            self.cue(runner, unix_s, to_row(item))
        elif isinstance(item, SensorHealth):
            self.sensor(runner, to_row(item))
        elif isinstance(item, SessionMarker):
            self.runner_status(runner, online=item.kind is MarkerKind.START,
                               stopped=item.kind is MarkerKind.STOP)

    # -- what browsers get ---------------------------------------------------------------------

    def _runner_json(self, r: RunnerState, since: int) -> dict[str, Any]:
        out: dict[str, Any] = {"name": r.name, "gateway": r.gateway, "online": r.online, "stopped": r.stopped,
                               "cues": r.cues, "unix_s": _num(r.unix_s),
                               "tile": {**r.metrics, "live_lean_deg": r.lean_deg, "strike": r.strike,
                                        "fatigue": r.fatigue, "last_cue": r.last_cue}}
        if r.v_sensors > since:
            out["sensors"] = list(r.sensors.values())
            out["queues"] = r.queues
        rows = sorted(self._rows_since(r, since))
        if rows:
            out["history"] = [[x, *row[1:]] for x, row in rows]
        return out

    @staticmethod
    def _rows_since(r: RunnerState, since: int) -> list[tuple[int, list[Any]]]:
        """History rows changed after ``since``, scanning back from the newest.

        Rows are filed in data-time order and only the last few seconds are ever revised
        (fatigue lands just after the metrics of the same second), so the scan stops after a
        run of unchanged rows instead of walking the whole window every tick.
        """
        if since < 0:
            return list(r.history.items())
        out: list[tuple[int, list[Any]]] = []
        unchanged = 0
        for x in reversed(r.history):
            row = r.history[x]
            if row[0] > since:
                out.append((x, row))
                unchanged = 0
            else:
                unchanged += 1
                if unchanged >= 16:
                    break
        return out

    def system(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ignored_runners": self.ignored_runners, **self.extra_status}
        if self._system is not None:
            out |= self._system()
        return out

    def snapshot(self) -> dict[str, Any]:
        s = self.settings
        return {"type": "snapshot", "version": self.version, "title": self.title, "mode": self.mode,
                "config": {"history_s": s.history_s, "update_hz": s.update_hz, "stale_after_s": s.stale_after_s,
                           "watch_score": s.watch_score, "fading_score": s.fading_score,
                           "cue_feed_size": s.cue_feed_size, "series": list(SERIES)},
                "runners": [self._runner_json(r, -1) for r in self.runners.values()],
                "cues": list(self.cues), "system": self.system()}

    def delta(self, since: int, *, with_system: bool) -> dict[str, Any] | None:
        """What changed after version ``since``; None when nothing did (and no system news is due)."""
        runners = [self._runner_json(r, since) for r in self.runners.values() if max(r.v_tile, r.v_sensors) > since]
        cues = [c for c in self.cues if c["id"] > since]
        if not runners and not cues and not with_system:
            return None
        out: dict[str, Any] = {"type": "update", "version": self.version, "runners": runners, "cues": cues}
        if with_system:
            out["system"] = self.system()
        return out
