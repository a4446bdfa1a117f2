"""Phones as sources: phyphox, Sensor Logger and HyperIMU, live and from their exports.

Live: :func:`build_phone_source` turns one ``[[phones]]`` config entry (a
:data:`PhoneSettings`) into a :class:`~sensorkit.sources.base.Source`;
:func:`phone_sensor_info` gives its :class:`~sensorkit.model.SensorInfo` up front.
Recorded exports: :mod:`sensorkit.sources.phone.imports`.
"""

from sensorkit.sources.phone.factory import build_phone_source
from sensorkit.sources.phone.settings import (
    HyperImuSettings,
    PhoneSettings,
    PhyphoxSettings,
    SensorLoggerHttpSettings,
    SensorLoggerMqttSettings,
)
from sensorkit.sources.phone.source_base import PhoneSourceBase, PhoneSourceStats, phone_sensor_info

__all__ = [
    "HyperImuSettings",
    "PhoneSettings",
    "PhoneSourceBase",
    "PhoneSourceStats",
    "PhyphoxSettings",
    "SensorLoggerHttpSettings",
    "SensorLoggerMqttSettings",
    "build_phone_source",
    "phone_sensor_info",
]
