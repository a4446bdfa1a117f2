"""What the emulated pods measure: a running body, or a sample counter that makes loss visible.

Signals are functions of the *true* time (the host's monotonic clock), so several pods
emulated in one process observe one runner, and their alignment can be checked exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RunningMotion:
    """A crude runner: vertical bounce, an impact spike per step, trunk rotation."""

    cadence_spm: float = 172.0
    impact_g: float = 2.5
    phase: float = 0.0

    def sample(self, t_true_s: F64, index: NDArray[np.int64]) -> tuple[F64, F64]:
        f = self.cadence_spm / 60.0
        w = 2 * np.pi * f * t_true_s + self.phase
        step_phase = (f * t_true_s + self.phase / (2 * np.pi)) % 1.0
        impact = self.impact_g * np.exp(-(((step_phase - 0.05) / 0.02) ** 2))
        acc = np.column_stack([0.25 * np.sin(w), 0.15 * np.sin(w / 2), 1.0 + 0.6 * np.sin(w) + impact])
        gyr = np.column_stack([40 * np.sin(w / 2), 60 * np.cos(w), 25 * np.sin(w / 2 + 0.3)])
        return acc, gyr


@dataclass(frozen=True, slots=True)
class CounterMotion:
    """``acc x`` carries the sample index (mod 2**15 counts of the full scale): for tests.

    ``acc x [g] = (index mod 32768) * range / 32768``: decode it back with the same range.
    """

    acc_range_g: float = 16.0

    def sample(self, t_true_s: F64, index: NDArray[np.int64]) -> tuple[F64, F64]:
        n = index.shape[0]
        acc = np.zeros((n, 3))
        acc[:, 0] = (index % 32768) * (self.acc_range_g / 32768.0)
        acc[:, 2] = 1.0
        return acc, np.zeros((n, 3))


Motion = RunningMotion | CounterMotion
