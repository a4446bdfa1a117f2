"""Weekly training load per runner, load-increase warnings and mileage per shoe.

The increase warning follows the common "10 % rule": a week whose load (distance, or running
time) exceeds the reference (the previous calendar week, or the mean of the four before it)
by more than ``max_weekly_increase_pct``. A week after a week without running has no
reference and gets no warning. Weeks without sessions between the first and the last one
are listed with zero load: a rest week is part of the history.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sensorkit.analysis.history.sessions import SessionEntry
from sensorkit.analysis.history.settings import HistorySettings


@dataclass(slots=True)
class Week:
    runner: str
    start: dt.date
    sessions: int = 0
    running_s: float = 0.0
    distance_m: float = 0.0
    distance_known: bool = True
    """False when a session of the week had no distance at all (then time is the load)."""
    change_pct: float | None = None
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class ShoeMileage:
    shoe: str
    km: float
    sessions: int
    first: dt.date | None
    last: dt.date | None
    status: str
    """``ok``, ``replace soon`` or ``replace``."""


@dataclass(slots=True)
class History:
    entries: list[SessionEntry]
    weeks: list[Week]
    shoes: list[ShoeMileage]
    warnings: list[str] = field(default_factory=list)
    undated: int = 0


def week_start(day: dt.date, starts_on: str) -> dt.date:
    offset = day.weekday() if starts_on == "monday" else (day.weekday() + 1) % 7
    return day - dt.timedelta(days=offset)


def _date(unix_s: float) -> dt.date:
    return dt.datetime.fromtimestamp(unix_s).date()


def load_of(week: Week, settings: HistorySettings, use_time: bool) -> float:
    return week.running_s / 3600.0 if use_time else week.distance_m / 1000.0


def weekly(entries: Sequence[SessionEntry], settings: HistorySettings) -> list[Week]:
    """Weeks per runner, oldest first, gaps filled with empty weeks, changes and warnings set."""
    by_runner: dict[str, dict[dt.date, Week]] = defaultdict(dict)
    for e in entries:
        if e.start_unix_s is None:
            continue
        start = week_start(_date(e.start_unix_s), settings.week_starts_on)
        w = by_runner[e.runner].setdefault(start, Week(e.runner, start))
        w.sessions += 1
        w.running_s += e.running_s
        if e.distance_m is None:
            w.distance_known = False
        else:
            w.distance_m += e.distance_m
    out: list[Week] = []
    for runner, weeks in sorted(by_runner.items()):
        day, last = min(weeks), max(weeks)
        series = []
        while day <= last:
            series.append(weeks.get(day) or Week(runner, day))
            day += dt.timedelta(days=7)
        use_time = settings.load == "time" or not all(w.distance_known for w in series)
        unit = "h" if use_time else "km"
        for i, w in enumerate(series):
            ref_weeks = series[i - 1:i] if settings.reference == "previous_week" else series[max(0, i - 4):i]
            if not ref_weeks:
                continue
            ref = sum(load_of(x, settings, use_time) for x in ref_weeks) / len(ref_weeks)
            if ref <= 0:
                continue
            now = load_of(w, settings, use_time)
            w.change_pct = 100.0 * (now - ref) / ref
            if w.change_pct > settings.max_weekly_increase_pct:
                what = "previous week" if settings.reference == "previous_week" else "4-week average"
                w.warning = (f"{runner}: week of {w.start.isoformat()} load {now:.1f} {unit} is "
                             f"{w.change_pct:.0f} % above the {what} ({ref:.1f} {unit}; limit "
                             f"+{settings.max_weekly_increase_pct:g} %)")
        out += series
    return out


def shoe_mileage(entries: Sequence[SessionEntry], settings: HistorySettings) -> list[ShoeMileage]:
    """Kilometres per shoe (plus its start mileage) and whether it is due for replacement."""
    km: dict[str, float] = defaultdict(float)
    sessions: dict[str, int] = defaultdict(int)
    dates: dict[str, list[dt.date]] = defaultdict(list)
    for e in entries:
        if not e.shoe:
            continue
        km[e.shoe] += (e.distance_m or 0.0) / 1000.0
        sessions[e.shoe] += 1
        if e.start_unix_s is not None:
            dates[e.shoe].append(_date(e.start_unix_s))
    for shoe, start_km in settings.shoe_start_km.items():
        km[shoe] += start_km
    out = []
    for shoe in sorted(km):
        total = km[shoe]
        status = ("replace" if total >= settings.shoe_replace_km
                  else "replace soon" if total >= settings.shoe_remind_fraction * settings.shoe_replace_km
                  else "ok")
        ds = dates.get(shoe, [])
        out.append(ShoeMileage(shoe, total, sessions[shoe], min(ds) if ds else None, max(ds) if ds else None, status))
    return out


def history(entries: list[SessionEntry], settings: HistorySettings, runner: str | None = None) -> History:
    """Weeks, shoes and every warning for ``entries`` (optionally one runner's)."""
    if runner is not None:
        entries = [e for e in entries if e.runner == runner]
    weeks = weekly(entries, settings)
    shoes = shoe_mileage(entries, settings)
    warnings = [w.warning for w in weeks if w.warning]
    for s in shoes:
        if s.status == "replace":
            warnings.append(f"shoe {s.shoe!r}: {s.km:.0f} km, over the {settings.shoe_replace_km:g} km "
                            "replacement mileage: time for a new pair")
        elif s.status == "replace soon":
            warnings.append(f"shoe {s.shoe!r}: {s.km:.0f} km of {settings.shoe_replace_km:g}: plan a new pair soon")
    undated = sum(1 for e in entries if e.start_unix_s is None)
    return History(entries, weeks, shoes, warnings, undated)


def fmt_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    m = round(seconds / 60.0)
    return f"{m // 60}:{m % 60:02d}"
