"""FIT activity files with running dynamics, for Garmin Connect, Strava and GoldenCheetah.

Encoded with fit-tool (BSD-3, pure Python, the FIT profile's fields with their scales; it
writes the header and file CRCs). Garmin's official Python SDK can encode too, but its
licence restricts redistribution, which does not fit an Apache-2.0 project.

What is written, per the FIT profile's conventions for running:

* ``record`` once a second: timestamp, ``cadence`` + ``fractional_cadence`` in strides/min
  (FIT counts running cadence per stride: steps/min / 2), ``stance_time`` (ms),
  ``vertical_oscillation`` (mm), ``stance_time_balance`` (left share, %), ``step_length`` (mm)
  and ``vertical_ratio`` (%) where speed is known, ``speed`` (m/s) and ``distance`` (m);
* one ``lap`` and one ``session`` (sport running) with totals and running-dynamics averages,
  timer start/stop ``event``s and the ``activity`` message, as the FIT activity file spec asks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensorkit.analysis.session import RunnerData
from sensorkit.errors import SensorkitError

FIT_EPOCH_UNIX_S = 631065600.0
"""1989-12-31T00:00:00Z: FIT timestamps count from here; earlier times cannot be written."""


_SESSION_AVERAGES = (("avg_stance_time", "stance_time_ms"), ("avg_vertical_oscillation", "vertical_oscillation_mm"),
                     ("avg_stance_time_balance", "stance_time_balance_pct"), ("avg_step_length", "step_length_mm"),
                     ("avg_vertical_ratio", "vertical_ratio_pct"))
"""lap/session field <- FitActivity.averages key."""


class FitExportError(SensorkitError):
    """The session cannot be written as a FIT activity (nothing to write, no start time)."""


@dataclass(frozen=True, slots=True)
class FitSecond:
    """One ``record`` message's values (None = not known; left out of the message)."""

    time_s: float
    cadence_spm: float | None = None
    stance_time_ms: float | None = None
    vertical_oscillation_mm: float | None = None
    stance_time_balance_pct: float | None = None
    step_length_mm: float | None = None
    vertical_ratio_pct: float | None = None
    speed_mps: float | None = None
    distance_m: float | None = None


@dataclass(slots=True)
class FitActivity:
    """A runner's session reduced to what a FIT activity holds."""

    start_unix_s: float
    seconds: list[FitSecond]
    total_elapsed_s: float
    steps: int
    distance_m: float | None
    averages: dict[str, float] = field(default_factory=dict)


def _val(a: np.ndarray, i: int) -> float | None:
    v = float(a[i])
    return v if math.isfinite(v) else None


def _binned(t: np.ndarray, v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Median of ``v`` in each 1 s bin (``edges``), NaN where there is none."""
    out = np.full(len(edges) - 1, np.nan)
    ok = np.isfinite(t) & np.isfinite(v)
    idx = np.searchsorted(edges, t[ok], side="right") - 1
    vv = v[ok]
    inside = (idx >= 0) & (idx < len(out))
    for k in np.unique(idx[inside]):
        out[k] = float(np.median(vv[idx == k]))
    return out


def _hold(t_bins: np.ndarray, t: np.ndarray, v: np.ndarray, max_age_s: float) -> np.ndarray:
    """Latest finite value of ``v`` at each bin time, if not older than ``max_age_s``."""
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    out = np.full(len(t_bins), np.nan)
    if not len(t):
        return out
    j = np.searchsorted(t, t_bins, side="right") - 1
    good = (j >= 0) & (t_bins - t[np.clip(j, 0, None)] <= max_age_s)
    out[good] = v[j[good]]
    return out


def activity_from(data: RunnerData, start_unix_s: float, first_s: float, last_s: float) -> FitActivity:
    """Per-second values from the runner's rolling metrics, steps and speed readings.

    Rolling metrics (what the live view shows, 1 Hz) give cadence, contact time, oscillation
    and balance; seconds without them fall back to the median of that second's steps.
    """
    if not math.isfinite(first_s) or last_s <= first_s:
        raise FitExportError(f"{data.name}: no samples to export")
    n = max(1, math.ceil(last_s - first_s))
    edges = first_s + np.arange(n + 1, dtype=np.float64)
    t_bins = edges[1:]
    roll, steps, speed = data.rolling, data.steps, data.speed

    def series(rcol: str, scol: str) -> np.ndarray:
        held = _hold(t_bins, roll["time_s"], roll[rcol], 2.0) if len(roll["time_s"]) else np.full(n, np.nan)
        binned = _binned(steps["time_s"], steps[scol], edges)
        return np.where(np.isfinite(held), held, binned)

    cadence = series("cadence_spm", "cadence_spm")
    contact = series("contact_time_ms", "contact_time_ms")
    vo_cm = series("vertical_oscillation_cm", "vertical_oscillation_cm")
    balance = _hold(t_bins, roll["time_s"], roll["balance_left_pct"], 2.0) if len(roll["time_s"]) else cadence * np.nan
    sp = _hold(t_bins, speed["time_s"], speed["speed_mps"], 3.0) if len(speed["time_s"]) else np.full(n, np.nan)
    if not np.isfinite(sp).any() and len(roll["time_s"]):
        sp = _hold(t_bins, roll["time_s"], roll["speed_mps"], 2.0)
    dist = np.full(n, np.nan)
    if np.isfinite(sp).any():
        dist = np.cumsum(np.nan_to_num(sp))  # 1 s per bin
    with np.errstate(divide="ignore", invalid="ignore"):  # standing: no steps, no step length
        step_len_mm = np.where((cadence > 0) & (sp > 0), sp / (cadence / 60.0) * 1000.0, np.nan)
        vratio = np.where(step_len_mm > 0, vo_cm * 10.0 / step_len_mm * 100.0, np.nan)
    seconds = [FitSecond(float(t_bins[i] - first_s), _val(cadence, i), _val(contact, i), _val(vo_cm * 10.0, i),
                         _val(balance, i), _val(step_len_mm, i), _val(vratio, i), _val(sp, i), _val(dist, i))
               for i in range(n)]
    avgs = {}
    for key, arr in (("cadence_spm", steps["cadence_spm"]), ("stance_time_ms", steps["contact_time_ms"]),
                     ("vertical_oscillation_mm", steps["vertical_oscillation_cm"] * 10.0),
                     ("stance_time_balance_pct", balance), ("step_length_mm", step_len_mm),
                     ("vertical_ratio_pct", vratio), ("speed_mps", sp)):
        ok = arr[np.isfinite(arr)]
        if len(ok):
            avgs[key] = float(np.mean(ok))
    total_dist = float(dist[-1]) if np.isfinite(dist).any() else None
    return FitActivity(start_unix_s + first_s, seconds, float(n), len(steps["time_s"]), total_dist, avgs)


def encode_fit(activity: FitActivity) -> bytes:
    """The activity as FIT bytes (header, definitions, messages, CRC)."""
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.activity_message import ActivityMessage
    from fit_tool.profile.messages.device_info_message import DeviceInfoMessage
    from fit_tool.profile.messages.event_message import EventMessage
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.lap_message import LapMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.messages.session_message import SessionMessage
    from fit_tool.profile.profile_type import (
        Activity,
        Event,
        EventType,
        FileType,
        LapTrigger,
        Manufacturer,
        SessionTrigger,
        Sport,
        SubSport,
    )

    if activity.start_unix_s < FIT_EPOCH_UNIX_S:
        raise FitExportError("the session has no wall-clock start time (FIT needs one); give it with --start")
    start_ms = round(activity.start_unix_s * 1000)
    end_ms = start_ms + round(activity.total_elapsed_s * 1000)
    b = FitFileBuilder(auto_define=True, min_string_size=50)

    fid = FileIdMessage()
    fid.type = FileType.ACTIVITY
    fid.manufacturer = Manufacturer.DEVELOPMENT.value
    fid.product = 0
    fid.serial_number = 1
    fid.time_created = start_ms
    b.add(fid)
    creator = DeviceInfoMessage()
    creator.timestamp = start_ms
    creator.device_index = 0  # the creator
    creator.manufacturer = Manufacturer.DEVELOPMENT.value
    creator.product_name = "sensorkit"
    creator.software_version = _software_version()
    b.add(creator)

    ev = EventMessage()
    ev.event, ev.event_type, ev.timestamp = Event.TIMER, EventType.START, start_ms
    b.add(ev)
    for s in activity.seconds:
        r = RecordMessage()
        r.timestamp = start_ms + round(s.time_s * 1000)
        if s.cadence_spm is not None:
            strides = s.cadence_spm / 2.0
            r.cadence = min(254, int(strides))
            r.fractional_cadence = strides - int(strides)
        for name, value in (("stance_time", s.stance_time_ms), ("vertical_oscillation", s.vertical_oscillation_mm),
                            ("stance_time_balance", s.stance_time_balance_pct), ("step_length", s.step_length_mm),
                            ("vertical_ratio", s.vertical_ratio_pct), ("speed", s.speed_mps),
                            ("distance", s.distance_m)):
            if value is not None:
                setattr(r, name, value)
        b.add(r)
    ev = EventMessage()
    ev.event, ev.event_type, ev.timestamp = Event.TIMER, EventType.STOP_ALL, end_ms
    b.add(ev)

    a = activity.averages
    for msg in (LapMessage(), SessionMessage()):
        msg.timestamp = end_ms
        msg.start_time = start_ms
        msg.total_elapsed_time = activity.total_elapsed_s
        msg.total_timer_time = activity.total_elapsed_s
        msg.sport = Sport.RUNNING
        msg.sub_sport = SubSport.GENERIC
        msg.event, msg.event_type = Event.LAP if isinstance(msg, LapMessage) else Event.SESSION, EventType.STOP
        if activity.distance_m is not None:
            msg.total_distance = activity.distance_m
        if "speed_mps" in a:
            msg.avg_speed = a["speed_mps"]
        if "cadence_spm" in a:
            strides = a["cadence_spm"] / 2.0
            msg.avg_running_cadence = int(strides)
            msg.avg_fractional_cadence = strides - int(strides)
        msg.total_strides = activity.steps // 2
        for name, key in _SESSION_AVERAGES:
            if key in a:
                setattr(msg, name, a[key])
        if isinstance(msg, SessionMessage):
            msg.first_lap_index = 0
            msg.num_laps = 1
            msg.trigger = SessionTrigger.ACTIVITY_END
        else:
            msg.lap_trigger = LapTrigger.SESSION_END
        b.add(msg)

    act = ActivityMessage()
    act.timestamp = end_ms
    act.total_timer_time = activity.total_elapsed_s
    act.num_sessions = 1
    act.type = Activity.MANUAL
    act.event, act.event_type = Event.ACTIVITY, EventType.STOP
    end_unix_s = activity.start_unix_s + activity.total_elapsed_s
    act.local_timestamp = round(end_unix_s + time.localtime(end_unix_s).tm_gmtoff - FIT_EPOCH_UNIX_S)
    b.add(act)
    return bytes(b.build().to_bytes())


def _software_version() -> float:
    """The sensorkit version as FIT's ``major.minor`` number (0 if it does not parse)."""
    import sensorkit

    try:
        major, minor = sensorkit.__version__.split(".")[:2]
        return float(f"{int(major)}.{int(minor)}")
    except ValueError:
        return 0.0


def write_fit(activity: FitActivity, path: str | Path) -> Path:
    out = Path(path)
    out.write_bytes(encode_fit(activity))
    return out
