"""Slow natural wander of a runner's form: real runners drift a little even when fresh.

Each channel (cadence, contact time, impact, lean) is a sum of a few sinusoids with periods
between 3 and 20 minutes and seeded phases, scaled to unit standard deviation, so a
false-alarm benchmark on a "steady" runner sees realistic minute-scale variation that is not
fatigue.
"""

from __future__ import annotations

import math

import numpy as np

from sensorkit.sources.simulator.profile import F64

_TAG = 53
_CHANNELS = ("cadence", "contact", "impact", "lean")


class SlowWander:
    """Unit-SD smooth random processes ``value(channel, t)`` and their time derivatives."""

    def __init__(self, seed: int, components: int = 4, min_period_s: float = 180.0,
                 max_period_s: float = 1200.0) -> None:
        self._w: dict[str, F64] = {}
        self._ph: dict[str, F64] = {}
        for k, name in enumerate(_CHANNELS):
            rng = np.random.default_rng([seed, _TAG, k])
            periods = np.exp(rng.uniform(math.log(min_period_s), math.log(max_period_s), components))
            self._w[name] = 2 * math.pi / periods
            self._ph[name] = rng.uniform(0, 2 * math.pi, components)
        self._amp = math.sqrt(2.0 / components)

    def value(self, channel: str, t: F64 | float) -> F64:
        t = np.asarray(t, dtype=np.float64)
        arg = np.multiply.outer(t, self._w[channel]) + self._ph[channel]
        return np.asarray(self._amp * np.sin(arg).sum(axis=-1))

    def rate(self, channel: str, t: F64 | float) -> F64:
        t = np.asarray(t, dtype=np.float64)
        arg = np.multiply.outer(t, self._w[channel]) + self._ph[channel]
        return np.asarray(self._amp * (np.cos(arg) * self._w[channel]).sum(axis=-1))
