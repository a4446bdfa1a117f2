"""Offline analysis: the exact live per-runner stages, run over a finite item sequence."""

from __future__ import annotations

from collections.abc import Iterable

from sensorkit.dsp.chain import DspSettings
from sensorkit.metrics.runner import RunnerMetrics
from sensorkit.metrics.settings import MetricsSettings
from sensorkit.model import Record, SessionInfo, SourceItem


def analyze_items(info: SessionInfo, items: Iterable[SourceItem], settings: MetricsSettings | None = None,
                  dsp: DspSettings | None = None) -> list[Record]:
    """Every record the live pipeline's metrics stage would make from ``items``, all runners.

    Items of sensors not in ``info`` are ignored; records come in processing order (per runner
    interleaved as the items arrive).
    """
    stages = {r.name: RunnerMetrics(r, info.sensors_of(r.name), settings, dsp) for r in info.runners}
    runner_of = {s.sensor_id: s.runner for s in info.sensors}
    out: list[Record] = []
    for item in items:
        runner = runner_of.get(getattr(item, "sensor_id", ""))
        if runner is None or runner not in stages:
            continue
        out.extend(stages[runner].update(item))
    for stage in stages.values():
        out.extend(stage.finish())
    return out
