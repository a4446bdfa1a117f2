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

from sensorkit.model import Gap, SampleBlock, SensorHealth, SpeedSample, field_names, to_row
from sensorkit.store.recording.appendfile import AppendFile, Chunk
from sensorkit.store.recording.cells import encode_cell, plain
from sensorkit.store.recording.layout import ORDER_BLOCK, ORDER_GAP, ORDER_HEALTH, ORDER_SPEED, channel_columns


def order_code(kind: int, stream: int = 0, count: int = 1) -> int:
    """One order-log entry as the little-endian 64-bit integer whose bytes are the ``ORDER_DTYPE`` record.

    The loop side appends one int per item (no tuple); the flush thread turns the list into the
    log's bytes, and the block entries into each block's stream and length, in a few numpy calls.
    """
    return kind | stream << 16 | count << 32


ORDER_CODE: dict[type, int] = {Gap: order_code(ORDER_GAP), SpeedSample: order_code(ORDER_SPEED),
                               SensorHealth: order_code(ORDER_HEALTH)}
"""Order-log entry of a source item that goes to a table (the next row of that table)."""


@dataclass(slots=True)
class StreamFile:
    index: int
    sensor_id: str
    file_name: str
    dtype: np.dtype
    channels: list[str]
    file: AppendFile
    block_code: int = field(init=False)
    """``order_code`` of a block of this stream, without its length."""
    record_bytes: int = field(init=False)
    has_gyro: bool = field(init=False)
    has_mag: bool = field(init=False)
    layout: str = field(init=False)
    """The dtype spelled out: a cheap dict key (comparing structured dtypes is not)."""

    def __post_init__(self) -> None:
        self.layout = repr(self.dtype.descr)
        self.block_code = order_code(ORDER_BLOCK, self.index, 0)
        self.record_bytes = self.dtype.itemsize
        self.has_gyro = "gyr_dps" in self.channels
        self.has_mag = "mag_ut" in self.channels


@dataclass(slots=True)
class TableFile:
    name: str
    columns: list[str]
    file: AppendFile


@dataclass(slots=True)
class Batch:
    """Buffered items swapped out of the writer, not yet packed (packing happens off-loop)."""

    blocks: list[SampleBlock] = field(default_factory=list)
    """In arrival order, all streams mixed; ``order`` says which stream each belongs to."""
    records: dict[str, list[Any]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    """``order_code`` of every source item, in arrival order."""
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


def pack_streams(blocks: list[SampleBlock], codes: np.ndarray,
                 streams: Sequence[StreamFile]) -> tuple[list[tuple[StreamFile, Chunk]], float]:
    """Each stream's blocks as one contiguous run of fixed-size records (missing optional channels NaN).

    ``codes`` are the batch's order-log entries (uint64, every item's; the block entries are in
    the same order as ``blocks``), ``streams`` the writer's streams by index. Blocks are grouped
    by stream with one stable argsort, and all streams of one record layout are packed together,
    a few numpy calls per channel for the whole batch: a flush carries a few blocks of every pod,
    and the flush thread holds the GIL between numpy calls. Also returns the latest block end
    (NaN ends ignored; NaN if none).
    """
    codes = codes[(codes & np.uint64(0xFF)) == ORDER_BLOCK]
    sidx = ((codes >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.intp)
    perm = np.argsort(sidx, kind="stable")
    sidx = sidx[perm]
    counts = (codes >> np.uint64(32)).astype(np.intp)[perm]
    ordered = [blocks[i] for i in perm.tolist()]
    starts = np.flatnonzero(np.diff(sidx, prepend=-1)).tolist()
    groups: dict[str, list[tuple[StreamFile, int, int]]] = {}
    for b0, b1 in zip(starts, [*starts[1:], len(ordered)], strict=True):
        stream = streams[sidx[b0]]
        groups.setdefault(stream.layout, []).append((stream, b0, b1))
    out: list[tuple[StreamFile, Chunk]] = []
    end_s = math.nan
    for runs in groups.values():
        dtype = runs[0][0].dtype
        if len(groups) == 1:
            mine, n = ordered, counts
        else:
            mine = [b for _, b0, b1 in runs for b in ordered[b0:b1]]
            n = np.concatenate([counts[b0:b1] for _, b0, b1 in runs])
        row_end = np.cumsum(n)
        records = np.empty(int(row_end[-1]), dtype)
        time_s = records["time_s"]
        time_s[:] = _joined(mine, "time_s", records.shape[0])
        for ch in runs[0][0].channels:  # the same for every stream of this dtype
            arr = _joined(mine, ch, records.shape[0]).reshape(-1, 3)
            for i, col in enumerate(channel_columns(ch)):
                records[col] = arr[:, i]
        end_s = float(np.fmax(end_s, np.fmax.reduce(time_s[row_end - 1])))
        # each stream's rows: one bytes slice (no numpy call per stream)
        stops = row_end[np.cumsum([b1 - b0 for _, b0, b1 in runs]) - 1]
        starts_ = np.concatenate(([0], stops[:-1]))
        firsts, lasts = time_s[starts_].tolist(), time_s[stops - 1].tolist()
        # views into ``records``, not copies: a flush at full replay speed carries megabytes, and
        # a bytes copy plus a slice of it per stream tripled the flush thread's peak memory
        raw, size = records.view(np.uint8).data, dtype.itemsize
        for (stream, _, _), start, stop, first, last in zip(runs, starts_.tolist(), stops.tolist(), firsts, lasts,
                                                            strict=True):
            out.append((stream, Chunk(raw[start * size:stop * size], stop - start, first, last)))
    return out, end_s


def _joined(blocks: list[SampleBlock], channel: str, n: int) -> np.ndarray:
    """One channel of all ``blocks`` end to end (NaN rows where a block lacks it), as float64.

    ``bytes.join`` copies the blocks' C-contiguous float64 buffers with a fraction of
    ``np.concatenate``'s cost per input array (a live batch has ~1500 arrays of 8 rows).
    """
    try:
        joined = np.frombuffer(b"".join(map(operator.attrgetter(channel), blocks)), np.float64)
        if joined.shape[0] == n * (1 if channel == "time_s" else 3):
            return joined
    except (TypeError, BufferError):  # a missing channel (None) or a buffer that is not contiguous
        pass
    return np.concatenate([v if (v := getattr(b, channel)) is not None else np.full((len(b), 3), np.nan)
                           for b in blocks])


def pack_order(codes: np.ndarray) -> Chunk:
    return Chunk(codes.astype("<u8").tobytes(), len(codes))


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
def _fields(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] | None:
    """Field names of a record dataclass (``to_row``'s order) and a getter of all values at once.

    None below two fields: ``attrgetter`` of one name returns the bare value, not a tuple.
    """
    names = field_names(cls)
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
        # exact floats only, so repr is float.__repr__
        cells = ["" if v is None else repr(v) for v in col] if _NONE in types else list(map(repr, col))
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
        return list(map(repr, col))
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
