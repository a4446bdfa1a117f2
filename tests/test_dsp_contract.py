"""The contract every DSP stage keeps: chunked == batch (bit for bit), reset restores the
initial state, and every settings field is documented with its unit."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sensorkit.dsp.back import BackStepDetector, BackStepSettings
from sensorkit.dsp.calibration import CalibrationSettings, MountingCalibration
from sensorkit.dsp.chain import DspSettings, SensorChain
from sensorkit.dsp.foot import FootStepDetector, FootStepSettings
from sensorkit.dsp.foot_acc import FOOT_ACC_DEFAULTS, FootAccStepDetector
from sensorkit.dsp.phone import PhoneStepDetector, PhoneStepSettings
from sensorkit.dsp.posture import PostureSettings, TrunkPosture
from sensorkit.model import Gap, PhoneWear, Placement, SampleBlock, SensorInfo, Side
from tests.test_dsp_helpers import sim_run

BLOCK_SIZES = (1, 7, 100, 1000)
DURATION_S = 24.0
FS = 200.0


def _signals(placement: Placement) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sim = sim_run((Placement.LOWER_BACK, Placement.LEFT_FOOT), DURATION_S, mount=(0.0, 0.0, 0.0))
    src = Placement.LEFT_FOOT if placement in (Placement.LEFT_FOOT, Placement.RIGHT_FOOT) else Placement.LOWER_BACK
    ch = sim.samples(src, 0.0, DURATION_S)
    return ch.time_s, ch.acc_g, ch.gyr_dps


def _flat(x: Any) -> Any:
    """Outputs as plain comparable values (arrays to bytes so == means bit-identical)."""
    if isinstance(x, np.ndarray):
        return ("array", x.shape, x.tobytes())
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__, tuple(_flat(getattr(x, f.name)) for f in dataclasses.fields(x)))
    if isinstance(x, list | tuple):
        return tuple(_flat(v) for v in x)
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return x


# Each stage: a factory and a function feeding it one block, returning a list of outputs.
def _calibration() -> tuple[Callable[[], Any], Callable[[Any, int, int], list]]:
    t, acc, gyr = _signals(Placement.LOWER_BACK)

    def feed(st: MountingCalibration, a: int, b: int) -> list:
        segs = st.update(t[a:b], acc[a:b], gyr[a:b])
        return [(s.time_s, s.acc_g, s.gyr_dps, s.calibrations, s.restarted) for s in segs]

    return lambda: MountingCalibration(CalibrationSettings(), Placement.LOWER_BACK, FS), feed


def _back() -> tuple[Callable[[], Any], Callable[[Any, int, int], list]]:
    t, acc, gyr = _signals(Placement.LOWER_BACK)
    return (lambda: BackStepDetector(BackStepSettings(), FS),
            lambda st, a, b: st.update(t[a:b], acc[a:b], gyr[a:b]))


def _foot() -> tuple[Callable[[], Any], Callable[[Any, int, int], list]]:
    t, acc, gyr = _signals(Placement.LEFT_FOOT)
    return (lambda: FootStepDetector(FootStepSettings(), FS, Side.LEFT),
            lambda st, a, b: st.update(t[a:b], acc[a:b], gyr[a:b]))


def _foot_acc() -> tuple[Callable[[], Any], Callable[[Any, int, int], list]]:
    t, acc, _ = _signals(Placement.LEFT_FOOT)
    settings = dataclasses.replace(FOOT_ACC_DEFAULTS, on_g=3.0, off_g=1.5, min_peak_g=3.5)
    return (lambda: FootAccStepDetector(settings, FS, Side.LEFT), lambda st, a, b: st.update(t[a:b], acc[a:b]))


def _phone() -> tuple[Callable[[], Any], Callable[[Any, int, int], list]]:
    t, acc, _ = _signals(Placement.LOWER_BACK)
    return (lambda: PhoneStepDetector(PhoneStepSettings(), FS), lambda st, a, b: st.update(t[a:b], acc[a:b]))


def _posture() -> tuple[Callable[[], Any], Callable[[Any, int, int], list]]:
    t, acc, gyr = _signals(Placement.LOWER_BACK)
    return (lambda: TrunkPosture(PostureSettings(), FS),
            lambda st, a, b: [st.update(t[a:b], acc[a:b], gyr[a:b])])


def _chain(placement: Placement) -> Callable[[], tuple[Callable[[], Any], Callable[[Any, int, int], list]]]:
    def make() -> tuple[Callable[[], Any], Callable[[Any, int, int], list]]:
        t, acc, gyr = _signals(placement)
        info = SensorInfo(f"r/{placement.value}", "r", placement, FS,
                          phone_wear=PhoneWear.POCKET if placement is Placement.PHONE else None)

        def feed(st: SensorChain, a: int, b: int) -> list:
            out = st.update(SampleBlock(info.sensor_id, t[a:b], acc[a:b], gyr[a:b]))
            return [out.contacts, out.calibrations, out.lean_arrays() if out.lean else None]

        return lambda: SensorChain(info, DspSettings()), feed

    return make


STAGES: dict[str, Callable[[], tuple[Callable[[], Any], Callable[[Any, int, int], list]]]] = {
    "calibration": _calibration, "back": _back, "foot": _foot, "foot_acc": _foot_acc, "phone": _phone,
    "posture": _posture, **{f"chain:{p.value}": _chain(p) for p in Placement},
}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_chunked_equals_batch_bit_for_bit(name: str) -> None:
    make, feed = STAGES[name]()
    n = _signals(Placement.LOWER_BACK)[0].shape[0]
    ref = _events_and_streams(make, feed, n, n)
    assert ref["events"] or ref["streams"], f"{name} produced nothing to compare"
    for size in BLOCK_SIZES:
        got = _events_and_streams(make, feed, n, size)
        assert got == ref, f"{name}: block size {size} differs from one batch"


def _events_and_streams(make: Callable[[], Any], feed: Callable[[Any, int, int], list], n: int,
                        size: int) -> dict[str, Any]:
    """Discrete outputs in order, and continuous outputs (arrays) concatenated."""
    st = make()
    events: list = []
    streams: dict[int, list[np.ndarray]] = {}
    for a in range(0, n, size):
        for x in feed(st, a, min(a + size, n)):
            _split(x, events, streams, [0])
    cat = {k: np.concatenate(v).tobytes() for k, v in streams.items() if v}
    by_type: dict[str, list] = {}  # one block may carry a calibration and contacts: order by kind
    for e in events:
        by_type.setdefault(e[0] if isinstance(e, tuple) else type(e).__name__, []).append(e)
    return {"events": by_type, "streams": cat}


def _split(x: Any, events: list, streams: dict[int, list[np.ndarray]], slot: list[int]) -> None:
    if isinstance(x, np.ndarray):
        streams.setdefault(slot[0], []).append(np.asarray(x, dtype=np.float64).reshape(-1))
        slot[0] += 1
        return
    if isinstance(x, list | tuple):
        base = slot[0]
        for v in x:
            _split(v, events, streams, slot)
        slot[0] = base + 100
        return
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        if all(isinstance(getattr(x, f.name), np.ndarray) for f in dataclasses.fields(x)):
            for f in dataclasses.fields(x):
                streams.setdefault(hash(f.name) % 997 + 1000, []).append(getattr(x, f.name).reshape(-1))
            return
        events.append(_flat(x))
        return
    if x is not None and not isinstance(x, bool):
        events.append(x)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_reset_restores_the_initial_state(name: str) -> None:
    make, feed = STAGES[name]()
    n = _signals(Placement.LOWER_BACK)[0].shape[0]
    fresh = _events_and_streams(make, feed, n, 500)
    st = make()
    for a in range(0, n // 2, 500):
        feed(st, a, a + 500)
    st.reset()
    events: list = []
    streams: dict[int, list[np.ndarray]] = {}
    for a in range(0, n, 500):
        for x in feed(st, a, min(a + 500, n)):
            _split(x, events, streams, [0])
    by_type: dict[str, list] = {}
    for e in events:
        by_type.setdefault(e[0] if isinstance(e, tuple) else type(e).__name__, []).append(e)
    assert {"events": by_type, "streams": {k: np.concatenate(v).tobytes() for k, v in streams.items() if v}} == fresh


SETTINGS = (CalibrationSettings, BackStepSettings, FootStepSettings, PhoneStepSettings, PostureSettings, DspSettings)
UNIT_SUFFIXES = ("_s", "_g", "_hz", "_dps", "_deg", "_gps", "_g_s")
UNIT_WORDS = ("(s)", "(g)", "(hz)", "(deg", "deg/s", "(g/s)", "dimensionless", "fraction", "sample periods")


def _field_docs(cls: type) -> dict[str, str]:
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            nxt = body[i + 1] if i + 1 < len(body) else None
            if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
                docs[node.target.id] = nxt.value.value
    return docs


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.__name__)
def test_every_setting_is_frozen_documented_and_carries_its_unit(cls: type) -> None:
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    docs = _field_docs(cls)
    for f in dataclasses.fields(cls):
        assert f.name in docs, f"{cls.__name__}.{f.name} has no docstring"
        if f.type in ("bool", bool) or "Settings" in str(f.type):
            continue
        doc = docs[f.name].lower()
        assert f.name.endswith(UNIT_SUFFIXES) or any(w in doc for w in UNIT_WORDS), \
            f"{cls.__name__}.{f.name}: no unit in its name or docstring"


def test_a_gap_restarts_detection_without_inventing_a_step() -> None:
    t, acc, gyr = _signals(Placement.LOWER_BACK)
    info = SensorInfo("r/lower_back", "r", Placement.LOWER_BACK, FS)
    whole = SensorChain(info)
    ref = [c for a in range(0, len(t), 100)
           for c in whole.update(SampleBlock(info.sensor_id, t[a:a + 100], acc[a:a + 100], gyr[a:a + 100])).contacts]
    # Cut 0.5 s out of the middle of the run: no contact may span the hole.
    hole = (t >= 15.0) & (t < 15.5)
    chain = SensorChain(info)
    got = []
    for a in range(0, len(t), 100):
        sl = slice(a, a + 100)
        keep = ~hole[sl]
        if keep.any():
            got += chain.update(SampleBlock(info.sensor_id, t[sl][keep], acc[sl][keep], gyr[sl][keep])).contacts
        if hole[sl].any() and not hole[min(a + 100, len(t) - 1)]:
            got += chain.update(Gap(info.sensor_id, 15.0, 15.5, "test")).contacts
    for c in got:
        assert not (14.95 < c.ic_s < 15.55), f"contact at {c.ic_s:.3f} s touches the hole"
        assert c.next_ic_s is None or not (c.ic_s < 15.0 < c.next_ic_s), "a step spans the gap"
    ref_ic = np.array([c.ic_s for c in ref if not (14.4 < c.ic_s < 16.2)])
    got_ic = np.array([c.ic_s for c in got if not (14.4 < c.ic_s < 16.2)])
    assert np.array_equal(ref_ic[ref_ic > 16.2][:10], got_ic[got_ic > 16.2][:10])


def test_non_finite_samples_are_dropped_and_counted_not_propagated() -> None:
    t, acc, gyr = _signals(Placement.LOWER_BACK)
    acc = acc.copy()
    acc[3000, 1] = np.nan
    acc[3500:3510, 2] = np.inf
    info = SensorInfo("r/lower_back", "r", Placement.LOWER_BACK, FS)
    chain = SensorChain(info)
    blocks = [SampleBlock(info.sensor_id, t[a:a + 200], acc[a:a + 200], gyr[a:a + 200]) for a in range(0, len(t), 200)]
    contacts = [c for b in blocks for c in chain.update(b).contacts]
    assert chain.nonfinite_samples == 11 and chain.health().rejected >= 11
    huge = SensorChain(info)  # finite values whose squares overflow are kept, not dropped
    huge.update(SampleBlock(info.sensor_id, t[:8], np.full((8, 3), 1e200), gyr[:8]))
    assert huge.nonfinite_samples == 0
    late = [c for c in contacts if c.ic_s > 19.0]
    assert late and all(math.isfinite(c.ic_s) and c.impact_g is not None and math.isfinite(c.impact_g) for c in late)
