"""What an app-specific reader returns: channels on the phone's clock, before alignment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from sensorkit.sources.phone.batch import (
    DEG_PER_RAD,
    STANDARD_GRAVITY_MPS2,
    Channel,
    ChannelData,
    GpsFix,
)


@dataclass
class RawExport:
    """Channels with ``device_s`` in unix seconds (or experiment seconds if the start is unknown)."""

    app: str
    channels: dict[Channel, ChannelData] = field(default_factory=dict)
    fixes: list[GpsFix] = field(default_factory=list)
    start_unix_s: float | None = None
    device: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, channel: Channel, data: ChannelData) -> None:
        """Merge samples of a channel (an export may split one sensor over several files)."""
        if channel in self.channels:
            old = self.channels[channel]
            data = ChannelData(np.concatenate([old.device_s, data.device_s]),
                               np.concatenate([old.values, data.values]))
        self.channels[channel] = data


_UNIT = re.compile(r"\(([^)]*)\)\s*$")


def unit_scale(header: str, channel: Channel) -> float | None:
    """Factor from the unit named in a column header to sensorkit units; None if unknown."""
    m = _UNIT.search(header)
    unit = (m.group(1) if m else "").strip().lower().replace(" ", "")
    unit = unit.replace("²", "^2").replace("µ", "u").replace("μ", "u").replace("°", "deg")
    if channel in (Channel.ACC, Channel.LINEAR_ACC, Channel.GRAVITY):
        per_g = 1 / STANDARD_GRAVITY_MPS2
        return {"m/s^2": per_g, "m/s2": per_g, "ms^-2": per_g, "g": 1.0, "": per_g}.get(unit)
    if channel is Channel.GYR:
        return {"rad/s": DEG_PER_RAD, "deg/s": 1.0, "": DEG_PER_RAD}.get(unit)
    return {"ut": 1.0, "": 1.0, "t": 1e6, "nt": 1e-3}.get(unit)
