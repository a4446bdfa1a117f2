"""Where samples come from: simulator, recordings, CSV/phone files, phones; BLE is in ``sensorkit.ble``."""

from sensorkit.sources.base import Source

__all__ = ["Source"]
