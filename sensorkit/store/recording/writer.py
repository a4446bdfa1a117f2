"""RecordingWriter: the synchronous core that turns bus items into a ``NAME.skrec/`` directory.

Items are only buffered by :meth:`RecordingWriter.write` (cheap, no I/O); :meth:`take` swaps the
buffers out and :meth:`write_batch` packs and appends them. The async sink runs ``write_batch``
in a worker thread so disk latency never stalls the event loop; plain scripts just call
``write`` and let ``auto_flush`` do the rest.

Crash safety comes from the layout, not from fsync: every flush hands whole records to the
OS with ``write(2)``, which survives the death of the process (``kill -9``). ``fsync=True``
additionally survives power loss, at the cost of disk latency.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import logging
import math
import shutil
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from sensorkit.errors import RecordingError
from sensorkit.model import RECORD_NAMES, Calibration, Gap, SampleBlock, SessionInfo, field_names, to_row
from sensorkit.store.recording.appendfile import AppendFile
from sensorkit.store.recording.layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_STREAMS,
    META_FILE,
    ORDER_DTYPE,
    ORDER_FILE,
    STREAMS_DIR,
    TABLES_DIR,
    ChannelDtype,
    dtype_to_json,
    safe_stem,
    stream_channels,
    stream_dtype,
)
from sensorkit.store.recording.metadata import fsync_dir, session_to_json, write_json_atomic
from sensorkit.store.recording.packing import (
    ORDER_CODE,
    Batch,
    StreamFile,
    TableFile,
    json_safe,
    pack_order,
    pack_rows,
    pack_streams,
)
from sensorkit.store.recording.stats import IoCounters, RecordingStats

log = logging.getLogger(__name__)

WRITE_FAILED_REASON = "recording_write_failed"
"""``Gap.reason`` of samples the recording had to give up while the disk kept failing."""


class RecordingWriter:
    """Writes one session to ``path`` (a new ``NAME.skrec`` directory).

    ``config`` is free-form JSON kept in ``meta.json`` (the run's configuration, for example).
    ``max_buffer_bytes`` bounds what is held in memory while the disk fails; beyond it the
    oldest samples are given up and recorded as gaps (reason ``recording_write_failed``).
    """

    def __init__(
        self,
        path: str | Path,
        info: SessionInfo,
        *,
        config: Mapping[str, Any] | None = None,
        flush_interval_s: float = 0.5,
        fsync: bool = False,
        channel_dtype: ChannelDtype = "f8",
        max_buffer_bytes: int = 64 << 20,
        auto_flush: bool = True,
        overwrite: bool = False,
    ) -> None:
        if channel_dtype not in ("f8", "f4"):
            raise ValueError(f"channel_dtype must be 'f8' or 'f4', not {channel_dtype!r}")
        self.path = Path(path)
        self.info = info
        self.flush_interval_s = flush_interval_s
        self.fsync = fsync
        self.channel_dtype: ChannelDtype = channel_dtype
        self.max_buffer_bytes = max_buffer_bytes
        self.auto_flush = auto_flush
        self._config = json_safe(dict(config or {}))
        self._notes: dict[str, str] = dict(info.notes)
        self._calibration: list[dict[str, Any]] = []
        self._io_lock = threading.Lock()
        self._streams: dict[str, StreamFile] = {}
        self._stream_list: list[StreamFile] = []  # by index
        self._tables: dict[str, TableFile] = {}
        self._stems: set[str] = set()
        self._order: AppendFile | None = None
        self._order_complete = True
        self._pending = Batch()
        self.pending_bytes = 0
        """Approximate size of what ``write`` buffered since the last ``take`` (read it, do not set it).

        A plain attribute, not a property: the sink reads it after every item.
        """
        self._meta_dirty = False
        self._closed = False
        self._last_flush = time.monotonic()
        self._end_time_s = -math.inf
        # counters: loop side here, I/O side in self._io
        self._samples_received = self._records_received = self._unsupported = 0
        self._dropped_channels = self._unrecorded_samples = 0
        self._io = IoCounters(str(self.path), max_buffer_bytes >> 20)
        self._create(overwrite)

    # -- creation ---------------------------------------------------------------------------

    def _create(self, overwrite: bool) -> None:
        if self.path.exists():
            if not overwrite:
                raise RecordingError(f"{self.path}: already exists (choose another name or overwrite)")
            if not (self.path / META_FILE).exists():
                raise RecordingError(f"{self.path}: exists and is not a recording; not overwriting it")
            shutil.rmtree(self.path)
        if len(self.info.sensors) > MAX_STREAMS:
            raise RecordingError(f"{self.path}: {len(self.info.sensors)} sensors; a recording holds at most "
                                 f"{MAX_STREAMS} sensor streams")
        try:
            (self.path / STREAMS_DIR).mkdir(parents=True)
            (self.path / TABLES_DIR).mkdir()
            for s in self.info.sensors:
                self._add_stream(s.sensor_id, s.has_gyro, s.has_mag)
            for name in sorted(set(RECORD_NAMES.values())):
                self._table(name)
            self._order = AppendFile(self.path / ORDER_FILE, holds="order")
            write_json_atomic(self.path / META_FILE, self._meta(closed=False), fsync=self.fsync)
            if self.fsync:
                for d in (self.path / STREAMS_DIR, self.path / TABLES_DIR, self.path):
                    fsync_dir(d)
        except OSError as exc:
            self._close_files()
            raise RecordingError(f"{self.path}: cannot create the recording: {exc}") from exc

    def _add_stream(self, sensor_id: str, has_gyro: bool, has_mag: bool) -> StreamFile:
        stem = safe_stem(sensor_id, self._stems)
        dtype = stream_dtype(has_gyro, has_mag, self.channel_dtype)
        file_name = f"{STREAMS_DIR}/{stem}.bin"
        stream = StreamFile(len(self._streams), sensor_id, file_name, dtype, stream_channels(dtype),
                         AppendFile(self.path / file_name, holds="samples"))
        self._streams[sensor_id] = stream
        self._stream_list.append(stream)
        return stream

    def _table(self, name: str) -> TableFile:
        table = self._tables.get(name)
        if table is None:
            cls = next(t for t, n in RECORD_NAMES.items() if n == name)
            columns = list(field_names(cls))
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(columns)
            table = TableFile(name, columns, AppendFile(self.path / TABLES_DIR / f"{name}.csv",
                                                     buf.getvalue().encode()))
            self._tables[name] = table
        return table

    def _meta(self, *, closed: bool) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "session": session_to_json(dataclasses.replace(self.info, notes=dict(self._notes))),
            "config": self._config,
            "calibration": list(self._calibration),
            "streams": {
                s.sensor_id: {
                    "index": s.index,
                    "file": s.file_name,
                    "dtype": dtype_to_json(s.dtype),
                    "record_bytes": s.dtype.itemsize,
                    "sampling_rate_hz": self._rate(s.sensor_id),
                } for s in self._streams.values()},
            "tables": {t.name: {"file": f"{TABLES_DIR}/{t.name}.csv", "columns": t.columns}
                       for t in self._tables.values()},
            "order": {"file": ORDER_FILE, "dtype": [list(f) for f in ORDER_DTYPE.descr],
                      "complete": self._order_complete},
            "writer": {"flush_interval_s": self.flush_interval_s, "fsync": self.fsync},
            "closed": closed,
            "closed_unix_s": time.time() if closed else None,
            "end_time_s": self._end_time_s if closed and math.isfinite(self._end_time_s) else None,
            "summary": self._summary() if closed else None,
        }

    def _rate(self, sensor_id: str) -> float | None:
        try:
            return self.info.sensor(sensor_id).sampling_rate_hz
        except KeyError:
            return None

    def _summary(self) -> dict[str, int]:
        return {
            "samples_written": self._io.samples_written,
            "records_written": self._io.records_written,
            "write_errors": self._io.write_errors,
            "dropped_samples": self._io.dropped_samples + self._unrecorded_samples,
            "dropped_records": self._io.dropped_records,
            "dropped_channels": self._dropped_channels,
            "unsupported_items": self._unsupported,
        }

    # -- loop side: buffering ---------------------------------------------------------------

    def write(self, item: object) -> None:
        """Buffer one bus item. Never raises for bad items: they are counted and skipped."""
        if self._closed:
            raise RecordingError(f"{self.path}: write after close")
        if isinstance(item, SampleBlock):
            self._write_block(item)
        else:
            name = RECORD_NAMES.get(type(item))  # dataclasses, all of them
            if name is None:
                self._unsupported += 1
                if self._unsupported == 1:
                    log.warning("recording %s: skipping unsupported item %s", self.path, type(item).__name__)
                return
            self._pending.records.setdefault(name, []).append(item)
            self._records_received += 1
            code = ORDER_CODE.get(type(item))
            if code is not None:
                self._pending.order.append(code)
            self.pending_bytes += 200
            if isinstance(item, Calibration):
                self._calibration.append(json_safe(to_row(item)))
                self._meta_dirty = True
        if self.auto_flush and (time.monotonic() - self._last_flush >= self.flush_interval_s
                                or self.pending_bytes >= 8 << 20):
            self.flush()

    def write_many(self, items: Iterable[object]) -> None:
        for item in items:
            self.write(item)

    def _write_block(self, block: SampleBlock) -> None:
        """Only bookkeeping here: grouping by stream and the end time are worked out when packing."""
        n = len(block)
        if n == 0:
            return
        stream = self._streams.get(block.sensor_id)
        if stream is None:
            stream = self._new_stream(block)
            if stream is None:
                self._unrecorded_samples += n
                return
        if (block.gyr_dps is not None and not stream.has_gyro) or (block.mag_ut is not None and not stream.has_mag):
            self._count_dropped_channels(block, stream, n)
        pending = self._pending
        pending.blocks.append(block)
        pending.order.append(stream.block_code | n << 32)
        self._samples_received += n
        self.pending_bytes += n * stream.record_bytes

    def _count_dropped_channels(self, block: SampleBlock, stream: StreamFile, n: int) -> None:
        for ch, values in (("gyr_dps", block.gyr_dps), ("mag_ut", block.mag_ut)):
            if values is not None and ch not in stream.channels:
                self._dropped_channels += n
                if self._dropped_channels == n:
                    log.warning("recording %s: stream %s has no %s columns; that channel is not recorded",
                                self.path, block.sensor_id, ch)

    def _new_stream(self, block: SampleBlock) -> StreamFile | None:
        """A sensor missing from SessionInfo still gets recorded, laid out from its first block."""
        if len(self._streams) >= MAX_STREAMS:  # its samples are counted as dropped
            if self._unrecorded_samples == 0:
                log.warning("recording %s: %d sensor streams, no room for %s; its samples are not recorded",
                            self.path, len(self._streams), block.sensor_id)
            return None
        try:
            with self._io_lock:
                stream = self._add_stream(block.sensor_id, block.gyr_dps is not None,
                                          block.mag_ut is not None)
        except OSError as exc:
            self._io.failed(exc, self._retained_bytes())
            return None
        log.info("recording %s: new stream %s (not in the session's sensor list)", self.path, block.sensor_id)
        self._meta_dirty = True
        return stream

    def set_note(self, key: str, value: str) -> None:
        """Add a free-form note to ``meta.json`` (written with the next flush)."""
        self._notes[str(key)] = str(value)
        self._meta_dirty = True

    def take(self) -> Batch:
        """Swap out everything buffered so far (fast; the loop keeps buffering into a new batch)."""
        batch, self._pending, self.pending_bytes = self._pending, Batch(), 0
        if self._meta_dirty:
            batch.meta, self._meta_dirty = self._meta(closed=False), False
        return batch

    # -- io side ----------------------------------------------------------------------------

    def write_batch(self, batch: Batch, *, fsync: bool | None = None) -> None:
        """Pack and append ``batch`` (thread-safe; run it off the event loop).

        Never raises OSError: failures are logged and counted, and the data is kept for the next
        attempt (up to ``max_buffer_bytes``).
        """
        with self._io_lock:
            self._write_batch(batch, self.fsync if fsync is None else fsync)

    def _write_batch(self, batch: Batch, fsync: bool) -> None:
        codes = np.array(batch.order, np.uint64)
        if batch.blocks:
            packed, end_s = pack_streams(batch.blocks, codes, self._stream_list)
            for stream, chunk in packed:
                stream.file.add(chunk)
            if end_s > self._end_time_s:
                self._end_time_s = end_s
        for name, records in batch.records.items():
            self._table(name).file.add(pack_rows(records))
        if batch.order and self._order is not None and self._order_complete:
            self._order.add(pack_order(codes))
        files = self._files()  # the order log last: it never runs ahead of the data it orders
        error: OSError | None = None
        for f in files:
            if not f.retained or f.broken:
                continue
            try:
                size0 = f.good_size
                count = f.write_out()
                self._io.bytes_written += f.good_size - size0
                if f.holds == "samples":
                    self._io.samples_written += count
                elif f.holds == "records":
                    self._io.records_written += count
                if fsync:
                    f.fsync()
            except OSError as exc:
                error = exc
        if batch.meta is not None:
            try:
                write_json_atomic(self.path / META_FILE, batch.meta, fsync=fsync)
            except OSError as exc:
                error, self._meta_dirty = exc, True  # retry with the next batch
        self._io.flushes += 1
        if error is not None:
            self._io.failed(error, self._retained_bytes())
            self._enforce_buffer_limit()
        else:
            self._io.succeeded()
        self._report_broken(files)

    def _files(self) -> list[AppendFile]:
        files = [s.file for s in self._streams.values()] + [t.file for t in self._tables.values()]
        return files if self._order is None else [*files, self._order]

    def _retained_bytes(self) -> int:
        return sum(f.retained_bytes for f in self._files())

    def _enforce_buffer_limit(self) -> None:
        if self._retained_bytes() <= self.max_buffer_bytes:
            return
        self._give_up()
        log.error("recording %s: memory buffer full while the disk fails; gave up %d samples "
                  "(recorded as gaps) and %d records so far", self.path, self._io.dropped_samples,
                  self._io.dropped_records)

    def _give_up(self) -> None:
        """Drop what waits for the disk; lost samples become gaps (small, so they fit sooner).

        The order log stops here: its counts would no longer match the samples on disk, so a
        replay falls back to re-cutting blocks on a grid.
        """
        if self._order is not None and self._order_complete:
            self._order_complete, self._meta_dirty = False, True
            self._order.drop_retained()
        gaps: list[Gap] = []
        for s in self._streams.values():
            for chunk in s.file.drop_retained():
                self._io.dropped_samples += chunk.count
                gaps.append(Gap(s.sensor_id, chunk.first_s, chunk.last_s, WRITE_FAILED_REASON, chunk.count))
        gaps_table = self._table(RECORD_NAMES[Gap])
        for t in self._tables.values():
            if t is not gaps_table:
                self._io.dropped_records += sum(c.count for c in t.file.drop_retained())
        if self._meta_dirty:
            try:
                write_json_atomic(self.path / META_FILE, self._meta(closed=False), fsync=self.fsync)
                self._meta_dirty = False
            except OSError:
                pass  # retried with the next batch
        if gaps:
            gaps_table.file.add(pack_rows(gaps))

    def _report_broken(self, files: list[AppendFile]) -> None:
        for f in files:
            if f.broken and f.retained:
                n = sum(c.count for c in f.drop_retained())
                if f.holds == "samples":
                    self._io.dropped_samples += n
                elif f.holds == "records":
                    self._io.dropped_records += n
                else:
                    self._order_complete, self._meta_dirty = False, True
                log.error("recording %s: %s could not be cut back after a failed write; "
                          "nothing more is appended to it (%d items dropped)", self.path, f.path.name, n)

    # -- both -------------------------------------------------------------------------------

    def flush(self, *, fsync: bool | None = None) -> None:
        """Hand everything buffered to the OS now (and to the disk if ``fsync``)."""
        self._last_flush = time.monotonic()
        self.write_batch(self.take(), fsync=fsync)

    def close(self) -> None:
        """Flush, mark the recording closed in ``meta.json``, release files. Idempotent."""
        if self._closed:
            return
        batch = self.take()
        self._closed = True
        with self._io_lock:
            self._write_batch(batch, self.fsync)
            left = self._retained_bytes()
            if left:
                log.error("recording %s: closing with %d bytes that could not be written (%s)",
                          self.path, left, self._io.last_error)
                self._give_up()
                gaps = self._table(RECORD_NAMES[Gap]).file
                with contextlib.suppress(OSError):
                    gaps.write_out()
                self._io.dropped_records += sum(c.count for c in gaps.drop_retained())
            try:
                write_json_atomic(self.path / META_FILE, self._meta(closed=True), fsync=self.fsync)
            except OSError as exc:
                self._io.failed(exc, self._retained_bytes())
            self._close_files()

    def _close_files(self) -> None:
        for f in self._files():
            f.close()

    def stats(self) -> RecordingStats:
        return RecordingStats(
            path=str(self.path),
            samples_received=self._samples_received,
            records_received=self._records_received,
            samples_written=self._io.samples_written,
            records_written=self._io.records_written,
            bytes_written=self._io.bytes_written,
            flushes=self._io.flushes,
            write_errors=self._io.write_errors,
            dropped_samples=self._io.dropped_samples + self._unrecorded_samples,
            dropped_records=self._io.dropped_records,
            retained_bytes=self._retained_bytes(),
            unsupported_items=self._unsupported,
            dropped_channels=self._dropped_channels,
            failing=self._io.failing_since is not None,
            last_error=self._io.last_error,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

