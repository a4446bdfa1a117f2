"""The adeptdata 25-min outdoor run (Karas et al.) as a sensorkit session with reference windows.

Two ActiGraph GT9X Link accelerometers (no gyro), 100 Hz, in g: one on an elastic belt at the
left hip, one clipped to the outside of the left shoe below the ankle. There is no ground
truth, so the references are offline and robust:

* **cadence**: in every 30-s window, the steps taken in it per minute - 2 x the ankle's strides
  (impact peaks) counted in the window, fractional at its edges, per minute of the time they
  cover: the same definition the DSP's steps are scored with
  (:func:`sensorkit.validation.scoring.interval_cadence_spm`). The stride period from the
  autocorrelation of the ankle's acceleration magnitude (lag 0.55-1.6 s, parabolic
  refinement) is the cross-check: a window is a reference only if its strides cover at least
  ``min_coverage`` of it (running throughout: no stop, no stride longer than 1.5 x the
  median), it is periodic and the two agree within ``max_disagreement_spm``. (Until this
  version the autocorrelation was the reference: in a window where the pace changes, e.g.
  870-900 s, 152 -> 169 steps/min, it gives the dominant period, 168.7 steps/min, not the
  166.7 steps/min actually taken.)
* **standing pauses**: spans where the 2-s moving standard deviation of the acceleration
  magnitude stays below 0.05 g on both sensors for at least 3 s.

Placement of the hip sensor: ``phone`` worn at the ``waist``. It is a belt-worn
accelerometer off the body's midline without a gyroscope - exactly the phone-at-the-waist case
(steps and cadence) - whereas ``lower_back`` promises a sacral pod from which sensorkit also
derives the step side and trunk lean, which a lateral-hip accelerometer cannot honestly give.
``AdeptSettings.hip_placement`` can still force ``lower_back`` to exercise that path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from numpy.typing import NDArray
from scipy.signal import find_peaks

from sensorkit import __version__
from sensorkit.errors import InputFileError
from sensorkit.model import PhoneWear, Placement, RunnerInfo, SampleBlock, SensorInfo, SessionInfo
from sensorkit.validation.scoring import window_cycles

F64 = NDArray[np.float64]

FOLDER = "adeptdata_outdoor_run"
FILE = "acc_running.csv"
RATE_HZ = 100.0
RUNNER = "adept"


@dataclass(frozen=True, slots=True)
class AdeptSettings:
    """Session layout and reference thresholds."""

    block_size: int = 20
    hip_placement: Placement = Placement.PHONE
    window_s: float = 30.0
    sd_window_s: float = 2.0
    pause_sd_g: float = 0.05
    pause_min_s: float = 3.0
    pause_merge_s: float = 1.0
    stride_min_s: float = 0.55
    stride_max_s: float = 1.6
    min_periodicity: float = 0.5
    max_disagreement_spm: float = 2.0
    """A window is a cadence reference only if both offline estimates agree this closely ..."""
    min_coverage: float = 0.95
    """... and its running strides cover this share of it (no stop-and-go inside)."""


@dataclass(frozen=True, slots=True)
class CadenceWindow:
    """One reference window; ``cadence_spm`` is NaN unless ``kind == "running"``."""

    start_s: float
    end_s: float
    kind: str
    """``running`` (steady: no pause, both estimates agree), ``pause`` (mostly standing) or
    ``mixed`` (a pause, a stop-and-go or an irregular stretch inside: not scored)."""
    cadence_spm: float
    """The reference: steps per minute taken in the window (ankle strides x 2, counted)."""
    autocorr_peak: float
    """Normalised autocorrelation at the stride lag: periodicity quality (1 = perfect)."""
    cadence_count_spm: float
    """2 x strides counted from ankle impact peaks (equal to ``cadence_spm`` when running)."""
    cadence_autocorr_spm: float = float("nan")
    """Cross-check: 2 x 60 / the autocorrelation's stride period."""


@dataclass(frozen=True, slots=True, eq=False)
class AdeptReference:
    windows: tuple[CadenceWindow, ...]
    pauses_s: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True, eq=False)
class AdeptSession:
    info: SessionInfo
    items: tuple[SampleBlock, ...]
    reference: AdeptReference
    signals: dict[str, tuple[F64, F64]] = field(default_factory=dict)
    """Per sensor id: (time_s, acc_g) of the whole run."""


def read_acc_running(path: str | Path) -> tuple[float, dict[str, tuple[F64, F64]]]:
    """Parse ``acc_running.csv``: (unix time of the first sample, {loc_id: (time_s, acc_g)})."""
    path = Path(path)
    try:
        columns = {"loc_id": pa.string(), "date_time": pa.float64(), "x": pa.float64(), "y": pa.float64(),
                   "z": pa.float64()}
        options = pacsv.ConvertOptions(column_types=columns, include_columns=list(columns))
        table = pacsv.read_csv(path, convert_options=options)
    except (OSError, pa.ArrowInvalid, KeyError) as exc:
        raise InputFileError(str(path), f"cannot parse: {exc}") from exc
    loc = np.asarray(table.column("loc_id").to_pylist())
    t = table.column("date_time").to_numpy(zero_copy_only=False)
    acc = np.stack([table.column(c).to_numpy(zero_copy_only=False) for c in "xyz"], axis=1)
    bad = ~np.isfinite(acc).all(axis=1) | ~np.isfinite(t)
    if bad.any():
        raise InputFileError(str(path), "missing value", int(np.flatnonzero(bad)[0]) + 2)
    t0 = float(t.min())
    out = {}
    for name in sorted(set(loc.tolist())):
        sel = loc == name
        ts = t[sel] - t0
        if np.any(np.diff(ts) <= 0):
            raise InputFileError(str(path), f"{name}: time not increasing", None, "date_time")
        out[name] = (np.ascontiguousarray(ts), np.ascontiguousarray(acc[sel]))
    return t0, out


def moving_sd(x: F64, n: int) -> F64:
    """Standard deviation over a centred window of ``n`` samples (edges use what exists)."""
    c1 = np.cumsum(np.r_[0.0, x])
    c2 = np.cumsum(np.r_[0.0, x * x])
    i = np.arange(x.shape[0])
    lo, hi = np.clip(i - n // 2, 0, x.shape[0]), np.clip(i - n // 2 + n, 0, x.shape[0])
    k = hi - lo
    mean = (c1[hi] - c1[lo]) / k
    return np.asarray(np.sqrt(np.maximum((c2[hi] - c2[lo]) / k - mean * mean, 0.0)), dtype=np.float64)


def standing_pauses(time_s: F64, accs: list[F64], s: AdeptSettings) -> list[tuple[float, float]]:
    """Spans where every sensor's acceleration magnitude is quiet (see module docstring)."""
    n = round(s.sd_window_s * RATE_HZ)
    still = np.ones(time_s.shape[0], dtype=bool)
    for acc in accs:
        still &= moving_sd(np.linalg.norm(acc, axis=1), n) < s.pause_sd_g
    edges = np.diff(np.r_[0, still.astype(np.int8), 0])
    starts, ends = time_s[np.flatnonzero(edges == 1)], time_s[np.flatnonzero(edges == -1) - 1]
    merged: list[list[float]] = []
    for a, b in zip(starts, ends, strict=True):
        if merged and a - merged[-1][1] <= s.pause_merge_s:
            merged[-1][1] = float(b)
        else:
            merged.append([float(a), float(b)])
    return [(a, b) for a, b in merged if b - a >= s.pause_min_s]


def stride_cadence(vm: F64, s: AdeptSettings) -> tuple[float, float]:
    """(2 x 60 / stride period, peak autocorrelation) of one window of ankle magnitude."""
    x = vm - vm.mean()
    n = x.shape[0]
    lo, hi = int(s.stride_min_s * RATE_HZ), int(s.stride_max_s * RATE_HZ)
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[: hi + 2] / np.arange(n, n - hi - 2, -1)
    if ac[0] <= 0:
        return float("nan"), 0.0
    ac = ac / ac[0]
    inner = np.arange(lo, hi + 1)
    local_max = inner[(ac[inner] >= ac[inner - 1]) & (ac[inner] >= ac[inner + 1])]
    if local_max.size == 0:
        return float("nan"), 0.0
    # the first peak nearly as high as the best: a two-stride lag can correlate as well
    k = int(local_max[ac[local_max] >= 0.9 * ac[local_max].max()][0])
    a, b, c = ac[k - 1], ac[k], ac[k + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) < 0 else 0.0
    return 120.0 * RATE_HZ / (k + shift), float(b)


def stride_peaks_s(time_s: F64, vm: F64, stride_spm: float) -> F64:
    """Times of the ankle's impact peaks: the largest peak per expected stride."""
    if not np.isfinite(stride_spm):
        return np.empty(0)
    stride_n = 120.0 * RATE_HZ / stride_spm
    peaks, _ = find_peaks(vm, distance=max(1, int(0.7 * stride_n)), prominence=0.5)
    return np.asarray(time_s[peaks], dtype=np.float64)


def counted_cadence(time_s: F64, vm: F64, stride_spm: float, start_s: float, window_s: float,
                    max_stride_s: float) -> tuple[float, float]:
    """Steps per minute taken in ``[start_s, start_s + window_s)`` and the share it covers.

    2 x the strides between impact peaks, by the window definition of
    :func:`sensorkit.validation.scoring.interval_cadence_spm`.
    """
    peaks = stride_peaks_s(time_s, vm, stride_spm)
    if peaks.size < 3:
        return float("nan"), 0.0
    cycles, covered = window_cycles(peaks[1:], np.diff(peaks), [start_s], window_s, max_stride_s)
    if covered[0] <= 0:
        return float("nan"), 0.0
    return float(120.0 * cycles[0] / covered[0]), float(covered[0] / window_s)


def reference_windows(time_s: F64, ankle_g: F64, pauses: list[tuple[float, float]],
                      s: AdeptSettings) -> list[CadenceWindow]:
    vm = np.linalg.norm(ankle_g, axis=1)
    out = []
    margin = s.stride_max_s * 2  # strides crossing the window's edges count in part
    for start in np.arange(0.0, time_s[-1] - s.window_s + 1e-9, s.window_s):
        end = start + s.window_s
        overlap = sum(max(0.0, min(b, end) - max(a, start)) for a, b in pauses)
        sel = (time_s >= start) & (time_s < end)
        kind = "running" if overlap == 0 else ("pause" if overlap > 0.5 * s.window_s else "mixed")
        auto, quality = stride_cadence(vm[sel], s)
        wide = (time_s >= start - margin) & (time_s < end + margin)
        count, coverage = counted_cadence(time_s[wide], vm[wide], auto, float(start), s.window_s, s.stride_max_s)
        steady = (quality >= s.min_periodicity and coverage >= s.min_coverage
                  and abs(auto - count) <= s.max_disagreement_spm)
        if kind != "running" or not steady:
            auto = count = float("nan")
            kind = "mixed" if kind == "running" else kind
        out.append(CadenceWindow(float(start), float(end), kind, count, quality, count, auto))
    return out


def load_session(datasets_dir: str | Path, settings: AdeptSettings | None = None) -> AdeptSession:
    """The whole 25-min run as blocks in time order, with its reference windows and pauses."""
    s = settings or AdeptSettings()
    t0, data = read_acc_running(Path(datasets_dir) / FOLDER / FILE)
    for need in ("left_hip", "left_ankle"):
        if need not in data:
            raise InputFileError(str(Path(datasets_dir) / FOLDER / FILE), f"no {need!r} rows", None, "loc_id")
    hip_id, ankle_id = f"{RUNNER}/hip", f"{RUNNER}/left_foot"
    wear = PhoneWear.WAIST if s.hip_placement is Placement.PHONE else None
    sensors = (
        SensorInfo(hip_id, RUNNER, s.hip_placement, RATE_HZ, device="ActiGraph GT9X Link (left hip belt)",
                   has_gyro=False, acc_range_g=8.0, phone_wear=wear),
        SensorInfo(ankle_id, RUNNER, Placement.LEFT_FOOT, RATE_HZ,
                   device="ActiGraph GT9X Link (outside of left shoe)", has_gyro=False, acc_range_g=8.0),
    )
    signals = {hip_id: data["left_hip"], ankle_id: data["left_ankle"]}
    blocks = [SampleBlock(sid, t[i:i + s.block_size], a[i:i + s.block_size])
              for sid, (t, a) in signals.items() for i in range(0, t.shape[0], s.block_size)]
    blocks.sort(key=lambda b: (b.end_s, b.sensor_id))
    t_ankle, acc_ankle = data["left_ankle"]
    t_hip, acc_hip = data["left_hip"]
    hip_on_ankle = np.stack([np.interp(t_ankle, t_hip, acc_hip[:, k]) for k in range(3)], axis=1)
    pauses = standing_pauses(t_ankle, [acc_ankle, hip_on_ankle], s)
    windows = reference_windows(t_ankle, acc_ankle, pauses, s)
    info = SessionInfo(
        session_id="adeptdata-acc_running", start_unix_s=t0, runners=(RunnerInfo(RUNNER, body_mass_kg=67.0),),
        sensors=sensors, software_version=__version__,
        notes={"dataset": "Karas et al., adeptdata acc_running (GPL-3)",
               "hip_placement": s.hip_placement.value},
    )
    return AdeptSession(info, tuple(blocks), AdeptReference(tuple(windows), tuple(pauses)), signals)

