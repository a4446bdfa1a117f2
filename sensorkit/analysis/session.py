"""One session through the live per-runner stages (metrics, then the cue engine), offline.

The stages are built exactly as :mod:`sensorkit.compose` builds them and run with the
pipeline's own :func:`~sensorkit.pipeline.session.run_stages`, so a report shows the cues and
fatigue score a runner would have got live from the same input. The samples are cut as
``sensorkit analyze`` cuts them (1 s blocks), so per-step numbers equal that command's.
(``sensorkit replay`` re-feeds a recording's exact live blocks instead.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sensorkit.alerts import AlertsSettings, build_cue_engine
from sensorkit.analysis.columns import Columns, columns
from sensorkit.analysis.inputs import InputOptions, Kind, SessionInput, open_input
from sensorkit.metrics import MetricsSettings, RunnerMetrics
from sensorkit.model import (
    Cue,
    FatigueState,
    PostureSample,
    Record,
    RollingMetrics,
    SampleBlock,
    SessionInfo,
    SpeedSample,
    StepEvent,
    StepMetrics,
)
from sensorkit.pipeline.contracts import RecordStage
from sensorkit.pipeline.session import run_stages


@dataclass(frozen=True, slots=True)
class StageSettings:
    """Processing settings: the ``[metrics]`` and ``[alerts]`` sections (defaults if None)."""

    metrics: MetricsSettings | None = None
    alerts: AlertsSettings | None = None


@dataclass(slots=True)
class RunnerData:
    """One runner's records as numpy columns (NaN = unknown)."""

    name: str
    shoe: str | None
    steps: Columns
    rolling: Columns
    posture: Columns
    fatigue: Columns
    cues: list[Cue]
    step_records: list[StepMetrics]
    speed: Columns
    """Speed readings of this runner's sensors (footpod RSC or phone GPS)."""


@dataclass
class SessionAnalysis:
    """Every record the live stages made from one input, plus what the input said about itself."""

    path: str
    kind: Kind
    info: SessionInfo
    records: list[Record] = field(default_factory=list)
    speed: list[SpeedSample] = field(default_factory=list)
    first_s: float = math.nan
    last_s: float = math.nan
    """Host time of the first and last sample (s)."""

    @property
    def runners(self) -> list[str]:
        return [r.name for r in self.info.runners]

    @property
    def duration_s(self) -> float:
        return 0.0 if math.isnan(self.first_s) else self.last_s - self.first_s

    def steps(self, runner: str | None = None) -> list[StepMetrics]:
        return [r for r in self.records if isinstance(r, StepMetrics) and (runner is None or r.runner == runner)]

    def events(self) -> list[StepEvent]:
        return sorted((r for r in self.records if isinstance(r, StepEvent)), key=lambda e: (e.time_s, e.kind))

    def of(self, runner: str, cls: type) -> list[Record]:
        return [r for r in self.records if isinstance(r, cls) and getattr(r, "runner", None) == runner]

    @cached_property
    def _runner_data(self) -> dict[str, RunnerData]:
        sensors = {s.sensor_id: s.runner for s in self.info.sensors}
        out = {}
        for r in self.info.runners:
            steps = [x for x in self.of(r.name, StepMetrics) if isinstance(x, StepMetrics)]
            cues = [x for x in self.of(r.name, Cue) if isinstance(x, Cue)]
            speed = [s for s in self.speed if sensors.get(s.sensor_id) == r.name]
            out[r.name] = RunnerData(
                r.name, r.shoe, columns(steps, StepMetrics), columns(self.of(r.name, RollingMetrics), RollingMetrics),
                columns(self.of(r.name, PostureSample), PostureSample),
                columns(self.of(r.name, FatigueState), FatigueState), cues, steps,
                columns(speed, SpeedSample))
        return out

    def runner(self, name: str) -> RunnerData:
        return self._runner_data[name]


def build_stages(info: SessionInfo, settings: StageSettings | None = None) -> dict[str, list[RecordStage]]:
    """Per-runner stages exactly as the live composition root builds them."""
    s = settings or StageSettings()
    return {r.name: [RunnerMetrics(r, info.sensors_of(r.name), s.metrics), build_cue_engine(r.name, s.alerts)]
            for r in info.runners}


def analyze_input(inp: SessionInput, settings: StageSettings | None = None) -> SessionAnalysis:
    """Run one opened input through the stages; see the module docstring."""
    info = inp.info
    stages = build_stages(info, settings)
    runner_of = {s.sensor_id: s.runner for s in info.sensors}
    result = SessionAnalysis(inp.path, inp.kind, info)
    records, speed = result.records, result.speed
    first, last = math.inf, -math.inf
    for item in inp.items():
        runner = runner_of.get(getattr(item, "sensor_id", ""))
        if runner is None or runner not in stages:
            continue
        if isinstance(item, SampleBlock) and len(item):
            first = min(first, float(item.time_s[0]))
            last = max(last, float(item.time_s[-1]))
        elif isinstance(item, SpeedSample):
            speed.append(item)
        out = run_stages(stages[runner], item)
        records.extend(out[1:])  # type: ignore[arg-type]  # out[0] is the item itself
    for runner_stages in stages.values():
        records.extend(run_stages(runner_stages, None))  # type: ignore[arg-type]
    if math.isfinite(first):
        result.first_s, result.last_s = first, last
    return result


def analyze_path(path: str, options: InputOptions | None = None,
                 settings: StageSettings | None = None) -> SessionAnalysis:
    """Open and analyse one file of any supported kind."""
    return analyze_input(open_input(path, options), settings)


def finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite values of a column."""
    a = np.asarray(values, dtype=np.float64)
    return a[np.isfinite(a)]
