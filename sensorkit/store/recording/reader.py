"""RecordingReader: metadata, sample streams (memory-mapped) and record tables of a ``.skrec``.

A recording that was being written when its process died opens like any other: a partial
last sample or row is trimmed and reported in :attr:`RecordingReader.problems`, never an error.
Anything else malformed raises :class:`CorruptRecordingError` naming the file (and line).

Memory: each stream is mapped once for the reader's life (mapping again on every read cost a
third of ``sensorkit analyze``), but the file pages its own reads touch are handed back to the
kernel (``MADV_DONTNEED``) every :data:`RELEASE_BYTES`, so reading a marathon from start to end
holds a few MB of it in RSS, not the whole file. The data stays in the page cache.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import mmap
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import NDArray

from sensorkit.errors import RecordingError
from sensorkit.model import RECORD_NAMES, Calibration, Gap, SampleBlock, SessionInfo, SpeedSample
from sensorkit.store.recording.cells import field_parsers, parse_bool, parse_cell
from sensorkit.store.recording.errors import CorruptRecordingError
from sensorkit.store.recording.layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    META_FILE,
    ORDER_DTYPE,
    channel_columns,
    dtype_from_json,
    stream_channels,
)
from sensorkit.store.recording.metadata import session_from_json
from sensorkit.store.recording.tables import TableText, decode_records, iter_table_text, read_table_text

log = logging.getLogger(__name__)

_TYPES: dict[str, type] = {name: cls for cls, name in RECORD_NAMES.items()}

RELEASE_BYTES = 1 << 18
"""Bytes a stream's reads (block, index_range, sample_times) may touch before its mapped pages are dropped."""
_PAGE_BYTES = mmap.PAGESIZE
_DONTNEED: int | None = getattr(mmap, "MADV_DONTNEED", None)


class _Stream:
    __slots__ = ("channels", "dtype", "index", "map", "path", "samples", "sensor_id", "torn_bytes", "touched")

    def __init__(self, sensor_id: str, path: Path, dtype: np.dtype, index: int | None) -> None:
        self.sensor_id = sensor_id
        self.index = index
        self.path = path
        self.dtype = dtype
        self.channels = stream_channels(dtype)
        size = path.stat().st_size
        self.samples = size // dtype.itemsize
        self.torn_bytes = size % dtype.itemsize
        self.map: NDArray[Any] | None = None
        self.touched = 0
        """Bytes read through ``map`` since its pages were last dropped."""

    def consumed(self, nbytes: int) -> None:
        self.touched += nbytes
        if self.touched >= RELEASE_BYTES:
            self.release()

    def release(self) -> None:
        """Drop the map's pages from this process (RSS); the kernel keeps them in its page cache."""
        self.touched = 0
        mapped = getattr(self.map, "_mmap", None)  # np.memmap's mmap.mmap (read-only, shared)
        if mapped is not None and _DONTNEED is not None:
            with contextlib.suppress(OSError, ValueError):  # closed, or refused: the pages just stay
                mapped.madvise(_DONTNEED)


class RecordingReader:
    """Opens ``path`` (a ``NAME.skrec`` directory) for reading; cheap: no samples are loaded."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.problems: list[str] = []
        """Human-readable notes on what was trimmed or is incomplete (empty for a clean file)."""
        self.meta = self._load_meta()
        meta_path = str(self.path / META_FILE)
        try:
            self.info: SessionInfo = session_from_json(self.meta["session"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptRecordingError(meta_path, f"bad session metadata: {exc!r}") from exc
        self._streams = self._load_streams(meta_path)
        self._tables: dict[str, Path] = {}
        for name, spec in self._mapping(meta_path, "tables").items():
            self._tables[name] = self._inside(meta_path, spec, f"tables.{name}")
        self._table_cache: dict[str, TableText] = {}
        self._torn_streamed: set[str] = set()
        self._order_path: Path | Literal[False] | None = False  # False: not looked for yet
        if not self.closed:
            self._problem(f"{self.path}: not closed cleanly (the writer was killed or is still running); "
                          "data up to its last flush is present")

    # -- metadata ---------------------------------------------------------------------------

    def _load_meta(self) -> dict[str, Any]:
        meta_path = self.path / META_FILE
        if not self.path.is_dir():
            raise RecordingError(f"{self.path}: not a recording directory (expected NAME.skrec/)")
        try:
            text = meta_path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise RecordingError(f"{self.path}: not a sensorkit recording (no {META_FILE})") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptRecordingError(str(meta_path), f"cannot read: {exc}") from exc
        try:
            meta = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorruptRecordingError(str(meta_path), f"invalid JSON: {exc.msg}", line=exc.lineno) from exc
        except RecursionError:  # nested deeper than the parser's stack: never a real meta.json
            raise CorruptRecordingError(str(meta_path), "invalid JSON: nested too deeply") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise CorruptRecordingError(str(meta_path), f"not a {FORMAT_NAME} file")
        version = meta.get("format_version")
        if not isinstance(version, int):
            raise CorruptRecordingError(str(meta_path), f"format_version {version!r} is not an integer")
        if version > FORMAT_VERSION:
            raise RecordingError(f"{meta_path}: format_version {version} is newer than this sensorkit "
                                 f"reads ({FORMAT_VERSION}); upgrade sensorkit")
        return meta

    def _mapping(self, meta_path: str, key: str) -> dict[str, Any]:
        value = self.meta.get(key)
        if not isinstance(value, dict):
            raise CorruptRecordingError(meta_path, f"{key!r} must be an object", column=key)
        return value

    def _inside(self, meta_path: str, spec: Any, where: str) -> Path:
        """The data file named by ``spec["file"]``; it must stay inside the recording."""
        name = spec.get("file") if isinstance(spec, dict) else None
        if not isinstance(name, str):
            raise CorruptRecordingError(meta_path, f"{where}: missing 'file'", column=where)
        rel = PurePosixPath(name)
        path = self.path / rel
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise CorruptRecordingError(meta_path, f"{where}: file {name!r} is outside the recording",
                                        column=where)
        if not path.is_file():
            raise CorruptRecordingError(str(path), f"missing (listed in {META_FILE} as {where})")
        return path

    def _load_streams(self, meta_path: str) -> dict[str, _Stream]:
        streams = {}
        for sid, spec in self._mapping(meta_path, "streams").items():
            path = self._inside(meta_path, spec, f"streams.{sid}")
            try:
                dtype = dtype_from_json(spec.get("dtype"))
            except (ValueError, TypeError) as exc:
                raise CorruptRecordingError(meta_path, f"streams.{sid}.dtype: {exc}",
                                            column=f"streams.{sid}.dtype") from exc
            if "acc_g" not in stream_channels(dtype):
                raise CorruptRecordingError(meta_path, f"streams.{sid}.dtype has no acc columns")
            index = spec.get("index")
            stream = _Stream(sid, path, dtype, index if isinstance(index, int) else None)
            if stream.torn_bytes:
                self._problem(f"{path}: trimmed a torn last sample ({stream.torn_bytes} of "
                              f"{dtype.itemsize} bytes)")
            streams[sid] = stream
        return streams

    def _problem(self, text: str) -> None:
        self.problems.append(text)
        log.warning("%s", text)

    @property
    def format_version(self) -> int:
        return int(self.meta["format_version"])

    @property
    def closed(self) -> bool:
        """False if the writer never finished (a crash, or still recording)."""
        return bool(self.meta.get("closed"))

    @property
    def config(self) -> dict[str, Any]:
        cfg = self.meta.get("config")
        return cfg if isinstance(cfg, dict) else {}

    @property
    def notes(self) -> dict[str, str]:
        return dict(self.info.notes)

    @property
    def skipped(self) -> dict[str, int]:
        """Torn bytes (streams) and rows (tables read so far) trimmed, per file; only non-zero."""
        out = {str(s.path): s.torn_bytes for s in self._streams.values() if s.torn_bytes}
        out.update({str(t.path): 1 for t in self._table_cache.values() if t.torn})
        out.update(dict.fromkeys(self._torn_streamed, 1))
        return out

    # -- sample streams ---------------------------------------------------------------------

    @property
    def sensor_ids(self) -> list[str]:
        return list(self._streams)

    def _stream(self, sensor_id: str) -> _Stream:
        try:
            return self._streams[sensor_id]
        except KeyError:
            raise KeyError(f"{self.path}: no stream {sensor_id!r} (have {self.sensor_ids})") from None

    def sample_count(self, sensor_id: str) -> int:
        return self._stream(sensor_id).samples

    def channels(self, sensor_id: str) -> list[str]:
        """SampleBlock channels recorded for the sensor: ``acc_g`` and any of ``gyr_dps``, ``mag_ut``."""
        return list(self._stream(sensor_id).channels)

    def raw(self, sensor_id: str) -> NDArray[Any]:
        """The stream's structured records, memory-mapped read-only (no copy, any size).

        Pages read through it stay in RSS until the reader's own reads drop them (or
        :meth:`release`); prefer :meth:`block` / :meth:`sample_times` for long passes.
        """
        s = self._stream(sensor_id)
        if s.map is None:  # one map per stream: mapping again on every call cost a third of analyze
            s.map = (np.empty(0, s.dtype) if s.samples == 0
                     else np.memmap(s.path, dtype=s.dtype, mode="r", shape=(s.samples,)))
        return s.map

    def release(self) -> None:
        """Hand every page of the streams' maps back to the kernel (they stay valid, read again on use)."""
        for s in self._streams.values():
            s.release()

    def index_range(self, sensor_id: str, start_s: float | None = None, end_s: float | None = None
                    ) -> tuple[int, int]:
        """Sample indices ``[i0, i1)`` with ``start_s <= time_s < end_s`` (time_s increases)."""
        t = self.raw(sensor_id)["time_s"]
        probes = [0]
        i0 = 0 if start_s is None else _bisect_left(t, start_s, probes)
        i1 = len(t) if end_s is None else _bisect_left(t, end_s, probes)
        self._streams[sensor_id].consumed(probes[0] * _PAGE_BYTES)
        return i0, max(i0, i1)

    def sample_times(self, sensor_id: str, i0: int, i1: int) -> NDArray[np.float64]:
        """``time_s`` of samples ``i0:i1`` as a fresh float64 array (a bounded read)."""
        s = self._stream(sensor_id)
        out = np.array(self.raw(sensor_id)["time_s"][i0:i1], dtype=np.float64)
        s.consumed(max(0, len(out)) * s.dtype.itemsize)
        return out

    def samples(self, sensor_id: str, start_s: float | None = None,
                end_s: float | None = None) -> SampleBlock:
        """Samples with ``start_s <= time_s < end_s`` (all by default) as one float64 block."""
        i0, i1 = self.index_range(sensor_id, start_s, end_s)
        return self.block(sensor_id, i0, i1)

    def block(self, sensor_id: str, i0: int, i1: int) -> SampleBlock:
        """Samples ``i0:i1`` as a SampleBlock of fresh contiguous float64 arrays."""
        s = self._stream(sensor_id)
        raw = self.raw(sensor_id)[i0:i1]
        cols = {ch: stack_channel(raw, ch) for ch in s.channels}
        block = SampleBlock(sensor_id, np.array(raw["time_s"], dtype=np.float64), cols["acc_g"],
                            cols.get("gyr_dps"), cols.get("mag_ut"))
        s.consumed(raw.nbytes)
        return block

    def stream_numbers(self) -> dict[int, str]:
        """Stream number (as used by the order log) -> sensor id."""
        return {s.index: sid for sid, s in self._streams.items() if s.index is not None}

    def order(self, start: int = 0, count: int | None = None) -> NDArray[Any] | None:
        """The live arrival order of source items (``ORDER_DTYPE`` entries), if it is usable.

        Entries ``start:start + count`` (all by default: 8 bytes per item, ~7 MB for 3 hours).
        None when the recording has none, or when the writer had to drop data (disk full) and
        the log no longer matches the samples on disk. A torn last entry is trimmed.
        """
        path = self._order_file()
        if path is None:
            return None
        n = self.order_length() or 0
        start = min(max(start, 0), n)
        take = n - start if count is None else max(0, min(count, n - start))
        return np.fromfile(path, dtype=ORDER_DTYPE, count=take, offset=start * ORDER_DTYPE.itemsize)

    def order_length(self) -> int | None:
        """Entries in the usable order log (None: see :meth:`order`)."""
        path = self._order_file()
        return None if path is None else path.stat().st_size // ORDER_DTYPE.itemsize

    def _order_file(self) -> Path | None:
        if self._order_path is False:
            self._order_path = self._find_order_file()
        return self._order_path

    def _find_order_file(self) -> Path | None:
        spec = self.meta.get("order")
        if not isinstance(spec, dict) or spec.get("complete") is not True:
            return None
        try:
            if dtype_from_order_json(spec.get("dtype")) != ORDER_DTYPE:
                return None
            return self._inside(str(self.path / META_FILE), spec, "order")
        except (CorruptRecordingError, TypeError, ValueError) as exc:
            self._problem(f"{self.path}: order log unusable ({exc}); replay re-cuts blocks on a grid")
            return None

    # -- record tables ----------------------------------------------------------------------

    @property
    def tables(self) -> list[str]:
        return list(self._tables)

    def _table(self, name: str) -> TableText:
        text = self._table_cache.get(name)
        if text is None:
            try:
                path = self._tables[name]
            except KeyError:
                raise KeyError(f"{self.path}: no table {name!r} (have {self.tables})") from None
            text = read_table_text(path)
            if text.torn:
                self._problem(f"{path}: trimmed a torn last row")
            self._table_cache[name] = text
        return text

    def iter_records(self, table: str | type, batch_rows: int = 4096) -> Iterator[list[Any]]:
        """A table as typed records in batches of ``batch_rows``, read piece by piece.

        Memory is bounded by a batch whatever the table's length (a replay streams a marathon's
        health readings this way); nothing is cached. Errors are raised when reached.
        """
        name, cls = self._record_type(table)
        try:
            path = self._tables[name]
        except KeyError:
            raise KeyError(f"{self.path}: no table {name!r} (have {self.tables})") from None
        for text in iter_table_text(path, batch_rows):
            if text.torn and str(path) not in self._torn_streamed:
                self._torn_streamed.add(str(path))
                self._problem(f"{path}: trimmed a torn last row")
            yield decode_records(text, cls)

    def _record_type(self, table: str | type) -> tuple[str, type]:
        name = table if isinstance(table, str) else RECORD_NAMES[table]
        cls = _TYPES.get(name)
        if cls is None:
            raise KeyError(f"{self.path}: table {name!r} has no record type in this sensorkit; "
                           "use columns()")
        return name, cls

    def records(self, table: str | type) -> list[Any]:
        """A table as typed records, e.g. ``records("steps")`` or ``records(StepMetrics)``."""
        name, cls = self._record_type(table)
        return decode_records(self._table(name), cls)

    def columns(self, table: str) -> dict[str, NDArray[Any]]:
        """A table as numpy columns, ready for ``pandas.DataFrame(...)``.

        Numbers are float64 (empty -> NaN; required ints int64), booleans bool, the rest object
        (enums, text, dicts).
        """
        text = self._table(table)
        cls = _TYPES.get(table)
        parsers = field_parsers(cls) if cls is not None else {}
        out: dict[str, NDArray[Any]] = {}
        for i, name in enumerate(text.columns):
            cells = [row[i] if i < len(row) else "" for row in text.rows]
            parser, optional = parsers.get(name, (str, True))
            try:
                values = [parse_cell(c, parser, optional) for c in cells]
            except ValueError as exc:
                raise CorruptRecordingError(str(text.path), f"bad value in column: {exc}",
                                            column=name) from exc
            if parser is int and not optional:
                out[name] = np.array(values, dtype=np.int64)
            elif parser in (float, int):
                out[name] = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
            elif parser is parse_bool:
                out[name] = np.array(values, dtype=bool)
            else:
                arr = np.empty(len(values), dtype=object)
                arr[:] = values
                out[name] = arr
        return out

    def gaps(self) -> list[Gap]:
        return self.records(Gap)

    def speed(self) -> list[SpeedSample]:
        return self.records(SpeedSample)

    def calibration(self) -> list[Calibration]:
        return self.records(Calibration)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._table_cache.clear()
        for s in self._streams.values():  # unmapped once no view of them is left; mapped again on use
            s.release()
            s.map = None


def dtype_from_order_json(spec: Any) -> np.dtype:
    if not isinstance(spec, list) or not all(isinstance(f, list) and len(f) == 2 for f in spec):
        raise ValueError(f"bad order dtype {spec!r}")
    return np.dtype([(str(f[0]), str(f[1])) for f in spec])


def stack_channel(raw: NDArray[Any], channel: str) -> NDArray[np.float64]:
    """Three flat columns of a structured array as one contiguous (n, 3) float64 array."""
    out = np.empty((len(raw), 3), dtype=np.float64)
    for i, col in enumerate(channel_columns(channel)):
        out[:, i] = raw[col]
    return out


def _bisect_left(t: NDArray[Any], x: float, probes: list[int]) -> int:
    """Binary search on a (strided, memory-mapped) column without copying it; counts its probes."""
    lo, hi = 0, len(t)
    while lo < hi:
        mid = (lo + hi) // 2
        probes[0] += 1
        if t[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo
