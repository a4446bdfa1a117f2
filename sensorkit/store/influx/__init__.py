"""InfluxDB storage of live streams: schema, batching, outage spool; v1 and v2 APIs.

Public API: :class:`InfluxSettings` (config section ``[influx]``), :class:`InfluxSink` (a
pipeline Sink), :func:`make_influx_sink` (the factory the CLI uses), :func:`make_writer`,
:class:`PointEncoder` and :class:`InfluxStats`. Schema: docs/influxdb.md.
"""

from __future__ import annotations

from sensorkit.model import SessionInfo
from sensorkit.store.influx.errors import (
    InfluxAuthError,
    InfluxNotFound,
    InfluxRejected,
    InfluxUnavailable,
    InfluxUnreachable,
)
from sensorkit.store.influx.schema import PointEncoder
from sensorkit.store.influx.settings import InfluxApi, InfluxSettings, RawImuMode
from sensorkit.store.influx.sink import InfluxSink, InfluxStats
from sensorkit.store.influx.writer import Writer, make_writer


def make_influx_sink(settings: InfluxSettings, info: SessionInfo) -> InfluxSink | None:
    """The sink for a session, or None when ``[influx] enabled`` is false."""
    return InfluxSink(settings, info) if settings.enabled else None


__all__ = [
    "InfluxApi",
    "InfluxAuthError",
    "InfluxNotFound",
    "InfluxRejected",
    "InfluxSettings",
    "InfluxSink",
    "InfluxStats",
    "InfluxUnavailable",
    "InfluxUnreachable",
    "PointEncoder",
    "RawImuMode",
    "Writer",
    "make_influx_sink",
    "make_writer",
]
