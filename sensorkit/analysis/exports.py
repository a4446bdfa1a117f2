"""What ``sensorkit export --csv/--parquet/--fit`` writes (targets in :mod:`.export_targets`).

Exports take what the recording holds: its raw samples and the records the live run (or
the import) computed. A recording without records (recorded with metrics off) is analysed
first with the live stages. CSV samples use the generic import contract's columns, so an
exported sensor re-imports as it was.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from sensorkit.analysis.columns import arrow_table, columns
from sensorkit.analysis.outputs import write_parquet
from sensorkit.analysis.session import RunnerData, analyze_path
from sensorkit.errors import ConfigError
from sensorkit.metrics.files import write_events_csv, write_steps_csv
from sensorkit.model import (
    RECORD_NAMES,
    Cue,
    FatigueState,
    PostureSample,
    RollingMetrics,
    SpeedSample,
    StepMetrics,
)
from sensorkit.store.recording import RecordingReader

_AXES = {"acc_g": ("ax_g", "ay_g", "az_g"), "gyr_dps": ("gx_dps", "gy_dps", "gz_dps"),
         "mag_ut": ("mx_ut", "my_ut", "mz_ut")}


def safe_name(sensor_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in sensor_id)


def samples_table(reader: RecordingReader, sensor_id: str) -> pa.Table:
    """One sensor's samples with the CSV contract's column names (``time_s, ax_g, ...``)."""
    block = reader.samples(sensor_id)
    cols: dict[str, Any] = {"time_s": block.time_s}
    for channel, names in _AXES.items():
        arr = getattr(block, channel)
        if arr is not None:
            cols.update({n: arr[:, i] for i, n in enumerate(names)})
    return pa.table(cols)


def session_records(reader: RecordingReader) -> dict[str, list[Any]]:
    """Records by table name: as recorded, or from the live stages if the recording has no steps."""
    recorded = {name: reader.records(name) for name in RECORD_NAMES.values() if name in reader.tables}
    if recorded.get("steps"):
        return recorded
    analysis = analyze_path(str(reader.path))
    out: dict[str, list[Any]] = {name: [] for name in RECORD_NAMES.values()}
    for r in analysis.records:
        out[RECORD_NAMES[type(r)]].append(r)
    for name in ("health", "gaps", "speed", "markers"):
        out[name] = recorded.get(name, [])
    return out


def record_tables(records: dict[str, list[Any]]) -> dict[str, pa.Table]:
    """Every non-empty record table as Arrow, by its stable name."""
    types = {name: cls for cls, name in RECORD_NAMES.items()}
    return {name: arrow_table(recs, types[name]) for name, recs in records.items() if recs}


def runner_data(reader: RecordingReader, runner: str) -> RunnerData:
    """A runner's recorded records as columns; analysed afresh if the recording has none."""
    def recorded(cls: type) -> list[Any]:
        name = RECORD_NAMES[cls]
        if name not in reader.tables:
            return []
        return [r for r in reader.records(name) if getattr(r, "runner", None) == runner]

    steps = recorded(StepMetrics)
    if not steps:
        return analyze_path(str(reader.path)).runner(runner)
    sensors = {s.sensor_id for s in reader.info.sensors_of(runner)}
    speed = [s for s in reader.speed() if s.sensor_id in sensors]
    shoe = next((r.shoe for r in reader.info.runners if r.name == runner), None)
    cues = [c for c in recorded(Cue) if isinstance(c, Cue)]
    return RunnerData(runner, shoe, columns(steps, StepMetrics), columns(recorded(RollingMetrics), RollingMetrics),
                      columns(recorded(PostureSample), PostureSample), columns(recorded(FatigueState), FatigueState),
                      cues, steps, columns(speed, SpeedSample))


def sample_span(reader: RecordingReader, sensor_ids: list[str]) -> tuple[float, float]:
    """Host times of the first and last sample over ``sensor_ids``."""
    first, last = math.inf, -math.inf
    for sid in sensor_ids:
        n = reader.sample_count(sid) if sid in reader.sensor_ids else 0
        if n:
            t = reader.raw(sid)["time_s"]
            first, last = min(first, float(t[0])), max(last, float(t[n - 1]))
    return first, last


def _plain_csv() -> pacsv.WriteOptions:
    """Numbers only: no quotes, header included (``quoting_header`` needs a recent pyarrow)."""
    try:
        return pacsv.WriteOptions(quoting_style="none", quoting_header="none")
    except TypeError:
        return pacsv.WriteOptions(quoting_style="none")


def export_csv(reader: RecordingReader, out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    for sid in reader.sensor_ids:
        pacsv.write_csv(samples_table(reader, sid), out_dir / f"{safe_name(sid)}.samples.csv", _plain_csv())
        n += 1
    records = session_records(reader)
    steps = records.get("steps", [])
    write_steps_csv(steps, out_dir / "steps.csv")
    write_events_csv(records.get("events", []), out_dir / "events.csv")
    for name, table in record_tables(records).items():
        pacsv.write_csv(table, out_dir / f"{name}.records.csv")
        n += 1
    return f"{n + 2} files in {out_dir} ({len(steps)} steps)"


def export_parquet(reader: RecordingReader, out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    for sid in reader.sensor_ids:
        write_parquet(samples_table(reader, sid), out_dir / f"{safe_name(sid)}.samples.parquet")
        n += 1
    for name, table in record_tables(session_records(reader)).items():
        write_parquet(table, out_dir / f"{name}.parquet")
        n += 1
    return f"{n} files in {out_dir}"


def export_fit(reader: RecordingReader, path: Path, *, runner: str | None = None,
               start_unix_s: float | None = None) -> list[Path]:
    """One FIT activity per runner (``path``, or ``path-<runner>.fit`` for several)."""
    from sensorkit.analysis.fit import activity_from, write_fit

    names = [r.name for r in reader.info.runners]
    if runner is not None:
        if runner not in names:
            raise ConfigError(f"--fit-runner {runner!r}: the recording has {', '.join(names)}")
        names = [runner]
    start = reader.info.start_unix_s if start_unix_s is None else start_unix_s
    out = []
    for name in names:
        data = runner_data(reader, name)
        first, last = sample_span(reader, [s.sensor_id for s in reader.info.sensors_of(name)])
        activity = activity_from(data, start, first, last)
        target = path if len(names) == 1 else path.with_name(f"{path.stem}-{safe_name(name)}{path.suffix}")
        out.append(write_fit(activity, target))
    return out
