"""Causal filters with carried state: identical output for any block size.

Zero-phase filters (``filtfilt``) are not allowed anywhere in sensorkit: they need the whole
recording. Instead each filter carries its state between blocks and, where a stage needs
precise timing, uses a linear-phase FIR whose delay is an exact, known number of samples so
event times can be corrected for it.
"""

from __future__ import annotations

from functools import reduce
from operator import add

import numpy as np
from scipy import signal

from sensorkit.dsp.base import F64


class SosFilter:
    """Butterworth IIR (second-order sections) over ``(n, channels)`` blocks with carried ``zi``.

    After a restart the state is set to the steady state of the first sample, so a gap does not
    ring. Group delay varies with frequency: use it for shapes and levels, not for timing.
    """

    def __init__(self, order: int, cutoff_hz: float | tuple[float, float], sampling_rate_hz: float,
                 btype: str = "lowpass", channels: int = 1) -> None:
        nyq = 0.5 * sampling_rate_hz
        wn = tuple(min(c / nyq, 0.99) for c in cutoff_hz) if isinstance(cutoff_hz, tuple) \
            else min(cutoff_hz / nyq, 0.99)
        self.sos = signal.butter(order, wn, btype=btype, output="sos")
        self._zi0 = signal.sosfilt_zi(self.sos)  # (sections, 2) for a unit step
        self.channels = channels
        self._zi: F64 | None = None
        self._highpass = btype in ("highpass", "bandpass")  # no DC gain: start from rest

    def reset(self) -> None:
        self._zi = None

    def __call__(self, x: F64) -> F64:
        """Filter ``x`` of shape ``(n,)`` or ``(n, channels)``; returns the same shape."""
        if x.shape[0] == 0:
            return x.copy()
        if self._zi is None:
            x0 = x[0]
            scale = 0.0 if self._highpass else x0
            self._zi = self._zi0[:, :, None] * np.reshape(scale, (1, 1, -1)) if x.ndim == 2 \
                else self._zi0 * scale
        y, self._zi = signal.sosfilt(self.sos, x, axis=0, zi=self._zi)
        return np.asarray(y)


class FirLowpass:
    """Linear-phase low-pass FIR: delay is exactly ``delay_samples`` at every frequency.

    The first ``delay_samples`` outputs after a restart assume the signal held its first value
    before it started (no start-up ramp).
    """

    def __init__(self, cutoff_hz: float, sampling_rate_hz: float, duration_s: float = 0.05) -> None:
        taps = max(3, round(duration_s * sampling_rate_hz) | 1)  # odd length
        self.taps = signal.firwin(taps, min(cutoff_hz / (0.5 * sampling_rate_hz), 0.99))
        self._reversed = self.taps[::-1].copy()  # convolution = correlation with reversed taps
        self.delay_samples = (taps - 1) // 2
        self._tail: F64 | None = None

    def reset(self) -> None:
        self._tail = None

    def __call__(self, x: F64) -> F64:
        """Filter a 1-D block."""
        n = x.shape[0]
        if n == 0:
            return x.copy()
        k = self.taps.shape[0]
        if self._tail is None:
            self._tail = np.full(k - 1, x[0])
        ext = np.concatenate([self._tail, x])
        # np.convolve reverses the taps on every call before correlating: at live block sizes
        # (8 samples) that wrapper is half the filter's cost. Same kernel, same bits.
        y = np.correlate(ext, self._reversed, mode="valid")
        self._tail = ext[-(k - 1):]
        return y


class BlockMean:
    """Averages consecutive groups of ``factor`` samples (anti-alias + decimate in one step).

    Groups are counted from the first sample after a restart, carried across blocks, so the
    decimated stream does not depend on block size.
    """

    def __init__(self, factor: int, width: int) -> None:
        self.factor = max(int(factor), 1)
        self.width = width
        self._divisor = float(self.factor)  # numpy converts an int divisor per call
        self._none = np.empty((0, width))  # shared: no group completed, nothing pending
        self._none.flags.writeable = False
        self._pending = self._none

    def reset(self) -> None:
        self._pending = self._none

    def one_group(self, time_s: F64, channels: F64) -> tuple[float, F64] | None:
        """``__call__(time_s[:, None], *channels)`` for a block that is one whole group, else None.

        A live block (8 samples at 200 Hz, averaged to 25 Hz) is one group with nothing pending:
        its mean time and channel means, ``channels`` being (k, factor, 3) stacks (acc and gyro
        as calibration turned them), without laying the columns side by side first (~20 k
        instructions). The same sums, row after row: the times in Python floats, the channels
        by a reduction along their rows (numpy adds the rows in order there), then divided.
        """
        f = self.factor
        if f == 1 or time_s.shape[0] != f or self._pending.shape[0]:
            return None
        return reduce(add, time_s.tolist()) / self._divisor, np.add.reduce(channels, 1) / self._divisor

    def __call__(self, *columns: F64) -> F64:
        """The means of all groups completed by the new samples: shape ``(groups, width)``.

        ``columns`` are (n, k) pieces laid side by side into ``width`` columns, after what is
        pending from earlier blocks. Groups are summed in order, first sample to last, then
        divided by ``factor``: ``rows.reshape(-1, factor, width).mean(axis=1)``, to the bit.
        """
        x = np.concatenate(columns, axis=1)
        if self._pending.shape[0]:
            x = np.concatenate((self._pending, x))
        f = self.factor
        if f == 1:
            return x
        n = x.shape[0]
        m = n - n % f
        self._pending = x[m:].copy() if m < n else self._none
        if m == 0:
            return self._none
        if m >= 64 * f:
            # Many groups (big blocks): the reduction's iterator over the middle axis costs ~30
            # instructions a value; ``factor`` strided adds make the same sequential sums (the
            # same bits) for a fraction.
            total = x[0:m:f] + x[1:m:f]
            for k in range(2, f):
                total += x[k:m:f]
            return total / self._divisor
        if m == f:
            # One group (live blocks): the rows' sum along the first axis adds them in the same
            # order as the middle-axis reduction, without the reshape and for fewer instructions.
            return np.add.reduce(x[:f], 0, keepdims=True) / self._divisor
        # ndarray.mean's Python wrapper costs more than the sums at live block sizes; a sum along
        # the middle axis then a division is what it computes (same bits).
        return np.add.reduce(x[:m].reshape(-1, f, self.width), axis=1) / self._divisor
