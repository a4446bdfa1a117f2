"""Build a phone source from its settings: the one entry point the CLI needs."""

from __future__ import annotations

from sensorkit.pipeline.clock import HostClock
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
    Each source's module is imported here, when it is used: the HTTP ones bring aiohttp (~13 MB
    of RSS) that a session without phones never needs.
    """
    if isinstance(settings, SensorLoggerHttpSettings):
        from sensorkit.sources.phone.sensorlogger_http import SensorLoggerHttpSource

        return SensorLoggerHttpSource(settings, clock)
    if isinstance(settings, SensorLoggerMqttSettings):
        from sensorkit.sources.phone.sensorlogger_mqtt import SensorLoggerMqttSource

        return SensorLoggerMqttSource(settings, clock)
    if isinstance(settings, PhyphoxSettings):
        from sensorkit.sources.phone.phyphox_source import PhyphoxSource

        return PhyphoxSource(settings, clock)
    if isinstance(settings, HyperImuSettings):
        from sensorkit.sources.phone.hyperimu_source import HyperImuSource

        return HyperImuSource(settings, clock)
    raise TypeError(f"not a phone setting: {type(settings).__name__}")
