"""Build a phone source from its settings: the one entry point the CLI needs."""

from __future__ import annotations

from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.phone.hyperimu_source import HyperImuSource
from sensorkit.sources.phone.phyphox_source import PhyphoxSource
from sensorkit.sources.phone.sensorlogger_http import SensorLoggerHttpSource
from sensorkit.sources.phone.sensorlogger_mqtt import SensorLoggerMqttSource
from sensorkit.sources.phone.settings import (
    HyperImuSettings,
    PhyphoxSettings,
    SensorLoggerHttpSettings,
    SensorLoggerMqttSettings,
)
from sensorkit.sources.phone.source_base import AnyPhoneSettings, PhoneSourceBase


def build_phone_source(settings: AnyPhoneSettings, clock: HostClock) -> PhoneSourceBase:
    """A live :class:`~sensorkit.sources.base.Source` for one ``[[phones]]`` entry.

    ``clock`` is the session's host clock (arrivals are stamped with ``clock.now_s()``).
    Nothing is opened until the source is entered (``async with``); secrets are read then.
    """
    if isinstance(settings, SensorLoggerHttpSettings):
        return SensorLoggerHttpSource(settings, clock)
    if isinstance(settings, SensorLoggerMqttSettings):
        return SensorLoggerMqttSource(settings, clock)
    if isinstance(settings, PhyphoxSettings):
        return PhyphoxSource(settings, clock)
    if isinstance(settings, HyperImuSettings):
        return HyperImuSource(settings, clock)
    raise TypeError(f"not a phone setting: {type(settings).__name__}")
