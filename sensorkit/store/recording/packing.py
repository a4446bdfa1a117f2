"""Packing buffered bus items into whole on-disk records (binary samples, CSV rows, order entries)."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
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


def pack_streams(pending: list[tuple[StreamFile, list[SampleBlock]]]) -> list[tuple[StreamFile, Chunk]]:
    """Each stream's blocks as one contiguous run of fixed-size records (missing optional channels NaN).

    Streams of one record layout are packed together, a handful of numpy calls per channel for
    the whole batch rather than per stream: a flush carries a few blocks of every pod, and the
    flush thread holds the GIL between numpy calls.
    """
    groups: dict[np.dtype, list[tuple[StreamFile, list[SampleBlock]]]] = {}
    for stream, blocks in pending:
        groups.setdefault(stream.dtype, []).append((stream, blocks))
    out: list[tuple[StreamFile, Chunk]] = []
    for dtype, members in groups.items():
        blocks = [b for _, bs in members for b in bs]
        times = [b.time_s for b in blocks]
        records = np.empty(sum(map(len, times)), dtype)
        np.concatenate(times, out=records["time_s"])
        for ch in members[0][0].channels:  # the same for every stream of this dtype
            parts = [v if (v := getattr(b, ch)) is not None else np.full((len(b), 3), np.nan) for b in blocks]
            arr = np.concatenate(parts)
            for i, col in enumerate(channel_columns(ch)):
                records[col] = arr[:, i]
        time_s = records["time_s"]
        start = 0
        for stream, bs in members:
            stop = start + sum(len(b.time_s) for b in bs)
            out.append((stream, Chunk(records[start:stop].tobytes(), stop - start,
                                      float(time_s[start]), float(time_s[stop - 1]))))
            start = stop
    return out


def pack_order(entries: list[tuple[int, int, int, int]]) -> Chunk:
    return Chunk(np.array(entries, dtype=ORDER_DTYPE).tobytes(), len(entries))


def pack_rows(records: list[Any]) -> Chunk:
    """CSV rows of one table, cell for cell what ``csv.writer`` makes of ``encode_cell(to_row(r))``.

    Built column by column (C-level ``map``/``join`` instead of Python calls per cell): the flush
    thread holds the GIL while it formats, and the event loop waits for it.
    """
    cols = _encoded_columns(records)
    if cols is None:
        rows: Iterable[Sequence[str]] = ([encode_cell(v) for v in to_row(r).values()] for r in records)
    else:
        rows = list(zip(*cols, strict=True))
        text = "\n".join(map(",".join, rows))
        # csv quotes a cell holding a delimiter, quote or line break; with none of them anywhere
        # (every comma accounted for by the columns) its output is the plain join
        if (text.count(",") == len(rows) * (len(cols) - 1) and text.count("\n") == len(rows) - 1
                and '"' not in text and "\r" not in text):
            return Chunk((text + "\n").encode(), len(records))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return Chunk(buf.getvalue().encode(), len(records))


@functools.cache
def _fields(cls: type) -> tuple[list[str], Callable[[Any], tuple[Any, ...]]] | None:
    """Field names of a record dataclass (``to_row``'s order) and a getter of all values at once.

    None below two fields: ``attrgetter`` of one name returns the bare value, not a tuple.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    return (names, operator.attrgetter(*names)) if len(names) > 1 else None


_NONE = type(None)
_FLOATISH = frozenset((float, _NONE))
_BOOL_CELLS = {True: "true", False: "false"}


def _encoded_columns(records: list[Any]) -> list[Sequence[str]] | None:
    """The table's cells by column, or None unless the records are all of one dataclass type."""
    types = set(map(type, records))
    if len(types) != 1:
        return None
    cls = types.pop()
    fields = _fields(cls) if dataclasses.is_dataclass(cls) else None
    if fields is None:
        return None
    names, getter = fields
    row_dicts: list[dict[str, Any]] | None = None
    out: list[Sequence[str]] = []
    for name, col in zip(names, zip(*map(getter, records), strict=True), strict=True):
        cells = _simple_cells(col)
        if cells is None:  # numpy scalars, dicts, tuples, mixed types: to_row's own conversion
            if row_dicts is None:
                row_dicts = [to_row(r) for r in records]
            cells = [encode_cell(d[name]) for d in row_dicts]
        out.append(cells)
    return out


def _simple_cells(col: tuple[Any, ...]) -> Sequence[str] | None:
    """``encode_cell`` of every value of a column of plain values, without a Python call per cell.

    Plain: Python floats and None, or all str, all bool, all int, or all members of one Enum.
    None for anything else.
    """
    types = set(map(type, col))
    if types <= _FLOATISH:
        if _NONE in types:
            cells = ["" if v is None else float.__repr__(v) for v in col]
        else:
            cells = list(map(float.__repr__, col))
        if "nan" in cells:  # repr spells inf and -inf as encode_cell does, but NaN "nan"
            cells = ["NaN" if c == "nan" else c for c in cells]
        return cells
    if len(types) != 1:
        return None
    tp = types.pop()
    if tp is str:
        return col
    if tp is bool:
        return list(map(_BOOL_CELLS.__getitem__, col))
    if tp is int:
        return list(map(int.__repr__, col))
    if issubclass(tp, Enum):
        try:
            return list(map(_enum_cells(tp).__getitem__, col))
        except KeyError:  # a Flag combination: not a listed member
            return None
    return None


@functools.cache
def _enum_cells(cls: type[Enum]) -> dict[Enum, str]:
    """The cell of every member: its value (as ``to_row`` hands it over), encoded."""
    return {m: encode_cell(m.value) for m in cls}
