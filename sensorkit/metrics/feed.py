"""One pod as the metrics stage sees it: its chain, and the marks fusion may rely on.

The marks are facts no later block can change (block invariance, see
:mod:`sensorkit.metrics.runner`): a watermark that is a true lower bound of the pod's future
ICs, the ICs it has announced, and how far its lean readings are final.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sensorkit.dsp.chain import SensorChain
from sensorkit.model import Side

_NO_FLOOR = -math.inf


@dataclass(slots=True)
class PodFeed:
    """One sensor as fusion sees it: its chain, and its marks as of the chain's last update."""

    chain: SensorChain
    shoe: Side | None
    """The foot whose next IC this pod times (a shoe pod with a gyro), else None."""
    first_s: float | None = None
    last_s: float | None = None
    calibrated: bool = False
    ever_calibrated: bool = False
    warming_since_s: float | None = None
    """Oldest sample held when the pod (re)started to warm up (None: calibrated)."""
    overdue: bool = False
    """Uncalibrated for over max_warmup_s of its own data: waited for at its last sample only, and
    the contacts its late calibration releases from before ``accept_from_s`` are dropped."""
    accept_from_s: float = -math.inf
    watermark_s: float | None = None
    """A lower bound of every IC this pod will still give fusion; held over gaps."""
    open_ics_s: list[float] = field(default_factory=list)
    announced_s: list[float] = field(default_factory=list)
    """ICs announced open whose stance was then dropped (see Contact.announced_only)."""
    lean_until_s: float = -math.inf
    """Lean readings (posture pods) are final up to here."""

    def mark(self, calibrated_at_s: float | None, max_warmup_s: float) -> None:
        """Update the marks after the chain's update: facts that no later block can change.

        An uncalibrated pod (at the start, or recalibrating after a re-clip) holds its samples
        back and releases them when it calibrates, so its watermark is the oldest held sample -
        for the first ``max_warmup_s`` of its own data since it began to warm up. After that it
        would hold fusion back too long: it is then waited for at its last sample, and of what a
        late calibration releases only contacts from the calibration on count.
        """
        chain = self.chain
        cal = chain.calibration
        calibrated = cal is None or cal.rotation is not None  # chain.calibrated
        held = self.watermark_s
        if calibrated and self.ever_calibrated and not self.overdue:  # the usual live item
            # A calibrated chain's marks are its detector's: read without the chain's dispatch.
            w = chain.detector_watermark_s()
            if w is None or (held is not None and held > w):
                w = held
            floor = self.accept_from_s
            if floor == _NO_FLOOR:
                self.watermark_s = w
                self.open_ics_s = chain.detector_open_ics_s()
                return
            if w is not None and w < floor:
                w = floor
            self.watermark_s = w
            self.open_ics_s = [t for t in chain.detector_open_ics_s() if t >= floor]
            return
        if not calibrated:
            if self.warming_since_s is None:
                self.warming_since_s = chain.watermark_s() if self.ever_calibrated else self.first_s
            since = self.warming_since_s
            if since is not None and self.last_s is not None and \
                    self.last_s - since > max_warmup_s:
                self.overdue = True
        else:
            self.warming_since_s = None
        if calibrated and self.overdue:
            self.overdue = False
            if calibrated_at_s is not None:
                self.accept_from_s = max(calibrated_at_s, held if held is not None else -math.inf)
            elif held is not None:
                self.accept_from_s = held
        self.calibrated = calibrated
        if calibrated:
            self.ever_calibrated = True
        w = self.last_s if self.overdue else chain.watermark_s()
        if w is None:
            w = held  # after a gap the detectors restart on later samples: the old mark holds
        elif held is not None and held > w:
            w = held
        if w is not None and w < self.accept_from_s:
            w = self.accept_from_s
        self.watermark_s = w
        if self.overdue:
            self.open_ics_s = []
            if self.last_s is not None and self.lean_until_s < self.last_s:
                self.lean_until_s = self.last_s  # later lean from before accept_from_s is dropped
        else:
            ics = chain.open_ics_s()
            floor = self.accept_from_s
            self.open_ics_s = ics if floor == -math.inf else [t for t in ics if t >= floor]
            if not calibrated and w is not None and w > self.lean_until_s:
                self.lean_until_s = w  # held samples (and their lean) start there

    def crossed(self, before: tuple[float | None, float], k: float) -> bool:
        """Whether this pod's marks just passed second ``k``.

        If not, the rolling frontier (a minimum over every pod) cannot have passed it either.
        """
        wm, lean = self.watermark_s, self.lean_until_s
        w0 = before[0]
        return (wm is not None and wm > k and (w0 is None or w0 <= k)) or (lean > k >= before[1])
