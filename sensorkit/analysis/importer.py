"""Turn any supported input (generic CSV, phone app export) into a sensorkit recording.

Once imported, a session replays, analyses, exports and counts in the training history like
one recorded live. The live stages run while writing (unless ``metrics=False``), so the
recording holds the same record tables a live run would have written, and the processing
settings are stored with it, so ``sensorkit replay`` reproduces those records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import sensorkit
from sensorkit.alerts import AlertsSettings
from sensorkit.analysis.inputs import InputOptions, Kind, open_input
from sensorkit.analysis.session import StageSettings, build_stages
from sensorkit.errors import InputFileError
from sensorkit.metrics import MetricsSettings
from sensorkit.model import SampleBlock
from sensorkit.pipeline.session import run_stages
from sensorkit.store.recording import RecordingWriter


@dataclass(frozen=True, slots=True)
class ImportResult:
    path: Path
    kind: Kind
    samples: int
    records: int
    duration_s: float


def import_recording(source: str | Path, out: str | Path, options: InputOptions | None = None,
                     settings: StageSettings | None = None, *, metrics: bool = True,
                     overwrite: bool = False) -> ImportResult:
    """Write ``source`` as the recording ``out`` (a ``NAME.skrec`` directory)."""
    inp = open_input(source, options)
    if inp.kind == "recording":
        raise InputFileError(str(source), "already a sensorkit recording")
    s = settings or StageSettings()
    info = dataclasses.replace(inp.info, software_version=sensorkit.__version__,
                               notes={**inp.info.notes, "imported_from": str(source), "import_kind": inp.kind})
    config = ({"metrics": (s.metrics or MetricsSettings()).model_dump(mode="json"),
               "alerts": (s.alerts or AlertsSettings()).model_dump(mode="json")} if metrics else None)
    stages = build_stages(info, s) if metrics else {}
    runner_of = {x.sensor_id: x.runner for x in info.sensors}
    samples = records = 0
    first = last = None
    with RecordingWriter(out, info, config=config, overwrite=overwrite, auto_flush=False) as writer:
        for item in inp.items():
            if isinstance(item, SampleBlock) and len(item):
                samples += len(item)
                first = float(item.time_s[0]) if first is None else first
                last = float(item.time_s[-1])
            runner = runner_of.get(getattr(item, "sensor_id", ""))
            made = run_stages(stages[runner], item) if runner in stages else [item]
            writer.write_many(made)
            records += len(made) - 1
            if writer.pending_bytes > 8 << 20:
                writer.flush()
        for runner_stages in stages.values():
            made = run_stages(runner_stages, None)
            writer.write_many(made)
            records += len(made)
    duration = 0.0 if first is None or last is None else last - first
    return ImportResult(Path(out), inp.kind, samples, records, duration)
