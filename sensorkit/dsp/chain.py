"""One sensor's DSP chain, chosen by placement: calibration -> detector (+ AHRS for the back).

``SensorChain.update`` takes the sensor's :class:`SampleBlock` and :class:`Gap` items in order
and returns contacts, lean and calibrations. Explicit gaps and jumps in the timestamps
(more than ``gap_periods`` sample periods, or time going backwards) restart the detectors,
so no step is ever made of samples on both sides of a hole.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sensorkit.dsp.back import BackStepDetector, BackStepSettings
from sensorkit.dsp.base import F64, StageHealth, split_at_gaps
from sensorkit.dsp.calibration import CalibrationResult, CalibrationSettings, MountingCalibration
from sensorkit.dsp.contacts import Contact
from sensorkit.dsp.foot import FootStepDetector, FootStepSettings
from sensorkit.dsp.foot_acc import FOOT_ACC_DEFAULTS, FootAccStepDetector
from sensorkit.dsp.phone import PhoneStepDetector, PhoneStepSettings
from sensorkit.dsp.posture import LeanSeries, PostureSettings, TrunkPosture
from sensorkit.model import Gap, Placement, SampleBlock, SensorInfo, Side


@dataclass(frozen=True, slots=True)
class DspSettings:
    """Settings of every stage, grouped; the defaults are the validated ones (docs/dsp.md)."""

    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)
    """Mounting calibration (all pods except phones)."""
    back: BackStepSettings = field(default_factory=BackStepSettings)
    """Lower-back step detector."""
    foot: FootStepSettings = field(default_factory=FootStepSettings)
    """Shoe-pod step detector."""
    phone: PhoneStepSettings = field(default_factory=PhoneStepSettings)
    """Phone step detector (band-passed |acc|)."""
    foot_acc: BackStepSettings = FOOT_ACC_DEFAULTS
    """Shoe pods without a gyro: strides from the |acc| hump."""
    posture: PostureSettings = field(default_factory=PostureSettings)
    """Trunk lean AHRS (lower back)."""
    gap_periods: float = 2.5
    """A time step longer than this many sample periods (dimensionless) is a gap."""


@dataclass(slots=True)
class ChainOutput:
    """What one update produced. ``lean`` is at the AHRS rate (lower back only)."""

    contacts: list[Contact] = field(default_factory=list)
    lean: list[LeanSeries] = field(default_factory=list)
    calibrations: list[CalibrationResult] = field(default_factory=list)

    def lean_arrays(self) -> LeanSeries:
        if not self.lean:
            return LeanSeries(np.empty(0), np.empty(0), np.empty(0))
        if len(self.lean) == 1:  # the usual case on live blocks: nothing to join
            return self.lean[0]
        return LeanSeries(np.concatenate([x.time_s for x in self.lean]),
                          np.concatenate([x.lean_deg for x in self.lean]),
                          np.concatenate([x.lateral_deg for x in self.lean]))


def _none() -> None:
    return None


_SHORT_BLOCK = 32
"""Blocks of at most this many samples (live pods send 8) are checked in Python floats first."""

_Stage = (MountingCalibration | BackStepDetector | FootStepDetector | PhoneStepDetector | FootAccStepDetector
          | TrunkPosture)


class SensorChain:
    """All DSP for one sensor stream; pure and synchronous."""

    def __init__(self, info: SensorInfo, settings: DspSettings | None = None) -> None:
        self.info = info
        self.settings = settings or DspSettings()
        s = self.settings
        fs = info.sampling_rate_hz
        self.placement = info.placement
        self._max_dt = s.gap_periods / fs
        self.calibration: MountingCalibration | None = None
        self.posture: TrunkPosture | None = None
        self.back: BackStepDetector | None = None
        self.foot: FootStepDetector | None = None
        self.phone: PhoneStepDetector | None = None
        self.foot_acc: FootAccStepDetector | None = None
        acc_range = info.acc_range_g
        if info.placement is Placement.PHONE:
            self.phone = PhoneStepDetector(s.phone, fs)
        else:
            self.calibration = MountingCalibration(s.calibration, info.placement, fs, info.has_gyro,
                                                   self._max_dt)
            if info.placement is Placement.LOWER_BACK:
                bset = s.back if acc_range is None or s.back.acc_range_g is not None \
                    else dataclasses.replace(s.back, acc_range_g=acc_range)
                self.back = BackStepDetector(bset, fs)
                self.posture = TrunkPosture(s.posture, fs, info.has_gyro)
            else:
                side = Side.LEFT if info.placement is Placement.LEFT_FOOT else Side.RIGHT
                fset = s.foot if acc_range is None or s.foot.acc_range_g is not None \
                    else dataclasses.replace(s.foot, acc_range_g=acc_range)
                if info.has_gyro:
                    self.foot = FootStepDetector(fset, fs, side)
                else:
                    self.foot_acc = FootAccStepDetector(s.foot_acc, fs, side)
        self._detector = self.back or self.foot or self.phone or self.foot_acc
        det, ics = self._detector, self.back or self.foot
        self.detector_watermark_s: Callable[[], float | None] = det.watermark_s if det is not None else _none
        """``watermark_s`` of a calibrated chain, without its dispatch (read after every live block)."""
        self.detector_open_ics_s: Callable[[], list[float]] = ics.open_ics_s if ics is not None else list
        """``open_ics_s`` without its dispatch."""
        self._last_t: float | None = None
        self.nonfinite_samples = 0
        """Samples dropped because a value was NaN or infinite."""

    # -- public ---------------------------------------------------------------------------------
    def reset(self) -> None:
        for st in self._stages():
            st.reset()
        self._last_t = None
        self.nonfinite_samples = 0

    def health(self) -> StageHealth:
        """Combined health: warming up if any stage is; counters summed."""
        out = StageHealth(warming_up=False)
        for st in self._stages():
            h = st.health
            out.warming_up = out.warming_up or h.warming_up
            out.saturated += h.saturated
            out.rejected += h.rejected
            out.gaps = max(out.gaps, h.gaps)
        out.rejected += self.nonfinite_samples
        return out

    def watermark_s(self) -> float | None:
        """No contact this chain releases later will have an IC before this time."""
        if self.calibration is not None and self.calibration.rotation is None:
            return self.calibration.held_since_s()
        return self._detector.watermark_s() if self._detector is not None else None

    def open_ics_s(self) -> list[float]:
        """ICs confirmed but not yet released (the back holds contacts one step, a shoe to TC)."""
        if self.back is not None:
            return self.back.open_ics_s()
        return self.foot.open_ics_s() if self.foot is not None else []

    @property
    def calibrated(self) -> bool:
        return self.calibration is None or self.calibration.rotation is not None

    def update(self, item: SampleBlock | Gap) -> ChainOutput:
        out = ChainOutput()
        if isinstance(item, Gap):
            self._gap(out)
            self._last_t = None
            return out
        t, acc, gyr_all = item.time_s, item.acc_g, item.gyr_dps
        n = t.shape[0]
        if n == 0:
            return out
        if n <= _SHORT_BLOCK and self._last_t is not None:
            # A live block: its checks (finite, continuing the last block without a gap) cost
            # ~45 k instructions in numpy calls, several times its samples' worth in Python.
            clean, stacked = self._clean_live_block(t, acc, gyr_all, self._last_t)
            if clean:
                self._samples(t, acc, gyr_all, out, stacked)
                self._last_t = float(t[-1])
                return out
        # Whole-array checks first: a sum of squares is finite only if every value is (one dot
        # product per array: the cheapest numpy call on a few rows). The per-row mask
        # (reductions along rows of 3, slow) only when it is not, which also catches a sum
        # that merely overflowed (values beyond ~1e154): its mask keeps every row.
        check = float(np.dot(t, t)) + float(np.vdot(acc, acc))
        if gyr_all is not None:
            check += float(np.vdot(gyr_all, gyr_all))
        if not math.isfinite(check):
            finite = self._finite_rows(t, acc, gyr_all)
            # A NaN would poison every filter state for good: such samples are dropped and
            # counted; a long enough run of them becomes a gap through the time jump.
            self.nonfinite_samples += int((~finite).sum())
            t, acc = t[finite], acc[finite]
            gyr_all = None if gyr_all is None else gyr_all[finite]
            if t.shape[0] == 0:
                return out
        cuts = split_at_gaps(t, self._last_t, self._max_dt)
        if not cuts:  # the usual case: one run continuing the last block
            self._samples(t, acc, gyr_all, out)
            self._last_t = float(t[-1])
            return out
        bounds = [0, *[c for c in cuts if c > 0], t.shape[0]]
        for k in range(len(bounds) - 1):
            a, b = bounds[k], bounds[k + 1]
            if (a > 0) or (0 in cuts):
                self._gap(out)
            if b > a:
                gyr = None if gyr_all is None else gyr_all[a:b]
                self._samples(t[a:b], acc[a:b], gyr, out)
        self._last_t = float(t[-1])
        return out

    # -- internals ------------------------------------------------------------------------------
    def _clean_live_block(self, t: F64, acc: F64, gyr: F64 | None, last_t: float) -> tuple[bool, F64 | None]:
        """Whether a short block is finite and continues ``last_t`` without a gap; acc and gyr stacked.

        The same decisions as the general path (``split_at_gaps`` finds no cut and every value
        is finite), on the time stamps as Python floats (a few samples: cheaper than numpy's
        calls) and one dot product of acc and gyr stacked as the calibration wants them.
        """
        max_dt = self._max_dt
        prev = last_t
        for x in t.tolist():  # bounded by _SHORT_BLOCK: never a long per-sample loop
            d = x - prev
            if not 0.0 < d <= max_dt:  # also false for NaN; infinities make a step out of range
                return False, None
            prev = x
        if gyr is not None and self.calibration is not None:
            stacked = np.concatenate((acc, gyr))
            return math.isfinite(float(np.vdot(stacked, stacked))), stacked
        check = float(np.vdot(acc, acc))
        if gyr is not None:
            check += float(np.vdot(gyr, gyr))
        return math.isfinite(check), None

    @staticmethod
    def _finite_rows(t: F64, acc: F64, gyr: F64 | None) -> NDArray[np.bool_]:
        finite = np.isfinite(t) & np.isfinite(acc).all(axis=1)
        if gyr is not None:
            finite &= np.isfinite(gyr).all(axis=1)
        return finite

    def _stages(self) -> list[_Stage]:
        all_ = (self.calibration, self.back, self.foot, self.phone, self.foot_acc, self.posture)
        return [x for x in all_ if x is not None]

    def _gap(self, out: ChainOutput) -> None:
        if self.calibration is not None:
            self.calibration.gap()
        for det in (self.back, self.foot, self.phone, self.foot_acc):
            if det is not None:
                out.contacts.extend(det.gap())
        if self.posture is not None:
            self.posture.gap()

    def _samples(self, t: F64, acc: F64, gyr: F64 | None, out: ChainOutput, stacked: F64 | None = None) -> None:
        if self.phone is not None:
            out.contacts.extend(self.phone.update(t, acc))
            return
        assert self.calibration is not None
        for seg in self.calibration.update(t, acc, gyr, stacked):
            out.calibrations.extend(seg.calibrations)
            if seg.restarted:
                for det in (self.back, self.foot, self.foot_acc):
                    if det is not None:
                        out.contacts.extend(det.gap())
                if self.posture is not None:
                    self.posture.new_frame()
            if seg.time_s.shape[0] == 0:
                continue
            if self.back is not None:
                out.contacts.extend(self.back.update(seg.time_s, seg.acc_g, seg.gyr_dps))
            if self.posture is not None:
                lean = self.posture.update(seg.time_s, seg.acc_g, seg.gyr_dps, seg.both_bf)
                if lean.time_s.shape[0]:
                    out.lean.append(lean)
            if self.foot is not None:
                g = seg.gyr_dps if seg.gyr_dps is not None else np.zeros_like(seg.acc_g)
                out.contacts.extend(self.foot.update(seg.time_s, seg.acc_g, g))
            if self.foot_acc is not None:
                out.contacts.extend(self.foot_acc.update(seg.time_s, seg.acc_g))
