"""``RunnerMetrics``: the per-runner RecordStage turning raw sensor items into gait records.

Routes each sensor's SampleBlock/Gap to its :class:`~sensorkit.dsp.chain.SensorChain`, fuses
the contacts (:mod:`sensorkit.metrics.fusion`) and emits, in data time:

* ``StepEvent`` - IC and TC of every contact as each sensor releases it;
* ``StepMetrics`` - one per fused step, as soon as the next IC is known (within one step plus
  the detectors' look-ahead, see ``docs/dsp.md``);
* ``PostureSample`` - trunk lean at ``posture_rate_hz`` (lower-back pod);
* ``RollingMetrics`` - for every whole second of data time, once every step and lean reading
  up to that second is final;
* ``Calibration`` - whenever a pod is (re)calibrated.

Block invariance: the records do not depend on how the samples were cut into blocks (live
40-ms blocks, a replay's 1-s grid), only on the data. Every decision is taken on facts that
no later block can change: a pod's watermark is a true lower bound of its future ICs (held
over gaps; an uncalibrated pod's oldest held sample), a next IC is taken only once no more
precise pod can still move it, a step's speed and lean are those known up to its own times,
and a rolling second is summarised only when final.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Sequence

import numpy as np

from sensorkit.dsp.chain import DspSettings, SensorChain
from sensorkit.dsp.contacts import Contact
from sensorkit.dsp.posture import LeanSeries
from sensorkit.dsp.strike import classify_strike
from sensorkit.metrics.feed import PodFeed
from sensorkit.metrics.fusion import FusedStep, StepFusion
from sensorkit.metrics.lean_history import LeanHistory
from sensorkit.metrics.rolling import RollingWindow
from sensorkit.metrics.settings import MetricsSettings
from sensorkit.model import (
    BusItem,
    Calibration,
    EventKind,
    Gap,
    Placement,
    PostureSample,
    Record,
    RunnerInfo,
    SampleBlock,
    SensorInfo,
    Side,
    SpeedSample,
    StepEvent,
    StepMetrics,
)

_FEET = (Placement.LEFT_FOOT, Placement.RIGHT_FOOT)
# Enum members as module names: on Python 3.11 ``EventKind.X`` goes through EnumType's
# __getattr__ slot hook (~600 instructions a read, 10x a global); these are read per event/step.
_IC, _TC = EventKind.INITIAL_CONTACT, EventKind.TERMINAL_CONTACT
_LEFT, _RIGHT = Side.LEFT, Side.RIGHT
_LEFT_FOOT, _RIGHT_FOOT, _LOWER_BACK = Placement.LEFT_FOOT, Placement.RIGHT_FOOT, Placement.LOWER_BACK


class RunnerMetrics:
    """Pure, synchronous RecordStage for one runner (see module docstring)."""

    def __init__(self, runner: RunnerInfo, sensors: Sequence[SensorInfo],
                 settings: MetricsSettings | None = None, dsp: DspSettings | None = None) -> None:
        self.runner = runner
        self.settings = settings or MetricsSettings()
        self.dsp = dsp or self.settings.dsp_settings()
        s = self.settings
        self.sensors = {x.sensor_id: x for x in sensors if x.runner == runner.name}
        self.chains = {sid: SensorChain(info, self.dsp) for sid, info in self.sensors.items()}
        self._feeds = {sid: PodFeed(chain, _shoe_side(chain)) for sid, chain in self.chains.items()}
        self.fusion = StepFusion(s.match_tolerance_s, self.dsp.back.min_step_s, self.dsp.back.max_step_s)
        self.rolling = RollingWindow(runner.name, s.rolling_window_s)
        places = {x.placement for x in self.sensors.values()}
        self._impact_from_shoe = {Side.LEFT: Placement.LEFT_FOOT in places,
                                  Side.RIGHT: Placement.RIGHT_FOOT in places}
        keep_s = self.dsp.calibration.max_warmup_s + 4 * self.dsp.back.max_step_s + 5.0
        self._lean = LeanHistory(round(keep_s * self.dsp.posture.ahrs_rate_hz) + 16)
        self._posture_period_s = 1.0 / s.posture_rate_hz
        # Settings read per item, copied once: each read of a pydantic model's field goes through
        # its __getattr__ slot hook (~600 instructions; the settings are frozen).
        self._stale_s = s.stale_s
        self._match_tolerance_s = s.match_tolerance_s
        self._speed_max_age_s = s.speed_max_age_s
        self._max_warmup_s = self.dsp.calibration.max_warmup_s
        self._lean_last_s = -math.inf
        self._queued: deque[FusedStep] = deque()  # released by fusion, waiting for their lean
        self._next_posture_s: float | None = None
        self._next_rolling_s: float | None = None
        self._step_times: deque[float] = deque(maxlen=s.cadence_smoothing_steps)
        self._speeds: deque[SpeedSample] = deque()
        self._now = -math.inf

    # -- RecordStage ----------------------------------------------------------------------------
    def update(self, item: BusItem) -> list[Record]:
        if isinstance(item, SpeedSample):
            if item.sensor_id in self.sensors or item.sensor_id.startswith(self.runner.name + "/"):
                self._add_speed(item)
                self.rolling.add_speed(item)
            return []
        if not isinstance(item, SampleBlock | Gap):
            return []
        feed = self._feeds.get(item.sensor_id)
        if feed is None:
            return []
        out: list[Record] = []
        chain = feed.chain
        res = chain.update(item)
        marks_before = (feed.watermark_s, feed.lean_until_s)
        if isinstance(item, SampleBlock) and item.time_s.shape[0]:
            # Read from the array (``end_s``/``len`` are three Python calls more per item).
            end_s = item.time_s.item(-1)
            feed.last_s = end_s
            if feed.first_s is None:
                feed.first_s = item.time_s.item(0)
            if end_s > self._now:
                self._now = end_s
        # A chain's watermark and open ICs change only when it is updated: read them once here
        # instead of for every chain on every item.
        feed.mark(res.calibrations[-1].time_s if res.calibrations else None, self._max_warmup_s)
        info = chain.info
        for cal in res.calibrations:
            matrix = tuple(float(v) for v in cal.sf_to_bf.ravel())
            out.append(Calibration(self.runner.name, info.sensor_id, cal.time_s, matrix, cal.method,
                                   cal.residual_deg))
        if res.contacts:
            contacts = res.contacts
            if any(c.announced_only for c in contacts):
                # ICs fusion may have seen as open: they stay open ICs (boundaries), never steps.
                feed.announced_s.extend(c.ic_s for c in contacts if c.announced_only)
                contacts = [c for c in contacts if not c.announced_only]
            out.extend(self._events(info, contacts))
            floor = feed.accept_from_s
            kept = contacts if floor == -math.inf else [c for c in contacts if c.ic_s >= floor]
            self.fusion.late += len(contacts) - len(kept)
            self.fusion.add(info.placement, kept)
        if res.lean:
            self._posture(res.lean_arrays(), feed, out)
        # Most live items change nothing fusion could release: skip building its inputs then.
        released = False
        if self.fusion.pending:
            steps = self.fusion.release(*self._watermarks())
            if steps:
                self._queued.extend(steps)
                released = True
        if self._queued:
            n = len(self._queued)
            out.extend(self._steps())
            released = released or len(self._queued) != n
        k = self._next_rolling_s
        if k is None or (self._now > k and (released or feed.crossed(marks_before, k)
                                            or self._now - k > self._stale_s)):
            out.extend(self._rolling())
        return out

    def finish(self) -> list[Record]:
        out: list[Record] = []
        for chain in self.chains.values():
            res = chain.update(Gap(chain.info.sensor_id, self._now, self._now, "end of stream"))
            contacts = [c for c in res.contacts if not c.announced_only]
            out.extend(self._events(chain.info, contacts))
            self.fusion.add(chain.info.placement, contacts)
        self._queued.extend(self.fusion.release(None))
        out.extend(self._steps(final=True))
        out.extend(self._rolling(final=True))
        return out

    # -- pieces ---------------------------------------------------------------------------------
    def _add_speed(self, item: SpeedSample) -> None:
        speeds = self._speeds
        speeds.append(item)
        keep_from = item.time_s - 2.0 * self._max_warmup_s - self._speed_max_age_s
        while len(speeds) > 1 and speeds[1].time_s <= keep_from:
            speeds.popleft()

    def _speed_at(self, time_s: float) -> SpeedSample | None:
        """The latest speed reading at or before ``time_s`` (what was known when it happened)."""
        for s in reversed(self._speeds):
            if s.time_s <= time_s:
                return s
        return None

    def _watermarks(self) -> tuple[float, dict[Side, float], dict[Placement, list[float]], dict[Placement, float]]:
        """What fusion may rely on.

        The global watermark (every live sensor has moved past it), each live shoe's own, ICs
        confirmed but not yet released (lower back), and each live placement's watermark.
        """
        wm = math.inf
        shoes: dict[Side, float] = {}
        open_ics: dict[Placement, list[float]] = {}
        placed: dict[Placement, float] = {}
        now = self._now
        live_since = now - self._stale_s
        for feed in self._feeds.values():
            last = feed.last_s
            if last is None or last < live_since:
                continue
            w = feed.watermark_s
            if w is None:
                continue
            if w < wm:
                wm = w
            if feed.shoe is not None:
                shoes[feed.shoe] = w
            pl = feed.chain.placement
            if w < placed.get(pl, math.inf):
                placed[pl] = w
            if feed.open_ics_s:
                open_ics.setdefault(feed.chain.placement, []).extend(feed.open_ics_s)
            if feed.announced_s:
                done = self.fusion.last_ic_s
                if done is not None and feed.announced_s[0] <= done:
                    feed.announced_s = [t for t in feed.announced_s if t > done]
                open_ics.setdefault(feed.chain.placement, []).extend(feed.announced_s)
        return (wm if wm < math.inf else live_since), shoes, open_ics, placed

    def _events(self, info: SensorInfo, contacts: list[Contact]) -> list[Record]:
        out: list[Record] = []
        runner, sid, placement = self.runner.name, info.sensor_id, info.placement
        for c in contacts:
            out.append(StepEvent(runner, c.ic_s, _IC, c.side, sid, placement))
            if c.tc_s is not None:
                out.append(StepEvent(runner, c.tc_s, _TC, c.side, sid, placement))
        return out

    def _posture(self, lean: LeanSeries, feed: PodFeed, out: list[Record]) -> None:
        """Keep the lean for step means, emit a PostureSample per tick, move the pod's lean mark.

        In Python floats: a live block brings one reading, for which numpy's calls cost more.
        """
        times, leans, laterals = lean.time_s.tolist(), lean.lean_deg.tolist(), lean.lateral_deg.tolist()
        # Step lean reads a time-ordered history: lean released late by a recalibration (from
        # before accept_from_s, or older than what is held) is left out of it.
        lo = max(feed.accept_from_s, self._lean_last_s)
        if times[0] > lo:
            self._lean.extend(times, leans, laterals)
            self._lean_last_s = times[-1]
        elif times[-1] > lo:
            k = bisect_right(times, lo)  # np.searchsorted(side="right"): the same bisection
            self._lean.extend(times[k:], leans[k:], laterals[k:])
            self._lean_last_s = times[-1]
        if times[-1] > feed.lean_until_s:
            feed.lean_until_s = times[-1]
        period = self._posture_period_s
        if self._next_posture_s is None:
            self._next_posture_s = math.ceil(times[0] / period) * period
        # One sample per tick: the first AHRS output at or after each tick.
        start = self._next_posture_s
        stop = times[-1] + 1e-12
        if start >= stop:  # no tick in this block (np.arange would be empty)
            return
        if math.ceil((stop - start) / period) == 1:  # np.arange's length: the one tick is start
            picks = [bisect_left(times, start - 1e-9)]
            last = start
        else:
            ticks = np.arange(start, stop, period)
            picks = sorted(set(np.searchsorted(lean.time_s, ticks - 1e-9).tolist()))
            last = float(ticks[-1])
        for k in picks:
            out.append(PostureSample(self.runner.name, times[k], leans[k], laterals[k]))
            self.rolling.add_lean(times[k], leans[k], laterals[k])
        self._next_posture_s = last + period

    def _mean_lean(self, t0: float, t1: float) -> float | None:
        return self._lean.mean_lean(t0, t1)

    def _lean_until(self) -> float:
        """Lean readings up to here are final (every live posture pod has reached it)."""
        until = math.inf
        live_since = self._now - self._stale_s
        for feed in self._feeds.values():
            if feed.chain.posture is None or feed.last_s is None or feed.last_s < live_since:
                continue
            if feed.lean_until_s < until:
                until = feed.lean_until_s
        return until

    def _steps(self, final: bool = False) -> list[Record]:
        """Steps fusion released, each once the lean over it is final (it usually is)."""
        out: list[Record] = []
        queued = self._queued
        until = math.inf if final else self._lean_until()
        while queued:
            fs = queued[0]
            if _lean_end_s(fs) > until:
                break
            queued.popleft()
            out.append(self._step_metrics(fs))
        return out

    def _step_metrics(self, fs: FusedStep) -> StepMetrics:
        td = fs.touchdown
        ic = td.ic_s
        side = td.side
        step_time = ic - fs.prev_ic_s if fs.prev_ic_s is not None else None
        cadence = 60.0 / step_time if step_time else None
        if step_time is not None:
            self._step_times.append(step_time)
        elif fs.prev_ic_s is None:
            self._step_times.clear()
        smooth = 60.0 * len(self._step_times) / sum(self._step_times) if self._step_times else None
        tc = td.tc_s
        contact = (tc - ic) * 1000.0 if tc is not None else None
        flight = (fs.next_ic_s - tc) * 1000.0 if tc is not None and fs.next_ic_s is not None else None
        if flight is not None and flight < 0:
            flight = 0.0
        duty = None
        if contact is not None and fs.next_ic_s is not None and fs.next_ic_s > ic:
            duty = contact / (2000.0 * (fs.next_ic_s - ic))
        imp = self._impact_contact(td.contacts, side)
        contacts = td.contacts
        shoe = contacts.get(_LEFT_FOOT) or contacts.get(_RIGHT_FOOT)  # the first of _FEET (no generator)
        back = contacts.get(_LOWER_BACK)
        strike = shoe.strike_angle_deg if shoe is not None else None
        speed = None
        known = self._speed_at(ic)
        if known is not None and known.speed_mps is not None and ic - known.time_s <= self._speed_max_age_s:
            speed = known.speed_mps
        step = StepMetrics(
            runner=self.runner.name, time_s=ic, side=side, step_time_s=step_time, cadence_spm=cadence,
            cadence_smooth_spm=smooth, contact_time_ms=contact, flight_time_ms=flight, duty_factor=duty,
            impact_g=None if imp is None else imp.impact_g,
            loading_rate_gps=None if imp is None else imp.loading_rate_gps,
            impact_saturated=bool(imp is not None and imp.saturated),
            vertical_oscillation_cm=None if back is None else back.vertical_oscillation_cm,
            strike_angle_deg=strike, strike_class=classify_strike(strike),
            trunk_lean_deg=self._mean_lean(ic, _lean_end_s(fs)), speed_mps=speed, sources=td.sources)
        self.rolling.add_step(step)
        return step

    def _impact_contact(self, contacts: dict[Placement, Contact], side: Side) -> Contact | None:
        if self._impact_from_shoe.get(side):
            return contacts.get(_LEFT_FOOT if side is _LEFT else _RIGHT_FOOT)
        return contacts.get(_LOWER_BACK)

    def _final_until(self) -> float:
        """Every step and lean reading up to here is final (rolling seconds wait for it)."""
        wm = self._watermarks()[0]
        first = self.fusion.first_pending_ic_s()
        if self._queued:
            first = min(first, self._queued[0].touchdown.ic_s)
        # A contact joining a touchdown can move its IC earlier by the match tolerance.
        return min(wm, first - self._match_tolerance_s, self._lean_until())

    def _rolling(self, final: bool = False) -> list[Record]:
        if self._now == -math.inf:
            return []
        # Second k is summarised once everything up to k is final (at the end: up to the data).
        until = math.nextafter(self._now, math.inf) if final else min(self._now, self._final_until())
        k = self._next_rolling_s
        if k is None:
            # The first second is fixed by the first emission, from every pod seen by then: a pod
            # whose earlier data comes later in another cut of the same data still counts.
            k = float(math.floor(min(f.first_s for f in self._feeds.values() if f.first_s is not None)) + 1)
        out: list[Record] = []
        while until > k:
            out.append(self.rolling.emit(k))
            k += 1.0
        if out:
            self._next_rolling_s = k
        return out


def _lean_end_s(fs: FusedStep) -> float:
    """End of the span a step's trunk lean is averaged over: its next IC, else one step on."""
    if fs.next_ic_s is not None:
        return fs.next_ic_s
    ic = fs.touchdown.ic_s
    step_time = ic - fs.prev_ic_s if fs.prev_ic_s is not None else None
    return ic + (step_time or 0.35)


def _shoe_side(chain: SensorChain) -> Side | None:
    """The foot a shoe pod with a gyro times; its watermark then holds that foot's next IC."""
    if chain.placement in _FEET and chain.foot is not None:
        return Side.LEFT if chain.placement is Placement.LEFT_FOOT else Side.RIGHT
    return None
