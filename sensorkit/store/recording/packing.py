"""Packing buffered bus items into whole on-disk records (binary samples, CSV rows, order entries)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorkit.model import Gap, SampleBlock, SensorHealth, SpeedSample, to_row
from sensorkit.store.recording.appendfile import AppendFile, Chunk
from sensorkit.store.recording.cells import encode_cell, plain
from sensorkit.store.recording.layout import ORDER_DTYPE, ORDER_GAP, ORDER_HEALTH, ORDER_SPEED, channel_columns

ORDER_KIND: dict[type, int] = {Gap: ORDER_GAP, SpeedSample: ORDER_SPEED, SensorHealth: ORDER_HEALTH}


@dataclass(slots=True)
class StreamFile:
    index: int
    sensor_id: str
    file_name: str
    dtype: np.dtype
    channels: list[str]
    file: AppendFile


@dataclass(slots=True)
class TableFile:
    name: str
    columns: list[str]
    file: AppendFile


@dataclass(slots=True)
class Batch:
    """Buffered items swapped out of the writer, not yet packed (packing happens off-loop)."""

    blocks: dict[str, list[SampleBlock]] = field(default_factory=dict)
    records: dict[str, list[Any]] = field(default_factory=dict)
    order: list[tuple[int, int, int, int]] = field(default_factory=list)
    meta: dict[str, Any] | None = None


def json_safe(v: Any) -> Any:
    """A value ``json.dumps(allow_nan=False)`` accepts: numpy scalars/arrays made plain, NaN/inf None."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    v = plain(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_safe(x) for x in v]
    return v if v is None or isinstance(v, str | int | float | bool) else str(v)


def pack_blocks(blocks: list[SampleBlock], stream: StreamFile) -> Chunk:
    """One contiguous run of fixed-size records; missing optional channels become NaN."""
    n = sum(len(b) for b in blocks)
    out = np.empty(n, stream.dtype)
    out["time_s"] = np.concatenate([b.time_s for b in blocks]) if len(blocks) > 1 else blocks[0].time_s
    for ch in stream.channels:
        parts = [getattr(b, ch) if getattr(b, ch) is not None else np.full((len(b), 3), np.nan)
                 for b in blocks]
        arr = np.concatenate(parts) if len(parts) > 1 else parts[0]
        for i, col in enumerate(channel_columns(ch)):
            out[col] = arr[:, i]
    return Chunk(out.tobytes(), n, float(out["time_s"][0]), float(out["time_s"][-1]))


def pack_order(entries: list[tuple[int, int, int, int]]) -> Chunk:
    return Chunk(np.array(entries, dtype=ORDER_DTYPE).tobytes(), len(entries))


def pack_rows(records: list[Any]) -> Chunk:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(
        [encode_cell(v) for v in to_row(r).values()] for r in records)
    return Chunk(buf.getvalue().encode(), len(records))
