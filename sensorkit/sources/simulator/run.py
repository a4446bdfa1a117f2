"""A simulated run: lazily generated, deterministic sensor samples plus their ground truth.

Samples are produced per pod in fixed chunks of ``round(chunk_s * rate)`` device samples; the
random numbers of a chunk depend only on ``(seed, pod, chunk)``, so any consumer sees the
same samples however it slices them, and memory stays bounded however long the run.

Clock drift: a pod with ``clock_drift_ppm = d`` takes sample ``k`` at true host time
``k / (rate * (1 + d/1e6))`` but stamps it ``k / rate`` (its nominal rate), as a device with a
fast crystal would appear. Ground truth stays in true host time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import Placement, SensorInfo
from sensorkit.sources.simulator.backtruth import fill_back_truth
from sensorkit.sources.simulator.body import TrunkModel
from sensorkit.sources.simulator.foot import FootModel
from sensorkit.sources.simulator.profile import F64, PodConfig, SimulationConfig
from sensorkit.sources.simulator.schedule import LOAD_FRACTION, SHOE_PULSE_S, Schedule
from sensorkit.sources.simulator.truth import RunTruth, StepTable, step_table

_NOISE_TAG = 23


def gaussian(rng: np.random.Generator, n: int) -> NDArray[np.float32]:
    """``n`` standard normal float32 values by Box-Muller: 4x faster than numpy's ziggurat.

    Sensor noise needs no more than float32 resolution (tails reach about 5.8 sigma).
    """
    half = (n + 1) // 2
    u = rng.random((2, half), dtype=np.float32)
    r = np.sqrt(np.float32(-2.0) * np.log1p(-u[0]))
    a = np.float32(2 * math.pi) * u[1]
    out = np.empty(2 * half, dtype=np.float32)
    np.multiply(r, np.cos(a), out=out[:half])
    np.multiply(r, np.sin(a), out=out[half:])
    return out[:n]
_SPEED_TAG = 31


@dataclass(frozen=True, slots=True, eq=False)
class PodChunk:
    """Samples ``first_index ..`` of one pod, in the sensor frame.

    ``time_s`` is the device-stamped time (what a source emits); ``true_time_s`` is when the
    sample really happened.
    """

    sensor_id: str
    first_index: int
    time_s: F64
    true_time_s: F64
    acc_g: F64
    gyr_dps: F64

    def __len__(self) -> int:
        return len(self.time_s)


class SimulatedRun:
    """One runner's simulated sensors and truth. Cheap to create; generates on demand."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.runner = config.runner
        self._mounts = [p.mount for p in config.pods]
        self._identity = [bool(np.array_equal(m, np.eye(3))) for m in self._mounts]
        self.sensors: tuple[SensorInfo, ...] = tuple(
            SensorInfo(config.sensor_id(p.placement), self.runner.name, p.placement, p.sampling_rate_hz,
                       device="simulator", has_gyro=True, acc_range_g=p.acc_range_g,
                       gyr_range_dps=p.gyr_range_dps, phone_wear=p.phone_wear)
            for p in config.pods)
        self._sched = Schedule(self.runner, config.duration_s, config.seed, self._shoe_saturated)
        self._trunk = TrunkModel(self._sched, self.runner)
        self._models: list[TrunkModel | FootModel] = []
        for p in config.pods:
            if p.placement is Placement.LOWER_BACK:
                self._models.append(self._trunk)
            elif p.placement is Placement.LEFT_FOOT:
                self._models.append(FootModel(self._sched, self.runner, 0))
            elif p.placement is Placement.RIGHT_FOOT:
                self._models.append(FootModel(self._sched, self.runner, 1))
            else:
                self._models.append(TrunkModel(self._sched, self.runner, p.phone_wear))

    # -- pods ------------------------------------------------------------------------------
    def pod_index(self, placement: Placement | str) -> int:
        for k, p in enumerate(self.config.pods):
            if p.placement == placement or self.sensors[k].sensor_id == placement:
                return k
        raise KeyError(f"{self.runner.name} has no pod {placement!r}")

    def pod(self, placement: Placement | str) -> PodConfig:
        return self.config.pods[self.pod_index(placement)]

    def true_rate_hz(self, k: int) -> float:
        p = self.config.pods[k]
        return p.sampling_rate_hz * (1 + p.clock_drift_ppm * 1e-6)

    def n_samples(self, k: int) -> float:
        """Samples of pod ``k`` in the run (``inf`` for an endless run)."""
        d = self.config.duration_s
        return math.inf if math.isinf(d) else float(math.ceil(d * self.true_rate_hz(k)))

    def chunk_samples(self, k: int) -> int:
        return max(1, round(self.config.chunk_s * self.config.pods[k].sampling_rate_hz))

    def chunk(self, k: int, c: int) -> PodChunk | None:
        """Chunk ``c`` of pod ``k``, or None past the end of the run."""
        n = self.chunk_samples(k)
        first = c * n
        last = min((c + 1) * n, self.n_samples(k))
        if first >= last:
            return None
        return self._generate(k, first, int(last), c)

    def chunks(self, k: int, start_chunk: int = 0) -> Iterator[PodChunk]:
        c = start_chunk
        while (ch := self.chunk(k, c)) is not None:
            yield ch
            c += 1

    def samples(self, placement: Placement | str, t0_s: float, t1_s: float) -> PodChunk:
        """The pod's samples whose true time is in ``[t0_s, t1_s)`` (a convenience for tests)."""
        k = self.pod_index(placement)
        rate = self.true_rate_hz(k)
        n = self.chunk_samples(k)
        first = max(0, math.ceil(t0_s * rate - 1e-9))
        stop = min(math.ceil(t1_s * rate - 1e-9), self.n_samples(k))
        parts = [ch for c in range(first // n, max(first // n, (int(stop) - 1) // n) + 1)
                 if (ch := self.chunk(k, c)) is not None]
        sid = self.sensors[k].sensor_id
        if not parts:
            e = np.zeros(0)
            return PodChunk(sid, first, e, e, np.zeros((0, 3)), np.zeros((0, 3)))
        lo = first - parts[0].first_index
        hi = int(stop) - parts[0].first_index

        def cat(name: str) -> F64:
            return np.concatenate([getattr(p, name) for p in parts])[lo:hi]

        return PodChunk(sid, first, cat("time_s"), cat("true_time_s"), cat("acc_g"), cat("gyr_dps"))

    def body_frame(self, placement: Placement | str, true_time_s: F64) -> tuple[F64, F64]:
        """Noise-free ``(acc_g, gyr_dps)`` in the pod's body frame at the given true times."""
        t = np.asarray(true_time_s, dtype=np.float64)
        self._sched.ensure(float(t.max(initial=0.0)))
        return self._models[self.pod_index(placement)].body(t)

    def _generate(self, k: int, first: int, last: int, c: int) -> PodChunk:
        pod = self.config.pods[k]
        idx = np.arange(first, last, dtype=np.float64)
        stamp = idx / pod.sampling_rate_hz
        true_t = idx / self.true_rate_hz(k)
        self._sched.ensure(float(true_t[-1]))
        acc, gyr = self._models[k].body(true_t)
        m = self._mounts[k]
        if not self._identity[k]:
            acc = acc @ m.T
            gyr = gyr @ m.T
        noise = gaussian(np.random.default_rng([self.config.seed, _NOISE_TAG, k, c]), len(idx) * 6)
        noise = noise.reshape(len(idx), 6)
        if pod.acc_noise_g:
            acc += noise[:, :3] * np.float32(pod.acc_noise_g)
        if pod.gyr_noise_dps:
            gyr += noise[:, 3:] * np.float32(pod.gyr_noise_dps)
        if any(pod.acc_bias_g):
            acc += np.asarray(pod.acc_bias_g)
        if any(pod.gyr_bias_dps):
            gyr += np.asarray(pod.gyr_bias_dps)
        np.clip(acc, -pod.acc_range_g, pod.acc_range_g, out=acc)
        np.clip(gyr, -pod.gyr_range_dps, pod.gyr_range_dps, out=gyr)
        return PodChunk(self.sensors[k].sensor_id, first, stamp, true_t, acc, gyr)

    # -- saturation flags for the truth ----------------------------------------------------
    def _pod_for(self, placement: Placement) -> int | None:
        for k, p in enumerate(self.config.pods):
            if p.placement is placement:
                return k
        return None

    def _shoe_saturated(self, side: int, strike_deg: F64, peak_g: F64, contact_s: F64) -> NDArray[np.bool_]:
        k = self._pod_for(Placement.LEFT_FOOT if side == 0 else Placement.RIGHT_FOOT)
        if k is None:
            return np.zeros(len(peak_g), dtype=bool)
        x = np.minimum(SHOE_PULSE_S / 2 / (LOAD_FRACTION * contact_s), 1.0)
        th = np.radians(strike_deg * (1 - x) ** 2)
        f_bf = np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=1) * peak_g[:, None]
        return np.asarray(np.abs(f_bf @ self._mounts[k].T).max(axis=1) > self.config.pods[k].acc_range_g)

    # -- truth -------------------------------------------------------------------------------
    def lean_deg(self, true_time_s: F64) -> F64:
        """Instantaneous trunk pitch (+ forward) relative to upright, at true times."""
        t = np.asarray(true_time_s, dtype=np.float64)
        self._sched.ensure(float(t.max(initial=0.0)))
        return self._trunk.lean_deg(t)

    def foot_pitch_deg(self, placement: Placement | str, true_time_s: F64) -> F64:
        """Shoe pitch (+ toes up) relative to quiet standing, at true times (the shoe's truth)."""
        t = np.asarray(true_time_s, dtype=np.float64)
        self._sched.ensure(float(t.max(initial=0.0)))
        model = self._models[self.pod_index(placement)]
        if not isinstance(model, FootModel):
            raise KeyError(f"{placement!r} is not a shoe pod")
        return model.pitch(t)[0]

    def back_angles_deg(self, true_time_s: F64) -> tuple[F64, F64, F64]:
        """Pelvis ``(yaw, pitch, roll)`` in degrees at true times (the back pod's orientation truth).

        The back pod's body frame is ``Rz(yaw) Ry(pitch) Rx(roll)`` in the world (x heading,
        z up); roll + = right side down, yaw + = turned left (right hip forward).
        """
        t = np.asarray(true_time_s, dtype=np.float64)
        self._sched.ensure(float(t.max(initial=0.0)))
        yaw, pitch, roll, *_ = self._trunk.angles(t)
        return yaw, pitch, roll

    @property
    def truth(self) -> RunTruth:
        """The complete truth of a finite run (steps of a 3-hour run take about 4 MB)."""
        self._sched.ensure_all()
        return self._truth()

    def truth_between(self, t0_s: float, t1_s: float) -> StepTable:
        """Steps whose IC is in ``[t0_s, t1_s)``; works for endless runs too."""
        self._sched.ensure(t1_s)
        ic = self._sched.steps.col("ic")
        a, b = np.searchsorted(ic, [t0_s, t1_s])
        return self._steps(int(a), int(b))

    def _steps(self, start: int = 0, stop: int | None = None) -> StepTable:
        stop = len(self._sched.steps) if stop is None else stop
        k = self._pod_for(Placement.LOWER_BACK)
        fill_back_truth(self._sched, self._trunk, None if k is None else self._mounts[k],
                        None if k is None else self.config.pods[k].acc_range_g, start, stop)
        return step_table(self._sched, start, stop)

    def truth_so_far(self, t_s: float) -> RunTruth:
        """Truth generated up to at least ``t_s`` (standing/running lists may be incomplete)."""
        self._sched.ensure(t_s)
        return self._truth()

    def _truth(self) -> RunTruth:
        s = self._sched
        fat = self.runner.fatigue
        segs = s.segments
        running = tuple((float(a), float(b))
                        for a, b in zip(segs.col("lift"), segs.col("feet_end"), strict=True))
        return RunTruth(
            steps=self._steps(),
            standing_s=tuple(s.standing),
            running_s=running,
            fatigue_onset_s=None if fat is None else fat.onset_s,
            fatigue_full_s=None if fat is None else fat.onset_s + fat.ramp_s,
            sf_to_bf={info.sensor_id: tuple(float(v) for v in m.T.ravel())
                      for info, m in zip(self.sensors, self._mounts, strict=True)},
            lean_deg=self.lean_deg,
        )

    # -- speed (RSC-like) -------------------------------------------------------------------
    def running_at(self, true_time_s: float) -> bool:
        self._sched.ensure(true_time_s)
        segs = self._sched.segments
        lift, end = segs.col("lift"), segs.col("feet_end")
        return bool(np.any((lift <= true_time_s) & (true_time_s < end)))

    def distance_m(self, true_time_s: float) -> float:
        """Distance covered by ``true_time_s``: speed times the time spent running."""
        self._sched.ensure(true_time_s)
        segs = self._sched.segments
        lift, end = segs.col("lift"), segs.col("feet_end")
        overlap = np.clip(np.minimum(end, true_time_s) - lift, 0.0, None)
        return float(overlap.sum() * self.runner.speed_mps)

    def speed_reading(self, n: int) -> tuple[float, float, float, float]:
        """The ``n``-th RSC reading: ``(true time, speed_mps, cadence_spm, distance_m)``.

        A footpod's speed has ~2 % noise; zero while standing.
        """
        hz = self.config.speed_output_hz or 1.0
        t = (n + 1) / hz
        if not self.running_at(t):
            return t, 0.0, 0.0, self.distance_m(t)
        z = np.random.default_rng([self.config.seed, _SPEED_TAG, n]).standard_normal(2)
        cad = 60.0 / float(self._sched.nominal_interval_s(t))
        return t, self.runner.speed_mps * (1 + 0.02 * z[0]), cad * (1 + 0.01 * z[1]), self.distance_m(t)
