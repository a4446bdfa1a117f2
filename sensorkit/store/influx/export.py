"""Push a recorded session into InfluxDB through the same sink, schema and spool as live runs.

Unlike a live session, an export may wait for the database: its channel applies backpressure
(BLOCK) instead of dropping, and a server that is down at start is an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

from sensorkit.model import RECORD_NAMES, BusItem
from sensorkit.pipeline.channel import Channel, OverflowPolicy
from sensorkit.store.influx.settings import InfluxSettings, RawImuMode
from sensorkit.store.influx.sink import InfluxSink, InfluxStats

log = logging.getLogger(__name__)

EXPORT_BLOCK_SAMPLES = 4096
"""Samples per block read from a recording (memory-mapped, so this only bounds memory)."""


def recording_items(reader: Any, raw_imu: RawImuMode, block_samples: int = EXPORT_BLOCK_SAMPLES
                    ) -> Iterator[BusItem]:
    """Every record table the model knows, then every sample stream in blocks.

    ``reader`` is a :class:`sensorkit.store.recording.RecordingReader`. Tables this sensorkit
    has no record type for are skipped with a log line.
    """
    known = set(RECORD_NAMES.values())
    for table in reader.tables:
        if table not in known:
            log.info("export: table %r has no record type in this sensorkit; skipped", table)
            continue
        yield from reader.records(table)
    if raw_imu is RawImuMode.OFF:
        return
    for sid in reader.sensor_ids:
        n = reader.sample_count(sid)
        for i0 in range(0, n, block_samples):
            yield reader.block(sid, i0, min(n, i0 + block_samples))


async def export_recording(
    reader: Any,
    settings: InfluxSettings,
    *,
    on_progress: Callable[[InfluxStats], None] | None = None,
) -> InfluxStats:
    """Write a recording to InfluxDB; returns the sink's final counters.

    Raises :class:`sensorkit.errors.StoreError` for a refused token, a missing
    database/bucket or a server that does not answer.
    """
    settings = settings.model_copy(update={"require_server_at_start": True, "enabled": True})
    sink = InfluxSink(settings, reader.info)
    channel: Channel[BusItem] = Channel("export:influx", max(64, settings.queue_size // 16),
                                        OverflowPolicy.BLOCK)

    async def feed() -> None:
        try:
            for i, item in enumerate(recording_items(reader, settings.raw_imu)):
                if isinstance(item, sink.accepts):
                    await channel.send(item)
                if on_progress is not None and i % 1000 == 0:
                    on_progress(sink.stats())
        finally:
            channel.close()

    async with sink, asyncio.TaskGroup() as tg:
        tg.create_task(feed(), name="export:feed")
        tg.create_task(sink.consume(channel), name="export:sink")
    return sink.stats()
